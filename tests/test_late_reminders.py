"""Mail that waited out an outage goes only while it is still true and still useful.

A worker or the mail server down for hours leaves reminders due. Sent as they are once things
recover, a client would get a reminder for a visit that has begun, or two reminders at once.
Delivery leaves those out, with the reason on the timeline, and sends the one that still helps.
"""

import pytest
import time_machine
from django.urls import reverse

from clinic.models import OutboxMessage, OutboxStatus
from clinic.outbox import outbox_claim_due, outbox_deliver, outbox_resend
from clinic.tasks import deliver_due_messages_task
from tests.booking_world import build_world, local
from treatments.booking import BookingRequest, appointment_book, appointment_reschedule

pytestmark = pytest.mark.django_db
VISIT = (2026, 12, 8, 10)  # Tuesday 8 December, 10:00 in London; reminders due Mon 10:00 and Tue 08:00


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def visit(world, smtp_settings, smtp_server):
    """Olivia's visit, booked on 1 December, its confirmation delivered then."""
    with time_machine.travel(local(world, 2026, 12, 1, 9), tick=False):
        appointment = appointment_book(
            BookingRequest(
                client=world.client(first_name="Olivia", email="olivia@example.com"),
                service=world.microcurrent,
                practitioner=world.dr_lee,
                start=local(world, *VISIT),
            )
        )
        assert deliver_due_messages_task() == 1
    with smtp_server.handler.lock:
        smtp_server.handler.envelopes.clear()
    return appointment


def _deliver_at(world, *when):
    with time_machine.travel(local(world, *when), tick=False):
        return deliver_due_messages_task()


def _reminder(appointment, lead_hours) -> OutboxMessage:
    return OutboxMessage.objects.get(dedupe_key=f"appointment:{appointment.pk}:reminder:{lead_hours}h:0")


def _subjects(smtp_server):
    return [m["Subject"] for m in smtp_server.messages]


def test_on_time_each_reminder_goes_at_its_own_time(world, visit, smtp_server):
    assert _deliver_at(world, 2026, 12, 7, 10) == 1
    assert _deliver_at(world, 2026, 12, 8, 8) == 1
    assert (
        _subjects(smtp_server)
        == ["Reminder: Microcurrent workout on Tuesday 8 December 2026 at 10:00 (GMT)"] * 2
    )


def test_after_an_outage_past_the_visits_start_no_reminder_goes(client, world, visit, smtp_server):
    # nothing delivered from Monday morning until 10:30 on Tuesday
    assert _deliver_at(world, 2026, 12, 8, 10, 30) == 0
    assert smtp_server.messages == []
    for lead_hours in (24, 2):
        reminder = _reminder(visit, lead_hours)
        assert (reminder.status, reminder.last_error) == (
            OutboxStatus.CANCELLED,
            "Not sent: the visit has begun.",
        )
    client.force_login(world.desk.user)
    page = client.get(reverse("appointment-detail", args=[visit.pk])).content.decode()
    assert page.count("Not sent: the visit has begun.") == 2


def test_a_late_reminder_with_the_nearer_one_due_within_the_hour_gives_way_to_it(world, visit, smtp_server):
    # back at 07:30 on Tuesday: the day-before reminder is 21.5 hours late, the 2 h one due at 08:00
    assert _deliver_at(world, 2026, 12, 8, 7, 30) == 0
    day_before = _reminder(visit, 24)
    assert (day_before.status, day_before.last_error) == (
        OutboxStatus.CANCELLED,
        "Not sent: it was late, and the reminder nearer the visit goes instead.",
    )
    assert _deliver_at(world, 2026, 12, 8, 8) == 1
    assert len(smtp_server.messages) == 1
    assert _reminder(visit, 2).status == OutboxStatus.SENT


def test_two_reminders_due_in_the_same_batch_make_one_email(world, visit, smtp_server):
    assert _deliver_at(world, 2026, 12, 8, 8, 30) == 1
    assert len(smtp_server.messages) == 1
    assert _reminder(visit, 2).status == OutboxStatus.SENT
    assert _reminder(visit, 24).status == OutboxStatus.CANCELLED


def test_a_late_reminder_still_goes_when_the_nearer_one_is_hours_away(world, visit, smtp_server):
    # back at 18:00 on Monday, eight hours late; the 2 h reminder is due at 08:00 tomorrow
    assert _deliver_at(world, 2026, 12, 7, 18) == 1
    assert _reminder(visit, 24).status == OutboxStatus.SENT
    assert _deliver_at(world, 2026, 12, 8, 8) == 1
    assert len(smtp_server.messages) == 2


def test_a_copy_staff_ask_for_goes_even_with_the_next_reminder_due_soon(world, visit, smtp_server):
    assert _deliver_at(world, 2026, 12, 7, 10) == 1
    with time_machine.travel(local(world, 2026, 12, 8, 7, 30), tick=False):
        outbox_resend(_reminder(visit, 24), recipient_email="olivia@example.com")
        assert deliver_due_messages_task() == 1
    # and the copy does not stand in for the reminder still to come
    assert _deliver_at(world, 2026, 12, 8, 8) == 1
    assert len(smtp_server.messages) == 3


def test_a_reminder_claimed_as_the_visit_moves_is_not_sent_with_the_old_time(world, visit, smtp_server):
    with time_machine.travel(local(world, 2026, 12, 7, 10), tick=False):
        claimed = outbox_claim_due()
        assert claimed == [_reminder(visit, 24).pk]
        # the front desk moves the visit while the worker holds the reminder
        appointment_reschedule(visit, start=local(world, 2026, 12, 9, 14))
        assert outbox_deliver(claimed) == 0
    assert smtp_server.messages == []
    assert _reminder(visit, 24).last_error == "Not sent: the visit moved to Wed 9 Dec 14:00."
    # the notice of the move and the new reminders go as usual
    assert _deliver_at(world, 2026, 12, 7, 10, 1) == 1
    assert smtp_server.messages[0]["Subject"].startswith("Changed:")


def test_a_check_that_fails_never_stops_the_mail(world, visit, smtp_server, monkeypatch):
    from clinic import outbox

    def broken(messages, now, delivering):
        raise KeyError("a bug in a higher layer's check")

    monkeypatch.setattr(outbox, "_out_of_date_checks", [*outbox._out_of_date_checks, broken])
    assert _deliver_at(world, 2026, 12, 7, 10) == 1
    assert _reminder(visit, 24).status == OutboxStatus.SENT
