"""A resend never tells the client something that has stopped being true.

Staff resend a message the client says never came. A copy of a reminder for a visit that has moved,
been cancelled or already happened would send the client to the wrong place at the wrong time, so
the outbox refuses it and the timelines say why instead of offering the button.
"""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clinic.errors import ClinicError
from clinic.models import OutboxMessage, OutboxStatus
from clinic.outbox import outbox_resend, resend_refusals
from tests.booking_world import build_world, local
from treatments.booking import (
    BookingRequest,
    appointment_book,
    appointment_cancel,
    appointment_reschedule,
    appointment_set_status,
    course_book,
)
from treatments.models import AppointmentStatus

pytestmark = pytest.mark.django_db
VISIT = (2026, 12, 8, 10)  # Tuesday 8 December, 10:00 in London


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def olivia(world):
    return world.client(first_name="Olivia", last_name="Smith", email="olivia@example.com")


def _book(world, olivia, start=None):
    return appointment_book(
        BookingRequest(
            client=olivia,
            service=world.microcurrent,
            practitioner=world.dr_lee,
            start=start or local(world, *VISIT),
        )
    )


def _sent(**about) -> OutboxMessage:
    """Mark the message found by `about` as sent, as a worker would have; return it."""
    message = OutboxMessage.objects.get(**about)
    message.status, message.sent_at = OutboxStatus.SENT, timezone.now()
    message.save(update_fields=["status", "sent_at"])
    return message


def _refused(message) -> str:
    with pytest.raises(ClinicError) as refusal:
        outbox_resend(message, recipient_email="olivia@example.com")
    assert refusal.value.code == "out_of_date"
    assert not OutboxMessage.objects.filter(dedupe_key__startswith=f"resend:{message.pk}:").exists()
    return refusal.value.message


def test_the_confirmation_of_a_visit_still_ahead_is_resent(world, olivia):
    visit = _book(world, olivia)
    confirmation = _sent(dedupe_key=f"appointment:{visit.pk}:booked")
    assert resend_refusals([confirmation]) == {}
    copy = outbox_resend(confirmation, recipient_email="olivia@example.com")
    assert copy.status == OutboxStatus.PENDING and copy.context == confirmation.context


def test_nothing_about_a_cancelled_visit_is_resent_but_the_cancellation_notice(world, olivia):
    visit = _book(world, olivia)
    confirmation = _sent(dedupe_key=f"appointment:{visit.pk}:booked")
    appointment_cancel(visit, reason="Unwell")
    assert _refused(confirmation) == "Not sent again: it is out of date (the visit was cancelled)."
    notice = _sent(dedupe_key=f"appointment:{visit.pk}:cancelled")
    assert outbox_resend(notice, recipient_email="olivia@example.com").template_key == "booking_cancelled"


def test_a_failed_confirmation_of_a_visit_moved_since_is_not_resent_with_the_old_time(world, olivia):
    visit = _book(world, olivia)
    confirmation = OutboxMessage.objects.get(dedupe_key=f"appointment:{visit.pk}:booked")
    confirmation.status, confirmation.last_error = OutboxStatus.FAILED, "550 no such user"
    confirmation.save(update_fields=["status", "last_error"])
    moved = appointment_reschedule(visit, start=local(world, 2026, 12, 9, 14, 30))
    assert _refused(confirmation) == "Not sent again: it is out of date (the visit moved to Wed 9 Dec 14:30)."
    # the notice of the move gives the time that holds, so it is the one to send again
    notice = _sent(dedupe_key=f"appointment:{moved.pk}:rescheduled:{moved.sequence}")
    assert resend_refusals([notice]) == {}


def test_a_reminder_is_not_resent_once_the_visit_has_begun_or_is_over(world, olivia):
    visit = _book(world, olivia)
    reminder = _sent(
        topic=f"appointment:{visit.pk}", template_key="booking_reminder", dedupe_key__contains=":24h:"
    )
    with time_machine.travel(visit.start + dt.timedelta(minutes=5), tick=False):
        assert resend_refusals([reminder]) == {reminder.pk: "the visit has begun"}
    with time_machine.travel(visit.end + dt.timedelta(minutes=5), tick=False):
        assert _refused(reminder) == "Not sent again: it is out of date (the visit is over)."


def test_a_no_show_is_said_as_such(world, olivia):
    visit = _book(world, olivia)
    confirmation = _sent(dedupe_key=f"appointment:{visit.pk}:booked")
    appointment_set_status(visit, status=AppointmentStatus.NOSHOW, now=visit.start + dt.timedelta(minutes=20))
    assert resend_refusals([confirmation]) == {confirmation.pk: "the visit was a no-show"}


def test_a_course_confirmation_is_resent_until_a_session_changes(world, olivia):
    starts = [local(world, 2026, 12, day, 10) for day in (8, 11, 15)]
    course = course_book(client=olivia, service=world.microcurrent, practitioner=world.dr_lee, starts=starts)
    confirmation = _sent(dedupe_key=f"course:{course.pk}:booked")
    assert resend_refusals([confirmation]) == {}
    sessions = list(course.appointments.order_by("start"))
    appointment_reschedule(sessions[1], start=local(world, 2026, 12, 12, 10))
    assert resend_refusals([confirmation]) == {
        confirmation.pk: "sessions of the course moved or were cancelled"
    }


def test_a_course_confirmation_is_not_resent_once_every_session_has_begun(world, olivia):
    starts = [local(world, 2026, 12, day, 10) for day in (8, 11)]
    course = course_book(client=olivia, service=world.microcurrent, practitioner=world.dr_lee, starts=starts)
    confirmation = _sent(dedupe_key=f"course:{course.pk}:booked")
    with time_machine.travel(local(world, 2026, 12, 11, 10, 5), tick=False):
        assert resend_refusals([confirmation]) == {confirmation.pk: "every session of the course has begun"}


def test_the_client_page_says_why_instead_of_offering_resend(client, world, olivia):
    ahead = _book(world, olivia)
    cancelled = _book(world, olivia, start=local(world, 2026, 12, 10, 11))
    resendable = _sent(dedupe_key=f"appointment:{ahead.pk}:booked")
    stale = _sent(dedupe_key=f"appointment:{cancelled.pk}:booked")
    appointment_cancel(cancelled)
    client.force_login(world.desk.user)
    page = client.get(reverse("client-detail", args=[olivia.pk])).content.decode()
    assert reverse("outbox-resend", args=[resendable.pk]) in page
    assert reverse("outbox-resend", args=[stale.pk]) not in page
    assert "Out of date: the visit was cancelled" in page
    # each message names the visit it is about, as the email gave it
    assert "Visit Thursday 10 December 2026 at 11:00" in page
    # and a resend posted from a page left open since is refused in words, nothing queued
    response = client.post(reverse("outbox-resend", args=[stale.pk]), follow=True)
    assert "Not sent again: it is out of date (the visit was cancelled)." in response.content.decode()
    assert not OutboxMessage.objects.filter(dedupe_key__startswith=f"resend:{stale.pk}:").exists()


def test_a_course_message_names_its_sessions_not_only_the_first(client, world, olivia):
    starts = [local(world, 2026, 12, day, 10) for day in (8, 11, 15)]
    course = course_book(client=olivia, service=world.microcurrent, practitioner=world.dr_lee, starts=starts)
    client.force_login(world.desk.user)
    page = client.get(reverse("client-detail", args=[olivia.pk])).content.decode()
    assert "3 sessions from Tuesday 8 December 2026 at 10:00" in page
    first = course.appointments.order_by("start").first()
    assert "3 sessions from" in client.get(reverse("appointment-detail", args=[first.pk])).content.decode()


def test_the_checks_take_the_same_queries_for_three_messages_or_thirty(client, world, olivia):
    def timeline_queries():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("client-detail", args=[olivia.pk])).status_code == 200
        return len(queries)

    client.force_login(world.desk.user)
    _book(world, olivia)
    OutboxMessage.objects.filter(client_id=olivia.pk).update(status=OutboxStatus.SENT, sent_at=timezone.now())
    few = timeline_queries()
    for week in range(1, 10):  # microcurrent sessions at least two days apart
        _book(world, olivia, start=local(world, *VISIT) + dt.timedelta(days=3 * week))
    OutboxMessage.objects.filter(client_id=olivia.pk).update(status=OutboxStatus.SENT, sent_at=timezone.now())
    assert OutboxMessage.objects.filter(client_id=olivia.pk).count() >= 30
    assert timeline_queries() == few


@pytest.mark.parametrize(
    "topic", ["", "appointment:", "appointment:x", "appointment:²", "course:9999999", "other:1"]
)
def test_a_message_whose_topic_names_no_visit_is_resent(world, topic):
    message = OutboxMessage.objects.create(
        clinic=world.clinic,
        recipient_email="olivia@example.com",
        template_key="booking_confirmation",
        dedupe_key=f"odd:{topic}",
        topic=topic,
        status=OutboxStatus.SENT,
        due_at=timezone.now(),
        sent_at=timezone.now(),
    )
    assert resend_refusals([message]) == {}


def test_a_course_confirmation_written_with_zero_padded_days_is_still_current(world, olivia):
    # rows written before the emails dropped the day's leading zero ("Tuesday 08 December")
    starts = [local(world, 2026, 12, day, 10) for day in (8, 11)]
    course = course_book(client=olivia, service=world.microcurrent, practitioner=world.dr_lee, starts=starts)
    confirmation = _sent(dedupe_key=f"course:{course.pk}:booked")
    assert [s["local_start"] for s in confirmation.context["sessions"]] == [
        "Tuesday 8 December 2026 at 10:00",
        "Friday 11 December 2026 at 10:00",
    ]
    confirmation.context["sessions"][0]["local_start"] = "Tuesday 08 December 2026 at 10:00"
    confirmation.save(update_fields=["context"])
    assert resend_refusals([confirmation]) == {}
