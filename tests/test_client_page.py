"""The client's page for staff: upcoming and past visits, courses with their progress, planned reads."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.booking_world import build_world
from tests.factories import AppointmentFactory
from treatments.booking import (
    BookingRequest,
    appointment_book,
    appointment_cancel,
    appointment_set_status,
    course_book,
)
from treatments.models import Appointment, AppointmentEvent
from treatments.selectors import appointment_messages, client_attendance

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    return build_world()


def _days_ahead(world, days, hour=10):
    local_day = timezone.localdate(timezone=world.clinic.zone) + dt.timedelta(days=days)
    return dt.datetime.combine(local_day, dt.time(hour), tzinfo=world.clinic.zone)


def test_the_page_lists_upcoming_visits_soonest_first_and_past_ones_latest_first(desk, world):
    ada = world.client(first_name="Ada", last_name="Lovelace", email="ada@example.com")
    later = appointment_book(
        BookingRequest(
            client=ada, service=world.microcurrent, practitioner=world.sam, start=_days_ahead(world, 9)
        )
    )
    sooner = appointment_book(
        BookingRequest(
            client=ada, service=world.mesotherapy, practitioner=world.dr_lee, start=_days_ahead(world, 3)
        )
    )
    past = Appointment.objects.filter(pk=sooner.pk).values()[0]
    past.pop("id")
    yesterday = _days_ahead(world, -1)
    # a visit that already happened (booking refuses the past, so the row is written as it was kept)
    ended = yesterday + dt.timedelta(minutes=45)
    older = Appointment.objects.create(
        **{**past, "start": yesterday, "end": ended, "blocked_start": yesterday, "blocked_end": ended},
    )
    appointment_set_status(older, status="fulfilled")

    response = desk.get(f"/clients/{ada.pk}/")

    assert response.status_code == 200
    assert [a.pk for a in response.context["upcoming"]] == [sooner.pk, later.pk]
    assert [a.pk for a in response.context["past"]] == [older.pk]
    page = response.content.decode()
    assert page.index("Mesotherapy facial") < page.index("Microcurrent workout")
    assert f'href="/appointments/{older.pk}/"' in page


def test_the_page_shows_each_course_with_its_progress(desk, world):
    ada = world.client(first_name="Ada", email="ada@example.com")
    starts = [_days_ahead(world, d) for d in (2, 5, 9, 12)]
    course = course_book(client=ada, service=world.microcurrent, practitioner=world.dr_lee, starts=starts)
    first, second, *_ = course.appointments.order_by("start")
    appointment_set_status(first, status="fulfilled", now=first.start)
    appointment_cancel(second)

    response = desk.get(f"/clients/{ada.pk}/")

    [shown] = response.context["courses"]
    assert (shown.done, shown.upcoming, shown.missed_or_cancelled) == (1, 2, 1)
    page = response.content.decode()
    assert "1 of 4 done, 2 booked ahead, 1 missed or cancelled" in page
    # the next session is the third (the second was cancelled); the course opens on it
    third = course.appointments.order_by("start")[2]
    assert shown.next_session_id == third.pk
    assert f'<a href="/appointments/{third.pk}/?show=course#course-sessions">Microcurrent workout</a>' in page
    when = timezone.localtime(third.start, world.clinic.zone)
    assert f'<a href="/appointments/{third.pk}/">{when:%a %-d %b %H:%M}</a>' in page
    # its messages, in words: one confirmation for the course, the cancellation of the second visit
    assert page.count('title="Email template: course_confirmation">Course confirmation<') == 1
    assert page.count(">Booking cancelled<") == 1


def test_a_course_with_nothing_ahead_opens_on_its_first_session(desk, world):
    ada = world.client(first_name="Ada", email="ada@example.com")
    course = course_book(
        client=ada, service=world.microcurrent, practitioner=world.dr_lee, starts=[_days_ahead(world, 2)]
    )
    first = course.appointments.get()
    appointment_cancel(first)
    page = desk.get(f"/clients/{ada.pk}/").content.decode()
    assert f'<a href="/appointments/{first.pk}/?show=course#course-sessions">Microcurrent workout</a>' in page
    assert "<td>—</td></tr>" in page


def test_the_page_books_a_visit_for_the_client(desk, world):
    ada = world.client(first_name="Ada", last_name="Lovelace")
    page = desk.get(f"/clients/{ada.pk}/").content.decode()
    assert f'href="/book/?client={ada.pk}">Book a visit for Ada</a>' in page


def test_the_appointment_page_links_to_the_client(desk, world):
    ada = world.client(first_name="Ada", last_name="Lovelace")
    visit = appointment_book(
        BookingRequest(
            client=ada, service=world.microcurrent, practitioner=world.sam, start=_days_ahead(world, 3)
        )
    )
    page = desk.get(f"/appointments/{visit.pk}/").content.decode()
    assert f'<a href="/clients/{ada.pk}/">Ada Lovelace</a>' in page


def test_another_clinics_client_is_not_found(client, world):
    other = build_world()
    client.force_login(other.desk.user)
    assert client.get(f"/clients/{world.client().pk}/").status_code == 404


def _page_queries(desk, client_id) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert desk.get(f"/clients/{client_id}/").status_code == 200
    return len(queries)


def test_the_page_reads_the_same_number_of_queries_for_few_and_many_visits(desk, world):
    ada = world.client(email="ada@example.com")

    booked_courses = []

    def add_courses(count):
        for _ in range(count):
            first_day = 3 + 10 * len(booked_courses)
            starts = [_days_ahead(world, first_day), _days_ahead(world, first_day + 4)]
            booked_courses.append(
                course_book(client=ada, service=world.microcurrent, practitioner=world.dr_lee, starts=starts)
            )

    add_courses(1)
    few = _page_queries(desk, ada.pk)
    add_courses(10)
    many = _page_queries(desk, ada.pk)
    assert Appointment.objects.filter(client=ada).count() == 22
    assert few == many


def test_each_session_of_a_course_shows_the_course_confirmation_in_its_messages(world):
    ada = world.client(email="ada@example.com")
    course = course_book(
        client=ada,
        service=world.microcurrent,
        practitioner=world.dr_lee,
        starts=[_days_ahead(world, 3), _days_ahead(world, 7)],
    )
    for session in course.appointments.all():
        keys = list(appointment_messages(session).values_list("template_key", flat=True))
        assert keys.count("course_confirmation") == 1
        assert keys.count("booking_reminder") == 2


def test_no_shows_and_late_cancellations_of_the_last_year_are_shown_where_the_desk_looks(desk, world):
    world.clinic.cancellation_window_hours = 24
    world.clinic.save(update_fields=["cancellation_window_hours"])
    ada = world.client(first_name="Ada", last_name="Lovelace")
    now = timezone.now()

    def visit(days_ago, status, cancelled_hours_before=None):
        start = now - dt.timedelta(days=days_ago)
        made = AppointmentFactory(
            clinic=world.clinic, client=ada, service=world.microcurrent, start=start, status=status
        )
        if cancelled_hours_before is not None:
            AppointmentEvent.objects.create(
                appointment=made, action="cancelled", at=start - dt.timedelta(hours=cancelled_hours_before)
            )
        return made

    visit(10, "noshow")
    visit(40, "noshow")
    visit(400, "noshow")  # more than a year ago
    visit(20, "cancelled", cancelled_hours_before=3)  # late: inside the 24 hours
    visit(30, "cancelled", cancelled_hours_before=72)  # in good time
    visit(50, "fulfilled")

    assert client_attendance(ada, now=now) == {"no_shows": 2, "late_cancellations": 1}
    badge = '<span class="badge warn" id="attendance">Last 12 months: 2 no-shows, 1 late cancellation</span>'
    assert badge in desk.get(f"/clients/{ada.pk}/").content.decode()
    upcoming = appointment_book(
        BookingRequest(
            client=ada, service=world.microcurrent, practitioner=world.sam, start=_days_ahead(world, 3)
        )
    )
    assert badge in desk.get(f"/appointments/{upcoming.pk}/").content.decode()


def test_a_client_with_a_clean_record_shows_no_attendance_badge(desk, world):
    ada = world.client(first_name="Ada", last_name="Lovelace")
    assert client_attendance(ada, now=timezone.now()) == {"no_shows": 0, "late_cancellations": 0}
    assert 'id="attendance"' not in desk.get(f"/clients/{ada.pk}/").content.decode()
