"""Stopping a course: the sessions still ahead are cancelled together, and the client gets one email."""

import datetime as dt

import icalendar
import pytest
from rest_framework.test import APIClient

from clinic.errors import ClinicError
from clinic.models import OutboxMessage, OutboxStatus
from clinic.tasks import deliver_due_messages_task
from tests.booking_world import build_world, local
from tests.factories import ClientFactory, ClinicFactory, ServiceFactory
from treatments.booking import (
    BookingRequest,
    appointment_book,
    appointment_set_status,
    course_book,
    course_cancel_remaining,
)
from treatments.models import Appointment, AppointmentEvent, AppointmentStatus, Course

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    world = build_world()
    world.clinic.email = "hello@lumen.example"
    world.clinic.save(update_fields=["email"])
    return world


def _course(world, *dates):
    """A course of microcurrent with Dr Lee for Olivia, one session at 10:00 on each (y, m, d)."""
    client = world.client(first_name="Olivia", email="olivia@example.com")
    starts = [local(world, *date, 10) for date in dates]
    course = course_book(
        client=client, service=world.microcurrent, practitioner=world.dr_lee, starts=starts, actor=None
    )
    return course, list(course.appointments.order_by("start"))


FOUR_WEEKS = [(2027, 3, 15), (2027, 3, 22), (2027, 3, 29), (2027, 4, 5)]  # clocks change on 28 March


def test_the_sessions_ahead_are_cancelled_and_those_had_or_begun_keep_their_status(world):
    course, sessions = _course(world, *FOUR_WEEKS)
    appointment_set_status(sessions[0], status=AppointmentStatus.FULFILLED, now=sessions[0].start)
    appointment_set_status(sessions[1], status=AppointmentStatus.ARRIVED, now=sessions[1].start)

    cancelled = course_cancel_remaining(course, actor=world.desk.user, reason="Moving abroad")

    assert [a.pk for a in cancelled] == [sessions[2].pk, sessions[3].pk]
    statuses = dict(Appointment.objects.filter(course=course).values_list("pk", "status"))
    assert statuses == {
        sessions[0].pk: AppointmentStatus.FULFILLED,
        sessions[1].pk: AppointmentStatus.ARRIVED,
        sessions[2].pk: AppointmentStatus.CANCELLED,
        sessions[3].pk: AppointmentStatus.CANCELLED,
    }
    for session in Appointment.objects.filter(pk__in=[sessions[2].pk, sessions[3].pk]):
        assert session.sequence == 1
        assert session.cancellation_reason == "Moving abroad"
        [event] = session.events.filter(action="cancelled")
        assert event.actor == world.desk.user
        assert event.details == {"reason": "Moving abroad", "by_client": False, "rest_of_course": course.pk}
    assert not AppointmentEvent.objects.filter(action="cancelled", appointment__in=sessions[:2]).exists()


def test_a_session_whose_time_has_passed_is_not_cancelled_with_the_rest(world):
    course, sessions = _course(world, *FOUR_WEEKS)
    begun, ended = dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC), dt.datetime(2026, 1, 5, 10, 45, tzinfo=dt.UTC)
    Appointment.objects.filter(pk=sessions[0].pk).update(
        start=begun, end=ended, blocked_start=begun, blocked_end=ended
    )

    cancelled = course_cancel_remaining(course)

    assert [a.pk for a in cancelled] == [s.pk for s in sessions[1:]]
    sessions[0].refresh_from_db()
    assert sessions[0].status == AppointmentStatus.BOOKED  # for the desk to mark done or missed


def test_the_cancelled_times_are_free_again(world):
    course, sessions = _course(world, *FOUR_WEEKS)
    course_cancel_remaining(course)

    other = appointment_book(
        BookingRequest(
            client=world.client(first_name="Ann"),
            service=world.microcurrent,
            practitioner=world.dr_lee,
            start=sessions[1].start,
        )
    )
    assert other.status == AppointmentStatus.BOOKED


def test_a_course_with_nothing_ahead_says_so(world):
    course, sessions = _course(world, (2027, 3, 15))
    appointment_set_status(sessions[0], status=AppointmentStatus.FULFILLED, now=sessions[0].start)
    with pytest.raises(ClinicError) as refusal:
        course_cancel_remaining(course)
    assert refusal.value.code == "nothing_to_cancel"
    assert refusal.value.message == "This course has no sessions ahead to cancel."


def test_the_client_gets_one_email_listing_the_cancelled_sessions_with_a_calendar_file(
    world, smtp_settings, smtp_server
):
    course, sessions = _course(world, *FOUR_WEEKS)
    assert deliver_due_messages_task() == 1  # the course confirmation
    appointment_set_status(sessions[0], status=AppointmentStatus.FULFILLED, now=sessions[0].start)

    course_cancel_remaining(course, reason="Moving abroad")

    assert deliver_due_messages_task() == 1
    assert deliver_due_messages_task() == 0
    _, message = smtp_server.messages
    assert message["Subject"] == (
        "Cancelled: 3 sessions of Microcurrent workout, from Monday 22 March 2027 at 10:00"
    )
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "The remaining 3 sessions of your course of Microcurrent workout" in body
    assert "1. Monday 22 March 2027 at 10:00 (GMT)" in body
    assert "2. Monday 29 March 2027 at 10:00 (BST)" in body
    assert "3. Monday 5 April 2027 at 10:00 (BST)" in body
    assert "15 March" not in body
    [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    calendar = icalendar.Calendar.from_ical(part.get_payload(decode=True))
    assert str(calendar["METHOD"]) == "PUBLISH"
    events = calendar.walk("VEVENT")
    assert [str(e["UID"]) for e in events] == [
        f"appointment-{a.pk}@{world.clinic.slug}.clinic" for a in sessions[1:]
    ]
    assert {str(e["STATUS"]) for e in events} == {"CANCELLED"}
    assert [int(e["SEQUENCE"]) for e in events] == [1, 1, 1]  # higher than the confirmation's 0
    assert {e["DTSTART"].params["TZID"] for e in events} == {"Europe/London"}


def test_the_cancelled_sessions_reminders_are_not_sent(world):
    course, sessions = _course(world, *FOUR_WEEKS)
    appointment_set_status(sessions[0], status=AppointmentStatus.ARRIVED, now=sessions[0].start)
    course_cancel_remaining(course)

    pending = OutboxMessage.objects.filter(status=OutboxStatus.PENDING)
    assert {m.topic for m in pending.filter(template_key="booking_reminder")} == {
        f"appointment:{sessions[0].pk}"
    }
    assert list(pending.filter(topic=f"course:{course.pk}").values_list("template_key", flat=True)) == [
        "course_cancelled"
    ]
    # the confirmation had not gone out yet: it is not sent after the cancellation
    confirmation = OutboxMessage.objects.get(template_key="course_confirmation")
    assert confirmation.status == OutboxStatus.CANCELLED


def test_a_client_without_an_email_address_is_cancelled_without_mail(world):
    client = world.client(first_name="Nomail", email="")
    course = course_book(
        client=client,
        service=world.microcurrent,
        practitioner=world.dr_lee,
        starts=[local(world, *date, 10) for date in FOUR_WEEKS],
    )
    assert len(course_cancel_remaining(course)) == 4
    assert not OutboxMessage.objects.filter(status=OutboxStatus.PENDING).exists()


def _another_clinics_course() -> Course:
    other = ClinicFactory(slug="elsewhere")
    return Course.objects.create(
        clinic=other,
        client=ClientFactory(clinic=other),
        service=ServiceFactory(clinic=other),
        planned_sessions=1,
    )


# --- the visit page ----------------------------------------------------------------------------------
def test_the_visit_page_offers_to_cancel_the_sessions_ahead_and_does_it(desk, world):
    course, sessions = _course(world, *FOUR_WEEKS)
    appointment_set_status(sessions[0], status=AppointmentStatus.FULFILLED, now=sessions[0].start)

    page = desk.get(f"/appointments/{sessions[1].pk}/").content.decode()
    assert "Cancel 3 sessions ahead" in page
    assert "Cancels the 3 sessions still ahead, from Mon 22 Mar" in page

    response = desk.post(
        f"/courses/{course.pk}/cancel/",
        {"appointment": sessions[1].pk, "course-cancel-reason": "Moving abroad"},
        follow=True,
    )

    assert response.redirect_chain == [(f"/appointments/{sessions[1].pk}/", 302)]
    page = response.content.decode()
    assert (
        "Cancelled 3 sessions from Mon 22 Mar. Their times are free again and the client will get one email."
        in page
    )
    assert "<strong>Cancelled with the rest of the course</strong> by Jo Carter: Moving abroad" in page
    assert "Cancel 3 sessions ahead" not in page
    assert 'id="course-cancel"' not in page
    assert Appointment.objects.filter(course=course, status=AppointmentStatus.CANCELLED).count() == 3


def test_cancelling_again_is_a_plain_message_not_an_error_page(desk, world):
    course, sessions = _course(world, *FOUR_WEEKS)
    course_cancel_remaining(course)
    response = desk.post(f"/courses/{course.pk}/cancel/", {"appointment": sessions[0].pk}, follow=True)
    assert response.status_code == 200
    assert "This course has no sessions ahead to cancel." in response.content.decode()


def test_without_a_visit_of_the_course_the_desk_lands_on_the_clients_page(desk, world):
    course, sessions = _course(world, *FOUR_WEEKS)
    other_course, _ = _course(world, (2027, 5, 3))
    response = desk.post(f"/courses/{course.pk}/cancel/", {"appointment": other_course.appointments.get().pk})
    assert response.status_code == 302
    assert response["Location"] == f"/clients/{course.client_id}/"


def test_a_course_of_another_clinic_cannot_be_cancelled(desk, world):
    course = _another_clinics_course()
    assert desk.post(f"/courses/{course.pk}/cancel/").status_code == 404
    assert desk.get(f"/courses/{course.pk}/cancel/").status_code in (404, 405)


# --- the API -----------------------------------------------------------------------------------------
@pytest.fixture
def api(world):
    client = APIClient()
    client.force_authenticate(world.desk.user)
    return client


def test_the_api_reads_a_course_and_cancels_its_sessions_ahead(api, world):
    course, sessions = _course(world, *FOUR_WEEKS)
    appointment_set_status(sessions[0], status=AppointmentStatus.FULFILLED, now=sessions[0].start)

    read = api.get(f"/api/v1/courses/{course.pk}/").json()
    assert [a["id"] for a in read["appointments"]] == [s.pk for s in sessions]
    assert read["progress"] == {"planned": 4, "done": 1, "upcoming": 3, "missed_or_cancelled": 0}

    response = api.post(f"/api/v1/courses/{course.pk}/cancel/", {"reason": "Moving abroad"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["progress"] == {"planned": 4, "done": 1, "upcoming": 0, "missed_or_cancelled": 3}
    assert [a["status"] for a in response.json()["appointments"]] == ["fulfilled"] + ["cancelled"] * 3

    again = api.post(f"/api/v1/courses/{course.pk}/cancel/", {}, format="json")
    assert again.status_code == 400
    assert again.json()["code"] == "nothing_to_cancel"


def test_the_api_does_not_show_or_cancel_another_clinics_course(api, world):
    course = _another_clinics_course()
    assert api.get(f"/api/v1/courses/{course.pk}/").status_code == 404
    assert api.post(f"/api/v1/courses/{course.pk}/cancel/", {}, format="json").status_code == 404


def test_the_schema_documents_the_course_endpoints(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for path in ("/api/v1/courses/", "/api/v1/courses/{id}/", "/api/v1/courses/{id}/cancel/"):
        assert path in schema["paths"], path
