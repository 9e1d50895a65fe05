"""Gift vouchers: sold at the desk with a code nobody guesses (the money in the day's takings, the
voucher emailed through a real SMTP server), spent on visits as a way to pay, refused in words when
unknown, past its date or short, a refund of a visit's payment put back on it, a manager giving back
what is left of its sale; what is left never stored, always added up from its payments."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.test import Client as BrowserClient
from django.urls import reverse

from clinic.errors import ClinicError, NotAllowedError
from clinic.models import OutboxMessage
from clinic.tasks import deliver_due_messages_task
from tests.booking_world import build_world, local
from treatments.booking import BookingRequest, appointment_book
from treatments.models import GiftVoucher, Payment
from treatments.payments import payment_refund, payment_take, takings_of_day, visit_money
from treatments.report import clinic_report
from treatments.vouchers import VOUCHER_EMAIL, code_typed, left_on, voucher_sell, with_left

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 12, 1)


@pytest.fixture
def world(db):
    return build_world()


def visit(world, hour=10):
    return appointment_book(
        BookingRequest(
            client=world.client(first_name="Ann", last_name="Hale", email="ann@example.com"),
            service=world.microcurrent,
            practitioner=world.dr_lee,
            start=local(world, 2026, 12, 1, hour),
        )
    )


def sell(world, amount="150", **kwargs):
    return voucher_sell(
        clinic=world.clinic,
        amount=amount,
        method=kwargs.pop("method", "card"),
        bought_by=kwargs.pop("bought_by", "Sarah Smith"),
        expires_on=kwargs.pop("expires_on", dt.date(2027, 12, 1)),
        by=kwargs.pop("by", world.desk),
        **kwargs,
    )


@pytest.mark.parametrize(
    ("typed", "code"), [("abcd efgh", "ABCD-EFGH"), (" ABCD-EFGH ", "ABCD-EFGH"), ("ab", "AB")]
)
def test_a_code_is_read_however_it_is_typed(typed, code):
    assert code_typed(typed) == code


def test_a_voucher_is_sold_with_its_money_in_the_takings_and_emailed(world, smtp_settings, smtp_server):
    voucher = sell(world, for_whom="Olivia Smith", email="sarah@example.com", reference="004512")
    assert re.fullmatch(r"[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}", voucher.code)
    assert left_on(voucher) == Decimal("150.00")
    [sale] = Payment.objects.all()
    assert (sale.voucher_sold, sale.appointment, sale.method, sale.amount) == (
        voucher,
        None,
        "card",
        Decimal("150"),
    )
    day = takings_of_day(world.clinic, TODAY)
    assert [(m.label, m.net) for m in day.by_method] == [("Card", Decimal("150.00"))]
    assert day.vouchers_spent is None
    deliver_due_messages_task()
    [mail] = [m for m in smtp_server.messages if m["Subject"].startswith("A gift voucher")]
    assert mail["To"] == "Sarah Smith <sarah@example.com>"
    assert mail["Subject"] == "A gift voucher for £150 at Lumen Skin Clinic"
    body = mail.get_body(preferencelist=("plain",)).get_content()
    assert f"Gift voucher {voucher.code}" in body and "Good until 1 December 2027" in body
    assert "for Olivia Smith" in body
    assert OutboxMessage.objects.get(template_key=VOUCHER_EMAIL).dedupe_key == f"gift-voucher:{voucher.pk}"


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"bought_by": " "}, "Say who bought it"),
        ({"method": "voucher"}, "bought with money, not with another voucher"),
        ({"expires_on": TODAY}, "good until, after today"),
        ({"expires_on": None}, "good until, after today"),
        ({"expires_on": dt.date(2040, 1, 1)}, "at most five years"),
        ({"email": "sarah@"}, "is not an email address"),
        ({"amount": "0"}, "more than nothing"),
    ],
)
def test_a_sale_that_is_not_right_is_refused_in_words_and_writes_nothing(world, kwargs, words):
    with pytest.raises(ClinicError, match=words):
        sell(world, **kwargs)
    assert not GiftVoucher.objects.exists() and not Payment.objects.exists()


def test_a_voucher_pays_for_visits_until_it_is_spent(world):
    voucher = sell(world, amount="150")
    first, second = visit(world, 9), visit(world, 11)  # £100 each
    paid = payment_take(first, amount="100", method="voucher", reference=voucher.code.lower(), by=world.desk)
    assert (paid.voucher, paid.reference) == (voucher, voucher.code)
    assert left_on(voucher) == Decimal("50.00")
    with pytest.raises(ClinicError) as short:
        payment_take(second, amount="100", method="voucher", reference=voucher.code, by=world.desk)
    assert short.value.code == "voucher_short"
    assert short.value.message == (
        f"Gift voucher {voucher.code} has £50 left: take that from it, and the rest another way."
    )
    payment_take(second, amount="50", method="voucher", reference=voucher.code, by=world.desk)
    payment_take(second, amount="50", method="cash", by=world.desk)
    assert visit_money(second).owed == 0
    third = visit(world, 13)
    with pytest.raises(ClinicError, match=f"Nothing is left on gift voucher {voucher.code}"):
        payment_take(third, amount="10", method="voucher", reference=voucher.code, by=world.desk)
    with pytest.raises(ClinicError, match="No gift voucher of this clinic has the code ZZZZ-ZZZZ"):
        payment_take(third, amount="10", method="voucher", reference="zzzz zzzz", by=world.desk)
    with pytest.raises(ClinicError, match="Type the gift voucher's code"):
        payment_take(third, amount="10", method="voucher", by=world.desk)
    # the day's money is the sale, not what the voucher paid for
    day = takings_of_day(world.clinic, TODAY)
    assert [(m.label, m.net) for m in day.by_method] == [
        ("Card", Decimal("150.00")),
        ("Cash", Decimal("50.00")),
    ]
    assert (day.vouchers_spent.taken, day.net) == (Decimal("150.00"), Decimal("200.00"))
    assert day.by_person == [("Jo Carter", Decimal("200.00"))]
    report = clinic_report(world.clinic, first_day=TODAY, last_day=TODAY)
    assert report.money_taken_net == Decimal("200.00")


def test_an_expired_voucher_and_another_clinics_are_refused(world):
    voucher = sell(world)
    GiftVoucher.objects.filter(pk=voucher.pk).update(expires_on=TODAY - dt.timedelta(days=1))
    with pytest.raises(ClinicError, match=f"Gift voucher {voucher.code} was good until 30 November 2026"):
        payment_take(visit(world), amount="10", method="voucher", reference=voucher.code, by=world.desk)
    other = build_world(slug="other")
    elsewhere = appointment_book(
        BookingRequest(
            client=other.client(),
            service=other.microcurrent,
            practitioner=other.dr_lee,
            start=local(other, 2026, 12, 1, 10),
        )
    )
    GiftVoucher.objects.filter(pk=voucher.pk).update(expires_on=dt.date(2027, 12, 1))
    with pytest.raises(ClinicError, match="No gift voucher of this clinic"):
        payment_take(elsewhere, amount="10", method="voucher", reference=voucher.code, by=other.desk)


def test_refunds_put_money_back_on_the_voucher_or_give_back_its_sale(world):
    voucher = sell(world, amount="150")
    spent = payment_take(visit(world), amount="100", method="voucher", reference=voucher.code, by=world.desk)
    back = payment_refund(spent, amount="30", reason="Shorter session", waive=True, by=world.manager)
    assert (back.voucher, back.method) == (voucher, "voucher")
    assert left_on(voucher) == Decimal("80.00")
    [sale] = Payment.objects.filter(voucher_sold=voucher, refund_of=None)
    with pytest.raises(NotAllowedError):
        payment_refund(sale, amount="80", reason="Returned", waive=False, by=world.desk)
    with pytest.raises(
        ClinicError, match=f"Gift voucher {voucher.code} has £80 left: give back at most that"
    ):
        payment_refund(sale, amount="100", reason="Returned", waive=False, by=world.manager)
    given = payment_refund(sale, amount="80", reason="Returned unused part", waive=True, by=world.manager)
    assert (given.voucher_sold, given.method, given.waived, given.appointment) == (
        voucher,
        "card",
        False,
        None,
    )
    assert left_on(voucher) == Decimal("0.00")
    with pytest.raises(ClinicError, match="has been spent: nothing of its sale can be given back"):
        payment_refund(sale, amount="1", reason="Again", waive=False, by=world.manager)
    [listed] = with_left(GiftVoucher.objects.all())
    assert (listed.left, listed.used) == (Decimal("0.00"), True)


@pytest.mark.django_db(transaction=True)
def test_the_database_keeps_a_payment_for_one_thing_and_a_voucher_payment_naming_its_voucher():
    world = build_world()
    voucher = sell(world)
    booked = visit(world)
    common = {"clinic": world.clinic, "amount": Decimal("5"), "taken_by": world.desk}
    with pytest.raises(IntegrityError), transaction.atomic():  # for nothing
        Payment.objects.create(method="cash", **common)
    with pytest.raises(IntegrityError), transaction.atomic():  # for both
        Payment.objects.create(method="cash", appointment=booked, voucher_sold=voucher, **common)
    with pytest.raises(IntegrityError), transaction.atomic():  # by voucher, naming none
        Payment.objects.create(method="voucher", appointment=booked, **common)
    with pytest.raises(IntegrityError), transaction.atomic():  # a voucher named, paid in cash
        Payment.objects.create(method="cash", appointment=booked, voucher=voucher, **common)
    with pytest.raises(IntegrityError), transaction.atomic():
        GiftVoucher.objects.create(
            clinic=world.clinic,
            code=voucher.code,
            amount=10,
            bought_by="X",
            expires_on=TODAY,
            sold_by=world.desk,
        )


def test_the_vouchers_pages(world, desk):
    page = desk.get(reverse("vouchers")).content.decode()
    assert 'id="sell-voucher"' in page and "No vouchers sold yet." in page
    refused = desk.post(
        reverse("vouchers"),
        {"amount": "50", "method": "card", "bought_by": "", "expires_on": "2027-12-01"},
    )
    assert refused.status_code == 400 and "Say who bought it" in refused.content.decode()
    assert 'value="50"' in refused.content.decode()  # what was typed stays
    bad_day = desk.post(
        reverse("vouchers"), {"amount": "50", "method": "card", "bought_by": "Sarah", "expires_on": "soon"}
    )
    assert bad_day.status_code == 400 and "good until, after today" in bad_day.content.decode()
    response = desk.post(
        reverse("vouchers"),
        {
            "amount": "50",
            "method": "cash",
            "bought_by": "Sarah Smith",
            "for_whom": "Olivia",
            "expires_on": "2027-12-01",
        },
        follow=True,
    )
    voucher = GiftVoucher.objects.get()
    page = response.content.decode()
    assert f"Sold gift voucher {voucher.code} for £50: give the code to Sarah Smith." in page
    assert '<dd id="voucher-left"><strong>£50</strong></dd>' in page
    assert 'id="voucher-refund"' not in page  # a manager's
    found = desk.get(reverse("vouchers") + "?q=" + voucher.code.replace("-", " ").lower()).content.decode()
    assert f">{voucher.code}</a>" in found
    assert "No voucher has that code or name." in desk.get(reverse("vouchers") + "?q=nobody").content.decode()
    booked = visit(world)
    response = desk.post(
        reverse("payment-take", args=[booked.pk]),
        {"amount": "30", "method": "voucher", "reference": voucher.code},
        follow=True,
    )
    assert "Took £30 by gift voucher from Ann Hale." in response.content.decode()
    detail = desk.get(reverse("voucher-detail", args=[voucher.pk])).content.decode()
    assert '<dd id="voucher-left"><strong>£20</strong></dd>' in detail and "Paid for" in detail
    manager = BrowserClient()
    manager.force_login(world.manager.user)
    assert 'id="voucher-refund"' in manager.get(reverse("voucher-detail", args=[voucher.pk])).content.decode()
    sale = Payment.objects.get(voucher_sold=voucher)
    response = manager.post(
        reverse("payment-refund", args=[sale.pk]),
        {"amount": "20", "reason": "Returned", "waive": "no"},
        follow=True,
    )
    assert "Gave back £20 to Sarah Smith by cash." in response.content.decode()
    takings = desk.get(reverse("takings") + "?day=2026-12-01").content.decode()
    assert f"Gift voucher {voucher.code} sold, cash" in takings
    assert "Also paid with gift vouchers: £30." in takings
    csv_text = desk.get(reverse("takings") + "?day=2026-12-01&format=csv").content.decode()
    assert "voucher sale payment,cash,50.00,GBP,Sarah Smith," in csv_text
    other = build_world(slug="other")
    outsider = BrowserClient()
    outsider.force_login(other.desk.user)
    assert outsider.get(reverse("voucher-detail", args=[voucher.pk])).status_code == 404


def test_the_api_takes_a_payment_from_a_voucher(world):
    from rest_framework.test import APIClient

    voucher = sell(world, amount="60")
    booked = visit(world)
    api = APIClient()
    api.force_authenticate(world.desk.user)
    url = f"/api/v1/appointments/{booked.pk}/payments/"
    unknown = api.post(url, {"amount": "60", "method": "voucher", "reference": "ABCD-EFGH"}, format="json")
    assert unknown.status_code == 400 and unknown.json()["code"] == "voucher_unknown"
    taken = api.post(url, {"amount": "60", "method": "voucher", "reference": voucher.code}, format="json")
    assert taken.status_code == 201 and taken.json()["method"] == "voucher"
    assert api.get(url).json()["owed"] == "40.00" and left_on(voucher) == 0


def test_a_nul_typed_or_sent_is_dropped_not_a_server_error(world, desk):
    voucher = sell(world, bought_by="Sarah\x00 Smith", for_whom="\x00", reference="12\x0034")
    assert (voucher.bought_by, voucher.for_whom) == ("Sarah Smith", "")
    assert Payment.objects.get().reference == "1234"
    assert desk.get(reverse("vouchers"), {"q": "Sarah\x00"}).status_code == 200


def test_the_api_finds_and_sells_vouchers(world):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(world.desk.user)
    sold = api.post(
        "/api/v1/vouchers/",
        {"amount": "75", "method": "cash", "bought_by": "Sarah Smith", "expires_on": "2027-12-01"},
        format="json",
    )
    assert sold.status_code == 201, sold.json()
    code = sold.json()["code"]
    assert {k: sold.json()[k] for k in ("amount", "left", "bought_by")} == {
        "amount": "75.00",
        "left": "75.00",
        "bought_by": "Sarah Smith",
    }
    by_voucher = api.post(
        "/api/v1/vouchers/",
        {"amount": "75", "method": "voucher", "bought_by": "X", "expires_on": "2027-12-01"},
        format="json",
    )
    assert by_voucher.status_code == 400
    refused = api.post(
        "/api/v1/vouchers/",
        {"amount": "75", "method": "cash", "bought_by": "X", "expires_on": "2026-11-01"},
        format="json",
    )
    assert refused.status_code == 400 and refused.json()["code"] == "expiry"
    found = api.get("/api/v1/vouchers/", {"code": code.replace("-", " ").lower()}).json()
    assert [v["code"] for v in found["results"]] == [code]
    assert api.get("/api/v1/vouchers/", {"code": "ZZZZ-ZZZZ"}).json()["results"] == []
    other = APIClient()
    other.force_authenticate(build_world(slug="other").desk.user)
    assert other.get(f"/api/v1/vouchers/{sold.json()['id']}/").status_code == 404


def test_erasing_a_client_takes_their_name_and_email_off_vouchers_and_keeps_the_money(world):
    from clients.erasure import client_erase
    from treatments.booking import appointment_cancel

    ann_visit = visit(world)  # Ann Hale, ann@example.com
    ann = ann_visit.client
    for_ann = sell(world, bought_by="Sarah Smith", for_whom="Ann Hale", email="ANN@example.com")
    annes_own = sell(world, amount="40", bought_by="Ann Hale")  # no email: known as hers by what it paid
    payment_take(ann_visit, amount="40", method="voucher", reference=annes_own.code, by=world.desk)
    namesake = sell(world, amount="60", bought_by="Ann Hale", email="another.ann@example.com")
    appointment_cancel(ann_visit, reason="Moving away")  # nothing ahead: the record can be erased
    client_erase(client=ann, by=world.manager)
    for_ann.refresh_from_db(), annes_own.refresh_from_db(), namesake.refresh_from_db()
    assert (for_ann.bought_by, for_ann.for_whom, for_ann.email) == ("Sarah Smith", "Erased client", "")
    assert (annes_own.bought_by, annes_own.for_whom) == ("Erased client", "")
    assert (namesake.bought_by, namesake.email) == ("Ann Hale", "another.ann@example.com")
    # the money stays to the penny
    assert (left_on(for_ann), left_on(annes_own), left_on(namesake)) == (
        Decimal("150.00"),
        Decimal("0.00"),
        Decimal("60.00"),
    )
