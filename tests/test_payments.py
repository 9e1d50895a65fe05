"""Money at the desk: a payment toward a visit's price, never more than it owes; a manager's refund of
one payment, saying why; neither ever changed; a receipt through a real SMTP server; the day's takings
by method in the clinic's day; the visit's page, the takings page and the API; and ten people taking
the rest of one visit at once take it once."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
import time_machine
from django.db import DatabaseError, IntegrityError, transaction
from django.test import Client as BrowserClient
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from clinic.errors import ClinicError, NotAllowedError
from clinic.models import OutboxMessage
from clinic.tasks import deliver_due_messages_task
from tests.booking_world import build_world, local
from tests.factories import StaffMemberFactory
from tests.live_api import post_at_once
from treatments.booking import BookingRequest, appointment_book, appointment_set_status
from treatments.models import AppointmentStatus, Payment
from treatments.payments import (
    RECEIPT,
    amount_given,
    payment_refund,
    payment_take,
    takings_of_day,
    visit_money,
)

TODAY = dt.date(2026, 12, 1)


@pytest.fixture
def world(db):
    return build_world()


def visit(world, hour=10, price=None, **client):
    booked = appointment_book(
        BookingRequest(
            client=world.client(**client),
            service=world.microcurrent,
            practitioner=world.dr_lee,
            start=local(world, 2026, 12, 1, hour),
        )
    )
    if price is not None:
        type(booked).objects.filter(pk=booked.pk).update(price=price)
        booked.refresh_from_db()
    return booked


@pytest.mark.parametrize(
    ("typed", "amount"),
    [("45", "45.00"), ("45.5", "45.50"), ("£1,250.00", "1250.00"), (" 60 ", "60.00"), ("$85.5", "85.50")],
)
def test_amounts_are_read_as_people_type_them(typed, amount):
    assert amount_given(typed) == Decimal(amount)


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("abc", "amount_unreadable"),
        ("", "amount_unreadable"),
        (None, "amount_unreadable"),
        ("12.345", "amount_unreadable"),
        ("NaN", "amount_unreadable"),
        ("Infinity", "amount_unreadable"),
        ("0", "amount_not_positive"),
        ("-5", "amount_not_positive"),
        ("1000000", "amount_too_large"),
    ],
)
def test_an_amount_that_is_not_one_is_refused_in_words(typed, code):
    with pytest.raises(ClinicError) as refused:
        amount_given(typed)
    assert refused.value.code == code


@pytest.mark.django_db
def test_a_visit_is_paid_in_parts_and_never_past_its_price(world):
    booked = visit(world)  # £100 as booked
    deposit = payment_take(booked, amount="30", method="card", reference="004512", by=world.desk)
    assert (deposit.amount, deposit.taken_by, deposit.clinic) == (Decimal("30.00"), world.desk, world.clinic)
    with pytest.raises(ClinicError) as too_much:
        payment_take(booked, amount="80", method="cash", by=world.desk)
    assert too_much.value.code == "more_than_owed"
    assert too_much.value.message == (
        "This visit owes £70: £80 is more than that. Take at most what it owes."
    )
    payment_take(booked, amount="70", method="cash", by=world.desk)
    money = visit_money(booked)
    assert (money.price, money.paid, money.owed) == (Decimal("100"), Decimal("100.00"), Decimal("0"))
    with pytest.raises(ClinicError, match=r"Nothing is owed for this visit: its price, £100, is paid\."):
        payment_take(booked, amount="1", method="cash", by=world.desk)
    with pytest.raises(ClinicError, match="Choose how it was paid"):
        payment_take(visit(world, hour=12), amount="1", method="cheque", by=world.desk)
    other_clinic = StaffMemberFactory(role="front_desk")
    with pytest.raises(ClinicError, match="another clinic's"):
        payment_take(visit(world, hour=14), amount="1", method="cash", by=other_clinic)
    assert Payment.objects.count() == 2


@pytest.mark.django_db
def test_a_manager_gives_back_part_of_a_payment_saying_why(world):
    booked = visit(world)
    paid = payment_take(booked, amount="100", method="card", by=world.desk)
    with pytest.raises(NotAllowedError, match="Only a manager of the clinic can give a refund"):
        payment_refund(paid, amount="20", reason="Shorter session", waive=True, by=world.desk)
    with pytest.raises(ClinicError, match="Say why"):
        payment_refund(paid, amount="20", reason="  ", waive=True, by=world.manager)
    # goodwill: the client does not pay it again, the visit is settled at £80
    refund = payment_refund(paid, amount="20", reason="Shorter session", waive=True, by=world.manager)
    assert (refund.refund_of, refund.method, refund.amount, refund.waived) == (
        paid,
        "card",
        Decimal("20.00"),
        True,
    )
    with pytest.raises(ClinicError) as too_much:
        payment_refund(paid, amount="90", reason="Complaint", waive=True, by=world.manager)
    assert too_much.value.message == "At most £80 of this payment can be given back (£20 was already)."
    with pytest.raises(ClinicError, match="is a refund already"):
        payment_refund(refund, amount="1", reason="Again", waive=True, by=world.manager)
    money = visit_money(booked)
    assert (money.waived, money.paid, money.owed) == (Decimal("20.00"), Decimal("80.00"), Decimal("0"))
    assert [p.refundable for p in money.payments] == [Decimal("80.00"), Decimal("0")]
    with pytest.raises(ClinicError, match=r"its price, £100, is paid \(£20 of it let go\)\."):
        payment_take(booked, amount="1", method="cash", by=world.desk)
    # taken the wrong way: given back, and owed again, to be taken in cash
    payment_refund(paid, amount="80", reason="Paid cash, rung up as card", waive=False, by=world.manager)
    with pytest.raises(ClinicError, match="given back in full already"):
        payment_refund(paid, amount="1", reason="Again", waive=True, by=world.manager)
    assert visit_money(booked).owed == Decimal("80.00")
    with pytest.raises(ClinicError, match="This visit owes £80"):
        payment_take(booked, amount="100", method="cash", by=world.desk)
    payment_take(booked, amount="80", method="cash", by=world.desk)
    assert visit_money(booked).owed == 0


@pytest.mark.django_db(transaction=True)
def test_the_database_keeps_payments_as_they_were_taken():
    world = build_world()
    paid = payment_take(visit(world), amount="50", method="card", by=world.desk)
    with (
        pytest.raises(DatabaseError, match="a payment can never be changed: refund it"),
        transaction.atomic(),
    ):
        Payment.objects.filter(pk=paid.pk).update(amount=Decimal("5"))
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.create(
            clinic=world.clinic, appointment=paid.appointment, amount=0, method="cash", taken_by=world.desk
        )
    with pytest.raises(IntegrityError), transaction.atomic():  # a refund says why
        Payment.objects.create(
            clinic=world.clinic,
            appointment=paid.appointment,
            amount=5,
            method="cash",
            refund_of=paid,
            taken_by=world.manager,
        )
    assert Payment.objects.get().amount == Decimal("50.00")


@pytest.mark.django_db
def test_a_receipt_reaches_the_client_once_through_smtp(world, smtp_settings, smtp_server):
    booked = visit(world, first_name="Ann", last_name="Hale", email="ann@example.com")
    paid = payment_take(
        booked, amount="40", method="card", reference="004512", email_receipt=True, by=world.desk
    )
    payment_refund(
        paid, amount="15", reason="the serum was not used", waive=True, email_receipt=True, by=world.manager
    )
    receipts = OutboxMessage.objects.filter(template_key=RECEIPT).order_by("id")
    assert [m.topic for m in receipts] == [f"appointment:{booked.pk}"] * 2
    assert all(m.is_essential for m in receipts)
    assert deliver_due_messages_task() == 3  # the booking's confirmation, and the two receipts
    assert deliver_due_messages_task() == 0
    first, second = [m for m in smtp_server.messages if "booking" not in m["Subject"].lower()][-2:]
    assert first["To"] == "Ann Hale <ann@example.com>"
    assert first["Subject"] == "Your receipt from Lumen Skin Clinic: £40"
    body = first.get_body(preferencelist=("plain",)).get_content()
    assert (
        "we received £40 by card for your Microcurrent workout visit of Tuesday 1 December 2026 at 10:00"
        in body
    )
    assert f"Receipt {world.clinic.pk}-{paid.pk}, 01/12/2026 07:00, reference 004512" in body
    assert "Still to pay for this visit: £60" in body
    assert second["Subject"] == "Refund of £15 from Lumen Skin Clinic"
    refund_body = second.get_body(preferencelist=("plain",)).get_content()
    assert "We have given you back £15 for your Microcurrent workout visit" in refund_body
    assert "by card: the serum was not used." in refund_body
    assert "Still to pay for this visit: £60" in refund_body  # £100, £15 let go, £25 paid


@pytest.mark.django_db
def test_no_receipt_without_an_address_and_nothing_taken(world):
    booked = visit(world, email="")
    with pytest.raises(ClinicError, match="has no email address for a receipt"):
        payment_take(booked, amount="40", method="card", email_receipt=True, by=world.desk)
    assert not Payment.objects.exists() and not OutboxMessage.objects.filter(template_key=RECEIPT).exists()


@pytest.mark.django_db
def test_the_days_takings_add_up_by_method_in_the_clinics_day(world, django_assert_num_queries):
    had = visit(world, hour=9)
    appointment_set_status(had, status=AppointmentStatus.ARRIVED)
    paid = payment_take(had, amount="60", method="card", by=world.desk)
    payment_refund(paid, amount="10", reason="Goodwill", waive=True, by=world.manager)
    full = visit(world, hour=11)
    appointment_set_status(full, status=AppointmentStatus.ARRIVED)
    payment_take(full, amount="100", method="cash", by=world.manager)
    visit(world, hour=13)  # booked, not had yet: not "still owing" today
    # a payment of 23:30 the evening before (London) is that day's, not this one's
    Payment.objects.create(
        clinic=world.clinic,
        appointment=full,
        amount=Decimal("5"),
        method="cash",
        taken_by=world.desk,
        taken_at=dt.datetime(2026, 11, 30, 23, 30, tzinfo=world.clinic.zone),
    )
    with django_assert_num_queries(2):
        day = takings_of_day(world.clinic, dt.date(2026, 12, 1))
    assert [(m.label, m.taken, m.given_back, m.net) for m in day.by_method] == [
        ("Card", Decimal("60.00"), Decimal("10.00"), Decimal("50.00")),
        ("Cash", Decimal("100.00"), Decimal("0.00"), Decimal("100.00")),
    ]
    assert day.net == Decimal("150.00")
    assert day.by_person == [("Jo Carter", Decimal("60.00")), ("Morgan Ellis", Decimal("90.00"))]
    # £100, £10 let go, £50 paid
    assert [(v.pk, v.paid, v.owed) for v in day.to_collect] == [(had.pk, Decimal("50.00"), Decimal("40.00"))]
    assert takings_of_day(world.clinic, dt.date(2026, 11, 30)).net == Decimal("5.00")


@pytest.mark.django_db
def test_takings_take_two_queries_however_many_payments(world, django_assert_num_queries):
    for hour in (9, 10, 11, 12, 13, 14, 15):
        payment_take(visit(world, hour=hour), amount="10", method="card", by=world.desk)
    with django_assert_num_queries(2):
        assert len(takings_of_day(world.clinic, dt.date(2026, 12, 1)).rows) == 7


@pytest.mark.django_db
def test_the_visit_page_takes_a_payment_and_a_manager_refunds_it(world, desk):
    booked = visit(world, first_name="Ann", last_name="Hale", email="ann@example.com")
    page_url = reverse("appointment-detail", args=[booked.pk])
    page = desk.get(page_url).content.decode()
    assert "still owed £100" in page and 'id="take-payment"' in page
    assert "Email Ann a receipt at ann@example.com" in page
    response = desk.post(
        reverse("payment-take", args=[booked.pk]),
        {"amount": "£150", "method": "card"},
        follow=True,
    )
    assert "This visit owes £100: £150 is more than that." in response.content.decode()
    response = desk.post(
        reverse("payment-take", args=[booked.pk]),
        {"amount": "100", "method": "card", "reference": "77", "email_receipt": "on"},
        follow=True,
    )
    page = response.content.decode()
    assert "Took £100 by card from Ann Hale. A receipt is on its way to ann@example.com." in page
    assert "Paid in full" in page and 'id="take-payment"' not in page
    assert "Give back" not in page  # a refund is a manager's
    [paid] = Payment.objects.all()
    assert (
        desk.post(reverse("payment-refund", args=[paid.pk]), {"amount": "10", "reason": "x"}).status_code
        == 302
    )
    assert Payment.objects.count() == 1
    refused = desk.post(
        reverse("payment-refund", args=[paid.pk]), {"amount": "10", "reason": "x"}, follow=True
    )
    assert "Only a manager of the clinic can give a refund." in refused.content.decode()

    manager = BrowserClient()
    manager.force_login(world.manager.user)
    assert "Give back" in manager.get(page_url).content.decode()
    unanswered = manager.post(
        reverse("payment-refund", args=[paid.pk]), {"amount": "25", "reason": "Shorter session"}, follow=True
    )
    assert "Say whether the client still owes what is given back." in unanswered.content.decode()
    response = manager.post(
        reverse("payment-refund", args=[paid.pk]),
        {"amount": "25", "reason": "Rung up too much", "waive": "no"},
        follow=True,
    )
    page = response.content.decode()
    assert "Gave back £25 to Ann Hale by card." in page
    assert "still owed £25" in page and "Refund by card, owed again: Rung up too much" in page
    response = manager.post(
        reverse("payment-refund", args=[paid.pk]),
        {"amount": "10", "reason": "Shorter session", "waive": "yes"},
        follow=True,
    )
    page = response.content.decode()
    assert "Price £100 · £10 let go · paid £65 ·" in page and "still owed £25" in page


@pytest.mark.django_db
def test_a_cancelled_visit_paid_for_says_so(world, desk):
    from treatments.booking import appointment_cancel

    booked = visit(world)
    payment_take(booked, amount="30", method="card", by=world.desk)
    appointment_cancel(booked, reason="Unwell")
    page = desk.get(reverse("appointment-detail", args=[booked.pk])).content.decode()
    assert "£30 was paid for this visit, which was cancelled: a manager gives it back" in page
    assert "paid £30 ·\n    kept as a fee" in page and "still owed" not in page
    booked.refresh_from_db()
    assert visit_money(booked).owed == 0 and visit_money(booked).chargeable == Decimal("70.00")


@pytest.mark.django_db
def test_a_missed_visit_owes_nothing_but_a_fee_can_be_charged(world, desk):
    booked = visit(world)
    appointment_set_status(booked, status=AppointmentStatus.NOSHOW, now=local(world, 2026, 12, 1, 10, 30))
    page = desk.get(reverse("appointment-detail", args=[booked.pk])).content.decode()
    assert "nothing owed: missed, unless the clinic charges a fee" in page and "still owed" not in page
    assert (
        "Charge a fee" in page
        and "A fee, if the clinic charges one, at most the visit's price (£100)." in page
    )
    assert 'name="amount" inputmode="decimal" value=""' in page  # no amount offered: the clinic set no fee
    world.clinic.missed_visit_fee = Decimal("25")
    world.clinic.save(update_fields=["missed_visit_fee"])
    page = desk.get(reverse("appointment-detail", args=[booked.pk])).content.decode()
    assert 'name="amount" inputmode="decimal" value="25.00"' in page
    assert "The clinic's fee for a visit missed or cancelled late is £25." in page
    response = desk.post(
        reverse("payment-take", args=[booked.pk]), {"amount": "25", "method": "card"}, follow=True
    )
    assert "Took £25 by card" in response.content.decode() and "kept as a fee" in response.content.decode()
    assert 'id="take-payment"' in response.content.decode()  # more can be taken, but no fee is offered
    assert 'name="amount" inputmode="decimal" value=""' in response.content.decode()


@pytest.mark.django_db
def test_the_fee_is_offered_for_a_late_cancellation_only_and_said_in_the_emails(world):
    from clinic.outbox import render_outbox_message
    from treatments.booking import appointment_cancel
    from treatments.payments import fee_offered

    world.clinic.missed_visit_fee = Decimal("40")
    world.clinic.save(update_fields=["missed_visit_fee"])
    late = visit(world, hour=10)  # within 24 hours of the suite's 07:00
    ahead = appointment_book(
        BookingRequest(
            client=world.client(),
            service=world.microcurrent,
            practitioner=world.dr_lee,
            start=local(world, 2026, 12, 9, 10),
        )
    )
    for cancelled in (late, ahead):
        appointment_cancel(cancelled, reason="Unwell")
        cancelled.refresh_from_db()
    assert fee_offered(late, visit_money(late)) == Decimal("40")
    assert fee_offered(ahead, visit_money(ahead)) is None  # cancelled in good time
    confirmation = OutboxMessage.objects.get(
        template_key="booking_confirmation", topic=f"appointment:{ahead.pk}"
    )
    assert confirmation.context["missed_visit_fee"] == "£40"
    body = render_outbox_message(confirmation).body
    assert "A visit missed, or cancelled less than 24 hours before, is charged £40." in body


@pytest.mark.django_db
def test_the_takings_page_and_its_csv(world, desk):
    had = visit(world, first_name="=HYPERLINK(1)", last_name="Hale")
    appointment_set_status(had, status=AppointmentStatus.ARRIVED)
    payment_take(had, amount="40", method="card", reference="+123", by=world.desk)
    page = desk.get(reverse("takings") + "?day=2026-12-01").content.decode()
    assert "Takings, Tuesday 1 December 2026" in page
    assert "Visits of the day still owing" in page and "£60" in page
    bad_day = desk.get(reverse("takings") + "?day=yesterday").content.decode()
    assert 'role="alert"' in bad_day
    response = desk.get(reverse("takings") + "?day=2026-12-01&format=csv")
    assert response["Content-Disposition"] == 'attachment; filename="takings-2026-12-01.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:4] == ["time", "kind", "method", "amount"]
    assert rows[1][:5] == ["2026-12-01T07:00:00+00:00", "payment", "card", "40.00", "GBP"]
    assert rows[1][5].startswith("'=HYPERLINK") and rows[1][7] == "'+123"


@pytest.mark.django_db
def test_the_api_reads_takes_and_refunds(world):
    booked = visit(world)
    desk_api, manager_api = APIClient(), APIClient()
    desk_api.force_authenticate(world.desk.user)
    manager_api.force_authenticate(world.manager.user)
    url = f"/api/v1/appointments/{booked.pk}/payments/"
    assert desk_api.get(url).json() == {
        "price": "100.00",
        "waived": "0.00",
        "paid": "0.00",
        "owed": "100.00",
        "chargeable": "100.00",
        "payments": [],
    }
    refused = desk_api.post(url, {"amount": "120", "method": "card"}, format="json")
    assert refused.status_code == 400 and refused.json()["code"] == "more_than_owed"
    assert desk_api.post(url, {"amount": "10", "method": "bitcoin"}, format="json").status_code == 400
    taken = desk_api.post(url, {"amount": "100", "method": "cash"}, format="json")
    assert taken.status_code == 201
    assert {k: taken.json()[k] for k in ("kind", "amount", "method", "taken_by")} == {
        "kind": "payment",
        "amount": "100.00",
        "method": "cash",
        "taken_by": "Jo Carter",
    }
    refund_url = f"/api/v1/payments/{taken.json()['id']}/refund/"
    assert desk_api.post(refund_url, {"amount": "5", "reason": "x"}, format="json").status_code == 403
    assert (
        manager_api.post(refund_url, {"amount": "5", "reason": "Goodwill"}, format="json").status_code == 400
    )
    given = manager_api.post(refund_url, {"amount": "5", "reason": "Goodwill", "waive": True}, format="json")
    assert given.status_code == 201 and given.json()["kind"] == "refund" and given.json()["waived"] is True
    assert {k: desk_api.get(url).json()[k] for k in ("waived", "paid", "owed")} == {
        "waived": "5.00",
        "paid": "95.00",
        "owed": "0.00",
    }
    other = APIClient()
    other.force_authenticate(StaffMemberFactory(role="manager").user)
    assert other.get(url).status_code == 404
    assert other.post(refund_url, {"amount": "1", "reason": "x"}, format="json").status_code == 404


@pytest.fixture
def live_world(transactional_db):
    return build_world()


def test_ten_people_taking_the_rest_of_one_visit_at_once_take_it_once(live_server, live_world):
    booked = visit(live_world)
    token = Token.objects.create(user=live_world.desk.user).key
    results = post_at_once(
        live_server,
        token,
        f"/api/v1/appointments/{booked.pk}/payments/",
        [{"amount": "100", "method": "card"}] * 10,
    )
    statuses = sorted(status for status, _ in results)
    assert statuses == [201] + [400] * 9, results
    assert {body["code"] for status, body in results if status == 400} == {"nothing_owed"}
    assert Payment.objects.get().amount == Decimal("100.00")


@pytest.mark.django_db
def test_the_days_list_marks_a_visit_had_and_not_paid(world, desk):
    had, paid_for, ahead = visit(world, hour=9), visit(world, hour=11), visit(world, hour=13)
    for visit_had in (had, paid_for):
        appointment_set_status(visit_had, status=AppointmentStatus.ARRIVED)
    payment_take(had, amount="40", method="card", by=world.desk)
    payment_take(paid_for, amount="100", method="card", by=world.desk)
    payment_take(ahead, amount="20", method="card", by=world.desk)  # a deposit: nothing to ask yet
    page = desk.get(reverse("home") + "?date=2026-12-01").content.decode()
    assert page.count('class="badge warn owes"') == 1
    assert f'href="/appointments/{had.pk}/#payments" title="Price £100, paid £40">To pay £60</a>' in page


@pytest.mark.django_db
def test_the_report_adds_up_the_money_taken_in_its_days(world):
    from treatments.report import clinic_report

    paid = payment_take(visit(world, hour=9), amount="100", method="card", by=world.desk)
    payment_refund(paid, amount="30", reason="Goodwill", waive=True, by=world.manager)
    payment_take(visit(world, hour=11), amount="25", method="cash", by=world.desk)
    report = clinic_report(world.clinic, first_day=dt.date(2026, 11, 25), last_day=dt.date(2026, 12, 1))
    assert [(m.label, m.taken, m.given_back) for m in report.money_taken] == [
        ("Card", Decimal("100.00"), Decimal("30.00")),
        ("Cash", Decimal("25.00"), Decimal("0.00")),
    ]
    assert report.money_taken_net == Decimal("95.00")
    before = clinic_report(world.clinic, first_day=dt.date(2026, 11, 1), last_day=dt.date(2026, 11, 30))
    assert before.money_taken == [] and before.money_taken_net == 0
    manager = BrowserClient()
    manager.force_login(world.manager.user)
    page = manager.get(reverse("report") + "?start=2026-11-25&end=2026-12-01").content.decode()
    assert '<td id="money-taken-net">£95</td>' in page


@pytest.mark.django_db
def test_the_clients_page_marks_a_past_visit_still_to_pay(world, desk):
    had = visit(world, hour=9, first_name="Ann")
    appointment_set_status(had, status=AppointmentStatus.ARRIVED)
    payment_take(had, amount="70", method="cash", by=world.desk)
    with time_machine.travel(local(world, 2026, 12, 1, 12)):  # the visit is past
        page = desk.get(reverse("client-detail", args=[had.client_id])).content.decode()
    assert (
        "<strong>£30</strong> for " in page
        and f'href="/appointments/{had.pk}/#payments">Microcurrent workout, 1 Dec 2026 (£30)</a>' in page
    )
    assert f'href="/appointments/{had.pk}/#payments" title="Price £100, paid £70">To pay £30</a>' in page
    payment_take(had, amount="30", method="cash", by=world.desk)
    with time_machine.travel(local(world, 2026, 12, 1, 12)):
        assert "To pay" not in desk.get(reverse("client-detail", args=[had.client_id])).content.decode()


@pytest.mark.django_db
def test_a_visits_price_changes_with_a_reason_and_never_below_what_was_paid(world, desk):
    from treatments.booking import appointment_price_change

    booked = visit(world)
    payment_take(booked, amount="30", method="card", by=world.desk)
    with pytest.raises(ClinicError, match="Say why the price changes"):
        appointment_price_change(booked, price="80", reason=" ")
    with pytest.raises(ClinicError, match="£100 is its price already"):
        appointment_price_change(booked, price="100.00", reason="Offer")
    with pytest.raises(ClinicError) as below:
        appointment_price_change(booked, price="20", reason="Offer")
    assert below.value.code == "price_below_paid"
    assert below.value.message == (
        "£30 of this visit was paid or let go already: its price cannot go below that. Give money back first."
    )
    response = desk.post(
        reverse("appointment-action", args=[booked.pk, "price"]),
        {"price-price": "£79.50", "price-reason": "Winter offer"},
        follow=True,
    )
    page = response.content.decode()
    assert "price is £79.50 now." in page
    assert "still owed £49.50" in page
    assert "Price changed from £100 to £79.50</strong> by Jo Carter: Winter offer" in page
    booked.refresh_from_db()
    assert booked.price == Decimal("79.50")
    refused = desk.post(
        reverse("appointment-action", args=[booked.pk, "price"]),
        {"price-price": "x", "price-reason": "Offer"},
        follow=True,
    )
    assert "“x” is not an amount" in refused.content.decode()
    api = APIClient()
    api.force_authenticate(world.desk.user)
    free = api.post(
        f"/api/v1/appointments/{booked.pk}/price/", {"price": "0", "reason": "Free"}, format="json"
    )
    assert free.status_code == 400 and free.json()["code"] == "price_below_paid"
    changed = api.post(
        f"/api/v1/appointments/{booked.pk}/price/", {"price": "30", "reason": "Staff"}, format="json"
    )
    assert changed.status_code == 200 and changed.json()["price"] == "30.00"
    booked.refresh_from_db()
    assert visit_money(booked).owed == 0


@pytest.mark.django_db
def test_a_course_sold_at_a_package_price_shares_it_between_its_sessions(world):
    from treatments.booking import course_book

    course = course_book(
        client=world.client(),
        service=world.microcurrent,
        practitioner=world.dr_lee,
        starts=[local(world, 2026, 12, day, 10) for day in (2, 4, 7)],
        price_total="250",
        actor=world.desk.user,
    )
    sessions = list(course.appointments.order_by("start"))
    assert [s.price for s in sessions] == [Decimal("83.34"), Decimal("83.33"), Decimal("83.33")]
    event = sessions[0].events.get(action="price_changed")
    assert event.details == {
        "from": "100.00",
        "to": "83.34",
        "reason": "The course's price: £250 for 3 sessions",
    }
    with pytest.raises(ClinicError, match="is not an amount"):
        course_book(
            client=world.client(),
            service=world.microcurrent,
            practitioner=world.sam,
            starts=[local(world, 2026, 12, 3, 10)],
            price_total="lots",
        )
    api = APIClient()
    api.force_authenticate(world.desk.user)
    booked = api.post(
        "/api/v1/courses/",
        {
            "client": world.client().pk,
            "service": world.microcurrent.pk,
            "practitioner": world.sam.pk,
            "starts": [local(world, 2026, 12, day, 12).isoformat() for day in (2, 4)],
            "price_total": "150",
        },
        format="json",
    )
    assert booked.status_code == 201, booked.json()
    assert [a["price"] for a in booked.json()["appointments"]] == ["75.00", "75.00"]


@pytest.mark.django_db
def test_a_course_is_paid_up_front_in_one_go_with_one_receipt(world, desk, smtp_settings, smtp_server):
    from treatments.booking import appointment_cancel, course_book
    from treatments.payments import course_pay, course_to_pay

    course = course_book(
        client=world.client(first_name="Ann", last_name="Hale", email="ann@example.com"),
        service=world.microcurrent,
        practitioner=world.dr_lee,
        starts=[local(world, 2026, 12, day, 10) for day in (2, 4, 7, 9)],
        price_total="300",
    )
    first, second, third, fourth = course.appointments.order_by("start")
    payment_take(first, amount="25", method="cash", by=world.desk)  # a deposit on the first
    appointment_cancel(fourth, reason="Away")  # not paid for: cancelled
    assert [(v.pk, owed) for v, owed in course_to_pay(course)] == [
        (first.pk, Decimal("50.00")),
        (second.pk, Decimal("75.00")),
        (third.pk, Decimal("75.00")),
    ]
    page = desk.get(reverse("appointment-detail", args=[first.pk])).content.decode()
    assert "Take £200 for the course" in page
    response = desk.post(
        reverse("course-pay", args=[course.pk]),
        {"method": "card", "reference": "778", "email_receipt": "on", "appointment": first.pk},
        follow=True,
    )
    assert "Took £200 from Ann Hale for 3 sessions of the course." in response.content.decode()
    assert course_to_pay(course) == [] and 'id="course-pay"' not in response.content.decode()
    with pytest.raises(ClinicError, match="Every session of this course is paid"):
        course_pay(course, method="card", by=world.desk)
    assert Payment.objects.filter(method="card", reference="778").count() == 3
    deliver_due_messages_task()
    [receipt] = [m for m in smtp_server.messages if m["Subject"].startswith("Your receipt")]
    assert receipt["Subject"] == "Your receipt from Lumen Skin Clinic: £200"
    body = receipt.get_body(preferencelist=("plain",)).get_content()
    assert "we received £200 by card for your course of Microcurrent workout:" in body
    assert "- Wednesday 2 December 2026 at 10:00: £50" in body
    assert "- Monday 7 December 2026 at 10:00: £75" in body
    assert "Nothing more to pay for these sessions." in body


@pytest.mark.django_db
def test_a_course_paid_with_a_voucher_short_of_it_takes_nothing(world):
    from treatments.booking import course_book
    from treatments.payments import course_pay
    from treatments.vouchers import voucher_sell

    voucher = voucher_sell(
        clinic=world.clinic,
        amount="150",
        method="card",
        bought_by="Sarah",
        expires_on=dt.date(2027, 12, 1),
        by=world.desk,
    )
    course = course_book(
        client=world.client(),
        service=world.microcurrent,
        practitioner=world.dr_lee,
        starts=[local(world, 2026, 12, day, 10) for day in (2, 4)],
    )
    with pytest.raises(ClinicError) as short:
        course_pay(course, method="voucher", reference=voucher.code, by=world.desk)
    assert short.value.message == (
        f"The session of Fri 4 Dec 10:00: Gift voucher {voucher.code} has £50 left: take that from it, "
        "and the rest another way."
    )
    assert not Payment.objects.filter(appointment__course=course).exists()


@pytest.mark.django_db
def test_the_day_is_counted_beside_what_its_payments_say(world, desk):
    from treatments.models import DayClose
    from treatments.payments import day_close

    payment_take(visit(world, hour=9), amount="100", method="cash", by=world.desk)
    payment_take(visit(world, hour=11), amount="60", method="card", by=world.desk)
    with pytest.raises(ClinicError) as short:
        day_close(world.clinic, TODAY, cash_counted="90", card_counted="60", by=world.desk)
    assert short.value.code == "difference_unexplained"
    assert short.value.message == (
        "By the day's payments the cash is £10 short: count again, or say why in the note."
    )
    with pytest.raises(ClinicError, match="this one is ahead"):
        day_close(world.clinic, TODAY + dt.timedelta(days=1), cash_counted="0", by=world.desk)
    counted = day_close(world.clinic, TODAY, cash_counted="100", card_counted="60", by=world.desk)
    assert (counted.cash_expected, counted.card_expected, counted.cash_difference) == (
        Decimal("100.00"),
        Decimal("60.00"),
        Decimal("0.00"),
    )
    with pytest.raises(IntegrityError), transaction.atomic():  # a difference says why
        DayClose.objects.create(
            clinic=world.clinic,
            day=TODAY,
            cash_counted=1,
            cash_expected=2,
            card_expected=0,
            closed_by=world.desk,
        )
    # a payment after the count: the page asks for another
    payment_take(visit(world, hour=13), amount="20", method="cash", by=world.desk)
    page = desk.get(reverse("takings") + "?day=2026-12-01").content.decode()
    assert "£20 in cash and card was taken or given back after the last count: count again." in page
    response = desk.post(
        reverse("takings") + "?day=2026-12-01",
        {"cash_counted": "115", "card_counted": "", "note": "A £5 note fell behind the drawer"},
        follow=True,
    )
    page = response.content.decode()
    assert "is recorded, with your note: A £5 note fell behind the drawer" in page
    assert "cash £115 for £120 expected (−£5)" in page and "after the last count" not in page
    refused = desk.post(reverse("takings") + "?day=2026-12-01", {"cash_counted": "100"})
    assert refused.status_code == 400 and "the cash is £20 short" in refused.content.decode()
    assert DayClose.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_the_database_keeps_a_days_count_as_it_was_recorded():
    from treatments.models import DayClose
    from treatments.payments import day_close

    world = build_world()
    counted = day_close(world.clinic, TODAY, cash_counted="0", by=world.desk)
    with pytest.raises(DatabaseError, match="the count of a day can never be changed"), transaction.atomic():
        DayClose.objects.filter(pk=counted.pk).update(cash_counted=Decimal("5"))
