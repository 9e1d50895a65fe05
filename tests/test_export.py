"""A manager downloads the clinic's clients and visits as CSV files: every row, in the clinic's local
time with the offset, nothing of another clinic or of an erased record, a cell that begins like a
formula written so a spreadsheet does not run it, the same queries however many rows, and each
download noted in the manager's activity."""

import csv
import datetime as dt
import io

import pytest
from django.db import connection
from django.test import Client as BrowserClient
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clients.erasure import client_erase
from clinic.models import AccountAction, AccountEvent
from clinic.spreadsheets import cell
from tests.booking_world import build_world, local
from treatments.booking import BookingRequest, appointment_book, appointment_cancel
from treatments.models import Appointment
from treatments.payments import payment_take

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    return build_world(slug="lumen-export")


def signed_in(member):
    browser = BrowserClient()
    browser.force_login(member.user)
    return browser


def download(browser, name) -> list[list[str]]:
    response = browser.get(reverse("export-file", args=[name]))
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="lumen-export-{name}-2026-12-01.csv"'
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_a_manager_downloads_every_client_and_visit(world):
    olivia = world.client(
        first_name="Olivia",
        last_name="Smith",
        email="olivia@example.com",
        phone="07700 900123",
        date_of_birth=dt.date(1990, 5, 17),
    )
    sneaky = world.client(first_name='=HYPERLINK("http://x")', last_name="Jones", email="")
    gone = world.client(first_name="Ruth", last_name="Ellis")
    client_erase(client=gone, by=world.manager)
    elsewhere = build_world()
    elsewhere.client(first_name="Theirs")
    summer = appointment_book(  # British Summer Time: +01:00
        BookingRequest(
            client=olivia,
            service=world.microcurrent,
            practitioner=world.sam,
            start=local(world, 2027, 7, 5, 10),
        )
    )
    winter = appointment_book(
        BookingRequest(
            client=sneaky,
            service=world.microcurrent,
            practitioner=world.sam,
            start=local(world, 2026, 12, 7, 10),
        )
    )
    appointment_cancel(winter, reason="-1 day notice")

    manager = signed_in(world.manager)
    assert 'id="export-clients"' in manager.get(reverse("export")).content.decode()
    clients = download(manager, "clients")
    assert clients[0][:3] == ["Client id", "First name", "Last name"]
    assert [row[1:3] for row in clients[1:]] == [['\'=HYPERLINK("http://x")', "Jones"], ["Olivia", "Smith"]]
    assert clients[2][3:6] == ["olivia@example.com", "07700 900123", "1990-05-17"]
    assert clients[2][-1].startswith("2026-12-01T07:00") and clients[2][-1].endswith("+00:00")

    visits = download(manager, "visits")
    assert [row[0] for row in visits[1:]] == [str(winter.pk), str(summer.pk)]  # in time order
    assert visits[1][2:5] == ['\'=HYPERLINK("http://x") Jones', world.microcurrent.name, "Sam Rivera"]
    assert visits[1][8:11] == ["2026-12-07T10:00+00:00", "2026-12-07T10:45+00:00", "cancelled"]
    assert visits[2][8] == "2027-07-05T10:00+01:00" and visits[2][10] == "booked"
    assert visits[1][-1] == "'-1 day notice"
    assert visits[0][11:13] == ["Price (GBP)", "Paid (GBP)"]
    assert visits[1][11:13] == ["100.00", "0.00"]

    from treatments.payments import payment_refund, payment_take
    from treatments.vouchers import voucher_sell

    paid = payment_take(summer, amount="100", method="card", reference="+77", by=world.desk)
    payment_refund(paid, amount="20", reason="=goodwill", waive=True, by=world.manager)
    voucher = voucher_sell(
        clinic=world.clinic,
        amount="50",
        method="cash",
        bought_by="Sarah",
        expires_on=dt.date(2027, 12, 1),
        by=world.desk,
    )
    payments = download(manager, "payments")
    assert payments[0][:5] == ["Payment id", "Taken", "Kind", "Method", "Amount (GBP)"]
    assert [row[2:5] for row in payments[1:]] == [
        ["payment", "card", "100.00"],
        ["refund", "card", "-20.00"],  # a number, not text to guard
        ["voucher sale payment", "cash", "50.00"],
    ]
    assert payments[1][7:11] == [
        str(summer.pk),
        "Olivia Smith",
        world.microcurrent.name,
        "2027-07-05T10:00+01:00",
    ]
    assert payments[1][13] == "'+77" and payments[2][14] == "'=goodwill" and payments[2][6] == "yes"
    assert payments[3][8] == "Sarah" and payments[3][11] == voucher.code

    downloads = AccountEvent.objects.filter(user=world.manager.user, action__startswith="exported")
    assert list(downloads.order_by("at", "id").values_list("action", flat=True)) == [
        AccountAction.EXPORTED_CLIENTS,
        AccountAction.EXPORTED_VISITS,
        AccountAction.EXPORTED_PAYMENTS,
    ]


def test_a_manager_downloads_the_sessions_clients_had_before(world):
    from treatments.earlier_sessions import earlier_session_record

    olivia = world.client(first_name="Olivia", last_name="Smith", email="olivia@example.com")
    earlier_session_record(
        client=olivia,
        service=world.microneedling,
        given_on=dt.date(2026, 11, 20),
        given_by="=Glow Clinic",
        notes="0.5 mm",
        by=world.desk,
    )
    earlier_session_record(
        client=olivia, service=world.microcurrent, given_on=dt.date(2026, 10, 2), by=world.desk
    )
    other = build_world(slug="other-export")
    earlier_session_record(
        client=other.client(), service=other.microneedling, given_on=dt.date(2026, 11, 1), by=other.desk
    )
    rows = download(signed_in(world.manager), "had-before")
    assert rows[0] == ["Client id", "Client", "Service", "Day", "Where", "Given by", "Notes", "Noted"]
    assert [row[:7] for row in rows[1:]] == [
        [str(olivia.pk), "Olivia Smith", "Microcurrent workout", "2026-10-02", "Before coming here", "", ""],
        [
            str(olivia.pk),
            "Olivia Smith",
            "Microneedling facial",
            "2026-11-20",
            "Before coming here",
            "'=Glow Clinic",
            "0.5 mm",
        ],
    ]
    assert rows[1][7].startswith("2026-12-01T07:")  # noted today, the clinic's time with its offset
    assert AccountEvent.objects.filter(action=AccountAction.EXPORTED_EARLIER_SESSIONS).count() == 1


def test_the_downloads_are_for_managers(world):
    desk = signed_in(world.desk)
    assert desk.get(reverse("export")).status_code == 403
    assert desk.get(reverse("export-file", args=["clients"])).status_code == 403
    assert signed_in(world.manager).get(reverse("export-file", args=["photos"])).status_code == 404
    assert not AccountEvent.objects.filter(action__startswith="exported").exists()


def test_the_same_queries_for_few_and_many_rows(world):
    def queries(name):
        manager = signed_in(world.manager)
        with CaptureQueriesContext(connection) as read:
            download(manager, name)
        return len(read.captured_queries)

    appointment_book(
        BookingRequest(
            client=world.client(),
            service=world.microcurrent,
            practitioner=world.sam,
            start=local(world, 2026, 12, 7, 9),
        )
    )
    few = (queries("clients"), queries("visits"), queries("payments"), queries("had-before"))
    for hour in range(10, 16):
        appointment_book(
            BookingRequest(
                client=world.client(),
                service=world.microcurrent,
                practitioner=world.sam,
                start=local(world, 2026, 12, 7, hour),
            )
        )
    for visit in Appointment.objects.all():
        payment_take(visit, amount="10", method="card", by=world.desk)
    from treatments.earlier_sessions import earlier_session_record

    for day in range(1, 6):
        earlier_session_record(
            client=world.client(), service=world.microneedling, given_on=dt.date(2026, 11, day), by=world.desk
        )
    assert (queries("clients"), queries("visits"), queries("payments"), queries("had-before")) == few


def test_a_cell_that_begins_like_a_formula_is_shown_not_run():
    assert [cell(v) for v in ("=1+1", "+44 7700", "-x", "@SUM", "Olivia", 7, None)] == [
        "'=1+1",
        "'+44 7700",
        "'-x",
        "'@SUM",
        "Olivia",
        "7",
        "",
    ]
    # an amount given back is a number a spreadsheet adds up; the same words typed are guarded
    from decimal import Decimal

    assert (cell(Decimal("-20.00")), cell("-20.00")) == ("-20.00", "'-20.00")
