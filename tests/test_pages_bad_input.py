"""Every page, asked with the values people mistype or old links carry, answers without a 500.

Each page is opened with each query value it reads set to each odd value in turn, and the pages that
take forms are posted the same values. What the answer says is checked by the tests of each page;
this one holds the floor: never a server error.
"""

from urllib.parse import urlsplit

import pytest

from clients.services import CLIENT_DETAIL_FIELDS
from tests.booking_world import build_world, local
from treatments.booking import BookingRequest, appointment_book
from treatments.links import feedback_url, manage_token

pytestmark = pytest.mark.django_db

ODD_VALUES = [
    "",
    "x",
    "-1",
    "0",
    "99999999999999999999999",
    "9999-12-31",
    "9999-12-31T23:59",
    "0001-01-01T00:00",
    "2026-02-30",
    "2026-03-29T01:30",  # inside London's spring-forward gap
    "25:99",
    "\x00",
    "%",
    "a" * 3000,
]
QUERY_NAMES = [
    "date",
    "view",
    "by",
    "practitioner",
    "service",
    "client",
    "start",
    "show",
    "q",
    "status",
    "next",
    "with",
    "day",
    "format",
]
FORM_NAMES = [
    *QUERY_NAMES,
    "action",
    "sessions",
    "repeat",
    "reason",
    "override_reason",
    *CLIENT_DETAIL_FIELDS,  # the client forms' fields (new client, edit details)
    "new-first_name",
    "new-last_name",
    "new-email",
    "new-phone",
    "new-date_of_birth",
    "down-what",
    "down-start",
    "down-end",
    "down-reason",
    "client_change_emails",
    "appointment",
    "reschedule-start",
    "reschedule-practitioner",
    "reschedule-reason",
    "end",
    "to",
    "minutes",
    "visit",
    "note",
    "notes-notes",
    "rating",
    "comment",
    "username",
    "display_name",
    "role",
    "password1",
    "password2",
    "old_password",
    "new_password1",
    "new_password2",
    "amount",
    "method",
    "reference",
    "waive",
    "email_receipt",
    "volume_ml",
    "counted_ml",
    "bought_by",
    "for_whom",
    "email",
    "expires_on",
    "price-price",
    "price-reason",
    "cash_counted",
    "card_counted",
]


@pytest.fixture
def world(db):
    world = build_world(slug="lumen")
    world.microcurrent.bookable_online = True
    world.microcurrent.save(update_fields=["bookable_online"])
    return world


@pytest.fixture
def visit(world):
    return appointment_book(
        BookingRequest(
            client=world.client(first_name="Olivia", email="olivia@example.com"),
            service=world.microcurrent,
            practitioner=world.dr_lee,
            start=local(world, 2026, 12, 7, 10),
        )
    )


def _staff_pages(world, visit):
    return [
        "/",
        "/calendar/",
        "/book/",
        "/book/course/",
        "/clients/",
        f"/clients/{visit.client_id}/",
        f"/clients/{visit.client_id}/edit/",
        f"/appointments/{visit.pk}/",
        "/manage/emails/",
        "/manage/emails/booking_reminder/",
        "/manage/outbox/",
        "/manage/report/",
        "/time-off/",
        "/waitlist/",
        "/clients/duplicates/",
        f"/clients/{visit.client_id}/same-as/{_other_record(world, visit)}/",
        "/my-calendar/",
        "/day/running-late/",
        "/manage/staff/",
        "/accounts/password/",
        "/takings/",
        "/records/stock/",
        "/vouchers/",
    ]


def _other_record(world, visit) -> int:
    """Another record of the visit's client (the same email), to compare and merge."""
    return world.client(first_name="Olivia", email=visit.client.email).pk


def _a_payment(world, visit) -> int:
    from treatments.payments import payment_take

    return payment_take(visit, amount="10", method="card", by=world.desk).pk


def _a_lot(world) -> int:
    import datetime as dt
    from decimal import Decimal

    from treatments.models import Product, ProductLot

    product, _ = Product.objects.get_or_create(clinic=world.clinic, name="HA cocktail")
    lot, _ = ProductLot.objects.get_or_create(
        product=product,
        lot_number="A-1",
        defaults={"expiry_date": dt.date(2027, 6, 30), "received_ml": Decimal("10")},
    )
    return lot.pk


def _public_pages(world, visit):
    service = world.microcurrent.pk
    return [
        "/p/lumen/",
        f"/p/lumen/book/{service}/",
        f"/p/lumen/book/{service}/details/",
        f"/p/manage/{manage_token(visit)}/",
        f"/p/manage/{manage_token(visit)}/visit.ics",
        urlsplit(feedback_url(visit)).path,
        "/feeds/not-a-link/visits.ics",
    ]


def _assert_no_server_error(response, method, path, data):
    shown = {name: value[:20] for name, value in data.items()}
    assert response.status_code < 500, (method, path, shown)


def test_staff_pages_take_odd_query_values(client, world, visit):
    client.force_login(world.manager.user)  # a manager opens every staff page
    for path in _staff_pages(world, visit):
        for value in ODD_VALUES:
            everything = dict.fromkeys(QUERY_NAMES, value)
            _assert_no_server_error(client.get(path, everything), "GET", path, everything)
            for name in QUERY_NAMES:
                _assert_no_server_error(client.get(path, {name: value}), "GET", path, {name: value})


def test_public_pages_take_odd_query_values(client, world, visit):
    for path in _public_pages(world, visit):
        for value in ODD_VALUES:
            for query in (dict.fromkeys(QUERY_NAMES, value), *({name: value} for name in QUERY_NAMES)):
                _assert_no_server_error(client.get(path, query), "GET", path, query)


def test_forms_take_odd_values(client, world, visit):
    client.force_login(world.manager.user)
    posted = [
        "/book/",
        "/book/course/",
        f"/appointments/{visit.pk}/reschedule/",
        f"/appointments/{visit.pk}/cancel/",
        f"/appointments/{visit.pk}/check-in/",
        f"/appointments/{visit.pk}/notes/",
        f"/appointments/{visit.pk}/price/",
        "/day/running-late/",
        "/manage/staff/",
        f"/manage/staff/{world.desk.pk}/password/",
        f"/manage/staff/{world.desk.pk}/unpause/",
        "/accounts/password/",
        f"/courses/{visit.pk}/cancel/",
        f"/courses/{visit.pk}/pay/",
        "/manage/emails/booking_reminder/",
        f"/clients/{visit.client_id}/edit/",
        "/time-off/",
        f"/time-off/{visit.pk}/remove/",
        f"/time-off/{visit.pk}/hand-over/",
        "/time-off/out-of-service/",
        f"/time-off/out-of-service/{visit.pk}/remove/",
        f"/time-off/closures/{visit.pk}/remove/",
        "/time-off/extra-hours/",
        "/waitlist/",
        "/my-calendar/",
        f"/clients/{visit.client_id}/same-as/{_other_record(world, visit)}/",
        f"/appointments/{visit.pk}/payments/",
        "/vouchers/",
        "/takings/",
        f"/payments/{_a_payment(world, visit)}/refund/",
        f"/records/stock/lots/{_a_lot(world)}/write-off/",
        f"/records/stock/lots/{_a_lot(world)}/count/",
        *_public_pages(world, visit),
    ]
    for path in posted:
        for value in ODD_VALUES:
            for action in ("plan", "check", "book", "confirm", "cancel", "move", "note", "check_in", value):
                form = {**dict.fromkeys(FORM_NAMES, value), "action": action}
                _assert_no_server_error(client.post(path, form), "POST", path, form)
