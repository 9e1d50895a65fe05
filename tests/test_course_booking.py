"""Booking a course from the front desk: the plan, the per-session check (a dry run), all or nothing."""

from decimal import Decimal

import pytest

from clients.models import Client
from clinic.models import OutboxMessage, TimeOff
from tests.booking_world import build_world, local
from treatments.booking import BookingRequest, appointment_book, course_check, course_plan
from treatments.models import Appointment, AppointmentEvent, Course

pytestmark = pytest.mark.django_db

FIRST = "2026-12-07T10:00"  # a Monday


@pytest.fixture
def world(db):
    world = build_world()
    protocol = world.microcurrent.protocols.get()
    protocol.course_sessions = 10
    protocol.course_sessions_per_week = Decimal("2.0")
    protocol.save()
    return world


def _stored():
    return (
        Appointment.objects.count(),
        Course.objects.count(),
        OutboxMessage.objects.count(),
        AppointmentEvent.objects.count(),
        Client.objects.count(),
    )


def _course_page(desk, world, client, **fields):
    data = {
        "practitioner": world.dr_lee.id,
        "start": FIRST,
        "service": world.microcurrent.id,
        "client": client.id if client else "",
        **fields,
    }
    return desk.post("/book/course/", data)


@pytest.mark.parametrize(
    ("per_week", "interval", "gaps"),
    [
        (Decimal("2.0"), None, [3, 4]),
        (Decimal("3.0"), None, [2, 2, 3]),
        (Decimal("1.0"), None, [7]),
        (Decimal("0.5"), None, [14]),
        (None, 35, [35]),
    ],
)
def test_the_course_plan_comes_from_the_protocol(world, per_week, interval, gaps):
    protocol = world.microcurrent.protocols.get()
    protocol.course_sessions_per_week = per_week
    protocol.course_interval_days = interval
    protocol.save()
    assert course_plan(world.microcurrent) == (10, gaps)


def test_a_service_without_a_course_plan_has_no_defaults(world):
    assert course_plan(world.mesotherapy) == (None, None)


def test_the_check_names_each_session_that_cannot_be_booked_and_keeps_nothing(world):
    client = world.client(email="ada@example.com")
    world.keep_lee_busy(local(world, 2026, 12, 10, 10))
    TimeOff.objects.create(
        staff_member=world.dr_lee, start=local(world, 2026, 12, 17, 0), end=local(world, 2026, 12, 18, 0)
    )
    before = _stored()
    starts = [local(world, 2026, 12, d, 10) for d in (7, 10, 14, 17)]

    problems = course_check(
        client=client, service=world.microcurrent, practitioner=world.dr_lee, starts=starts
    )

    assert problems[0] == "" and problems[2] == ""
    assert problems[1] == "Dr Amara Lee is already booked 09:50–10:55."
    assert problems[3].startswith("Dr Amara Lee is off")
    assert _stored() == before


def test_the_check_holds_each_session_against_the_earlier_ones_of_the_course(world):
    client = world.client()
    starts = [local(world, 2026, 12, 7, 10), local(world, 2026, 12, 8, 10), local(world, 2026, 12, 10, 10)]
    problems = course_check(
        client=client, service=world.microcurrent, practitioner=world.dr_lee, starts=starts
    )
    assert problems[0] == "" and problems[2] == ""
    assert "at least 2 days apart" in problems[1]


def test_the_page_plans_the_course_from_the_protocol_at_the_same_local_time(desk, world):
    response = desk.get(
        "/book/course/",
        {"practitioner": world.dr_lee.id, "start": "2027-03-15T10:00", "service": world.microcurrent.id},
    )
    assert response.status_code == 200
    # Twice a week (3 then 4 days), 10 sessions, 10:00 local before and after the clocks change on 28 March.
    assert _session_values(response) == [
        "2027-03-15T10:00",
        "2027-03-18T10:00",
        "2027-03-22T10:00",
        "2027-03-25T10:00",
        "2027-03-29T10:00",
        "2027-04-01T10:00",
        "2027-04-05T10:00",
        "2027-04-08T10:00",
        "2027-04-12T10:00",
        "2027-04-15T10:00",
    ]
    assert "Not checked yet" in response.content.decode()


def _session_values(response) -> list[str]:
    return [session["value"] for session in response.context["sessions"]]


def test_coming_from_the_booking_form_with_a_client_checks_every_date(desk, world):
    client = world.client(first_name="Ada", last_name="Lovelace", email="ada@example.com")
    world.keep_lee_busy(local(world, 2026, 12, 10, 10))
    before = _stored()

    response = _course_page(desk, world, client)

    assert response.status_code == 200
    sessions = response.context["sessions"]
    assert len(sessions) == 10
    assert [s["problem"] for s in sessions if s["problem"]] == ["Dr Amara Lee is already booked 09:50–10:55."]
    assert sessions[1]["value"] == "2026-12-10T10:00"
    page = response.content.decode()
    assert "1 of 10 sessions cannot be booked as they are" in page
    assert page.count(">Free<") == 9
    assert _stored() == before


def test_booking_the_course_books_every_session_and_shows_its_progress(desk, world):
    client = world.client(first_name="Ada", last_name="Lovelace", email="ada@example.com")

    response = _course_page(
        desk,
        world,
        client,
        action="book",
        course_start=["2026-12-07T10:00", "2026-12-10T10:00", "2026-12-14T11:30"],
    )

    course = Course.objects.get(client=client)
    booked = list(course.appointments.order_by("start"))
    assert [b.start for b in booked] == [
        local(world, 2026, 12, 7, 10),
        local(world, 2026, 12, 10, 10),
        local(world, 2026, 12, 14, 11, 30),
    ]
    assert course.planned_sessions == 3
    assert response.status_code == 302 and response.url == f"/appointments/{booked[0].pk}/"
    page = desk.get(response.url).content.decode()
    assert "Booked 3 sessions of Microcurrent workout for Ada Lovelace with Dr Amara Lee" in page
    assert "The confirmation is on its way." in page
    assert "Session 1 of 3 · 0 done, 3 booked ahead" in page


def test_a_course_with_a_taken_session_books_nothing_and_says_which_one(desk, world):
    client = world.client(email="ada@example.com")
    world.keep_lee_busy(local(world, 2026, 12, 14, 10))
    before = _stored()
    dates = ["2026-12-07T10:00", "2026-12-10T10:00", "2026-12-14T10:00"]

    response = _course_page(desk, world, client, action="book", course_start=dates)

    assert response.status_code == 409
    assert _stored() == before
    page = response.content.decode()
    assert "Session 3 of 3 (Mon 14 Dec 2026 10:00): Dr Amara Lee is already booked 09:50–10:55." in page
    assert _session_values(response) == dates  # what the desk typed is kept, to change and try again
    assert response.context["sessions"][2]["problem"] == "Dr Amara Lee is already booked 09:50–10:55."


def test_a_new_client_is_stored_only_when_the_course_is_booked(desk, world):
    new_client = {"new-first_name": "Nia", "new-last_name": "Cole", "new-email": "nia@example.com"}
    checked = _course_page(
        desk, world, None, action="check", course_start=[FIRST, "2026-12-10T10:00"], **new_client
    )
    assert checked.status_code == 200
    assert [s["problem"] for s in checked.context["sessions"]] == ["", ""]
    assert not Client.objects.filter(last_name="Cole").exists()

    booked = _course_page(
        desk, world, None, action="book", course_start=[FIRST, "2026-12-10T10:00"], **new_client
    )

    assert booked.status_code == 302
    assert Course.objects.get(client__last_name="Cole").appointments.count() == 2


def test_without_a_client_the_dates_are_shown_and_the_page_says_what_is_missing(desk, world):
    response = _course_page(desk, world, None)
    assert response.status_code == 200
    assert len(response.context["sessions"]) == 10
    assert "Choose a client from the search" in response.content.decode()

    refused = _course_page(desk, world, None, action="book", course_start=[FIRST])
    assert refused.status_code == 400
    assert not Course.objects.exists()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"sessions": "0", "repeat": "7"}, "Check the number of sessions and how often they repeat."),
        ({"sessions": "60", "repeat": "7"}, "A course can have at most 52 sessions."),
        ({"sessions": "4", "repeat": "5"}, "Check the number of sessions and how often they repeat."),
        (
            {"action": "book", "course_start": ["2026-12-07T10:00", ""]},
            "Give every session a date and a time.",
        ),
        ({"action": "check", "course_start": ["next tuesday"]}, "Give every session a date and a time."),
        (
            {"action": "check", "course_start": [f"2027-01-{d:02d}T10:00" for d in range(1, 32)] * 2},
            "A course can have at most 52 sessions.",
        ),
    ],
)
def test_bad_input_is_a_clear_400_and_nothing_is_booked(desk, world, fields, message):
    client = world.client()
    response = _course_page(desk, world, client, **fields)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Appointment.objects.exists()


def test_the_booking_form_offers_the_course(desk, world):
    page = desk.get("/book/", {"practitioner": world.dr_lee.id, "start": FIRST}).content.decode()
    assert 'formaction="/book/course/"' in page


def test_course_pages_are_for_staff_only(client, world):
    response = client.get("/book/course/", {"practitioner": world.dr_lee.id, "start": FIRST})
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


def test_without_a_practitioner_or_start_the_page_goes_back_to_the_finder(desk, world):
    response = desk.get("/book/course/", {"start": FIRST})
    assert response.status_code == 302 and response.url == "/book/"


def test_the_dry_run_does_not_hold_the_time(world):
    """After a check, the same times can still be booked by someone else."""
    client = world.client()
    starts = [local(world, 2026, 12, 7, 10)]
    assert course_check(
        client=client, service=world.microcurrent, practitioner=world.dr_lee, starts=starts
    ) == [""]
    other = appointment_book(
        BookingRequest(
            client=world.client(), service=world.microcurrent, practitioner=world.dr_lee, start=starts[0]
        )
    )
    assert other.start == starts[0]


def _earlier_microcurrent(world, client):
    return appointment_book(
        BookingRequest(
            client=client,
            service=world.microcurrent,
            practitioner=world.sam,
            start=local(world, 2026, 12, 6, 10),
        )
    )


def test_a_manager_books_a_course_sooner_than_the_interval_with_a_reason(client, world):
    ada = world.client(email="ada@example.com")
    _earlier_microcurrent(world, ada)  # the day before the course starts; the protocol wants 2 days
    client.force_login(world.manager.user)

    response = _course_page(
        client,
        world,
        ada,
        action="book",
        course_start=[FIRST, "2026-12-10T10:00"],
        override_reason="Client travels",
    )

    assert response.status_code == 302
    first = Course.objects.get(client=ada).appointments.order_by("start").first()
    assert first.events.get().details["accepted"] == ["Interval overridden by Morgan Ellis: Client travels"]


def test_the_front_desk_cannot_override_the_interval_of_a_course(desk, world):
    ada = world.client(email="ada@example.com")
    _earlier_microcurrent(world, ada)

    response = _course_page(
        desk,
        world,
        ada,
        action="book",
        course_start=[FIRST, "2026-12-10T10:00"],
        override_reason="Client travels",
    )

    assert response.status_code == 400
    assert "Only a manager can override the interval." in response.content.decode()
    assert not Course.objects.exists()
