"""Booking mail says what is true when it goes: a service renamed, or the clinic's zone corrected, after
the visit was booked and before its reminder is sent. (A move is not this: it cancels what was written
before it, `tests/test_late_reminders.py`.)
"""

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clinic.models import OutboxMessage, OutboxStatus
from clinic.tasks import deliver_due_messages_task
from tests.booking_world import build_world, local
from tests.test_reminder_times_change import _clinic_admin
from treatments.booking import BookingRequest, appointment_book
from treatments.notifications import booking_messages_as_they_stand

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def visit(world):
    return appointment_book(
        BookingRequest(
            client=world.client(first_name="Olivia", email="olivia@example.com"),
            service=world.microcurrent,
            practitioner=world.dr_lee,
            start=local(world, 2026, 12, 8, 10),
        )
    )


def _send_the_24h_reminder(visit, smtp_server):
    reminder = OutboxMessage.objects.get(topic=f"appointment:{visit.pk}", dedupe_key__contains=":24h:")
    OutboxMessage.objects.filter(pk=reminder.pk).update(due_at=timezone.now())
    deliver_due_messages_task()
    reminder.refresh_from_db()
    assert reminder.status == OutboxStatus.SENT
    [mail] = [m for m in smtp_server.messages if m["Subject"].startswith("Reminder")]
    return reminder, mail["Subject"], mail.get_body(preferencelist=("plain",)).get_content()


def test_a_service_or_practitioner_renamed_after_booking_is_named_as_now(
    world, visit, smtp_settings, smtp_server
):
    type(world.microcurrent).objects.filter(pk=world.microcurrent.pk).update(name="Sculpt and lift")
    type(world.dr_lee).objects.filter(pk=world.dr_lee.pk).update(display_name="Dr Amara Lee-Khan")
    reminder, subject, body = _send_the_24h_reminder(visit, smtp_server)
    assert "Sculpt and lift" in subject and "Sculpt and lift with Dr Amara Lee-Khan" in body
    assert "Microcurrent" not in body
    assert reminder.context["service_name"] == "Sculpt and lift"  # the record says what was sent


def test_the_clinics_zone_corrected_gives_the_new_local_time(
    client, world, visit, smtp_settings, smtp_server
):
    client.force_login(User.objects.create_superuser("owner", "owner@example.com", "pw"))
    page = _clinic_admin(client, world, time_zone="America/New_York")
    assert "The clinic's time zone is now America/New_York. Its 1 booked visit ahead keep" in page
    assert f"{visit.client.full_name}'s was Tue 8 Dec 10:00 (Europe/London), now Tue 8 Dec 05:00." in page
    link = '<a href="/visits/keep-clock-times/?from=Europe%2FLondon">move them back to the clock times'
    assert link in page
    _reminder, subject, body = _send_the_24h_reminder(visit, smtp_server)
    assert "Tuesday 8 December 2026 at 05:00 (America/New_York time, EST)" in body
    assert "(EST)" in subject


def test_a_batch_without_booking_mail_costs_no_query(world):
    from tests.factories import due_outbox_messages

    due_outbox_messages(world.clinic, 3, "bench")
    messages = list(OutboxMessage.objects.all())
    with CaptureQueriesContext(connection) as queries:
        assert booking_messages_as_they_stand(messages) == {}
    assert len(queries) == 0


def test_mail_that_still_says_what_is_true_is_left_as_written(world, visit):
    written = list(OutboxMessage.objects.filter(topic=f"appointment:{visit.pk}"))
    assert booking_messages_as_they_stand(written) == {}
