"""A real Celery worker and beat deliver an outbox message once through a real SMTP server.

Runs on the filesystem broker (the embedded default) and on Redis (skipped where Redis is absent).
Not eager mode: separate processes, the test database shared over its real connection.
"""

import time

import pytest
from django.utils import timezone

from clinic.models import OutboxMessage, OutboxStatus
from tests.conftest import wait_until
from tests.factories import ClinicFactory, due_outbox_messages

pytestmark = pytest.mark.worker


def test_worker_and_beat_deliver_a_due_message_exactly_once(celery_stack, smtp_server):
    # given a message due now, committed before any worker runs
    clinic = ClinicFactory(name="Lumen Skin Clinic")
    message = OutboxMessage.objects.create(
        clinic=clinic,
        recipient_email="olivia@example.com",
        recipient_name="Olivia",
        template_key="outbox_test",
        context={"note": "See you soon."},
        due_at=timezone.now(),
        dedupe_key="worker-test-1",
    )
    # when a worker and beat (ticking every second) run
    celery_stack.start("worker", "beat")
    wait_until(
        lambda: smtp_server.messages,
        timeout=90,
        message=f"the SMTP server to receive the message; logs:\n{celery_stack.logs()}",
    )
    # then after several more ticks it has still been received once, and the row says sent
    time.sleep(4)
    assert len(smtp_server.messages) == 1
    received = smtp_server.messages[0]
    assert received["To"] == "Olivia <olivia@example.com>"
    assert "See you soon." in received.get_body().get_content()
    message.refresh_from_db()
    assert message.status == OutboxStatus.SENT
    assert message.smtp_message_id == received["Message-ID"]
    assert message.attempts == 1


def _received_notes(smtp_server):
    return [
        m.get_body().get_content().split("test message from ")[1].split(". ")[1].split("\n")[0].strip()
        for m in smtp_server.messages
    ]


def test_two_beats_and_two_workers_never_send_a_message_twice(celery_stack, smtp_server):
    # given 200 due messages
    clinic = ClinicFactory(name="Lumen Skin Clinic")
    due_outbox_messages(clinic, 200, "pair")
    # when two workers and two beats run at once
    celery_stack.start("worker", "worker2", "beat", "beat2")
    wait_until(
        lambda: len(smtp_server.messages) >= 200,
        timeout=120,
        message=f"200 messages; logs:\n{celery_stack.logs()}",
    )
    time.sleep(4)  # several more ticks from both beats
    # then each was received exactly once and every row says sent
    notes = _received_notes(smtp_server)
    assert len(notes) == 200
    assert sorted(set(notes)) == sorted(notes)
    assert OutboxMessage.objects.filter(status=OutboxStatus.SENT).count() == 200


def test_messages_wait_out_an_smtp_outage_and_go_once(celery_stack, smtp_server):
    # given an SMTP server that refuses connections, and quick retries
    clinic = ClinicFactory(name="Lumen Skin Clinic")
    due_outbox_messages(clinic, 30, "outage")
    smtp_server.stop()
    celery_stack.extra_env["OUTBOX_FIRST_RETRY_SECONDS"] = "1"
    celery_stack.start("worker", "beat")
    wait_until(
        lambda: OutboxMessage.objects.filter(attempts__gte=2).count() == 30,
        timeout=90,
        message=f"retries while SMTP is down; logs:\n{celery_stack.logs()}",
    )
    assert OutboxMessage.objects.filter(status=OutboxStatus.SENT).count() == 0
    assert OutboxMessage.objects.filter(status=OutboxStatus.FAILED).count() == 0
    # when the server comes back
    smtp_server.start()
    wait_until(
        lambda: len(smtp_server.messages) >= 30,
        timeout=120,
        message=f"delivery after recovery; logs:\n{celery_stack.logs()}",
    )
    time.sleep(4)
    # then every message went exactly once
    notes = _received_notes(smtp_server)
    assert len(notes) == 30 and len(set(notes)) == 30
    assert OutboxMessage.objects.filter(status=OutboxStatus.SENT).count() == 30


def test_a_real_worker_sends_one_confirmation_then_the_reschedule_and_cancel_invites(
    celery_stack, smtp_server
):
    import icalendar

    from tests.booking_world import build_world, days_ahead
    from treatments.booking import (
        BookingRequest,
        appointment_book,
        appointment_cancel,
        appointment_reschedule,
    )

    # given a booking committed while a worker and beat run
    world = build_world()
    celery_stack.start("worker", "beat")
    appointment = appointment_book(
        BookingRequest(
            client=world.client(first_name="Olivia", email="olivia@example.com"),
            service=world.microcurrent,
            practitioner=world.dr_lee,
            start=days_ahead(world, 6, 10),
        )
    )
    logs = celery_stack.logs
    wait_until(lambda: len(smtp_server.messages) >= 1, timeout=90, message="the confirmation")
    # when it is moved, then cancelled, each once the previous mail went
    appointment_reschedule(appointment, start=days_ahead(world, 7, 11))
    wait_until(lambda: len(smtp_server.messages) >= 2, timeout=90, message="the reschedule notice")
    appointment.refresh_from_db()
    appointment_cancel(appointment)
    wait_until(lambda: len(smtp_server.messages) >= 3, timeout=90, message=f"the cancellation; {logs()}")
    time.sleep(3)  # more ticks: nothing else may go out (the reminders are days away)
    # then exactly one confirmation, and the invites tell one story
    subjects = [m["Subject"] for m in smtp_server.messages]
    assert len(subjects) == 3 and sum(s.startswith("Booked") for s in subjects) == 1
    story = []
    for message in smtp_server.messages:
        [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
        calendar = icalendar.Calendar.from_ical(part.get_payload(decode=True))
        [event] = calendar.walk("VEVENT")
        assert event["DTSTART"].params["TZID"] == "Europe/London"
        story.append((str(calendar["METHOD"]), str(event["UID"]), int(event["SEQUENCE"])))
    assert [method for method, _, _ in story] == ["REQUEST", "REQUEST", "CANCEL"]
    assert len({uid for _, uid, _ in story}) == 1
    assert [sequence for _, _, sequence in story] == [0, 1, 2]
