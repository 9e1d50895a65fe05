"""Booking mail: written with the change, delivered through a real SMTP server, with RFC 5545 invites."""

import datetime as dt

import icalendar
import pytest
import time_machine
from django.db import transaction

from clinic.models import OutboxMessage, OutboxStatus
from clinic.tasks import deliver_due_messages_task
from tests.booking_world import build_world, local
from treatments.booking import (
    BookingRequest,
    appointment_book,
    appointment_cancel,
    appointment_reschedule,
    course_book,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    world = build_world()
    world.clinic.email = "hello@lumen.example"
    world.clinic.save(update_fields=["email"])
    return world


def book(world, start, **kwargs):
    return appointment_book(
        BookingRequest(
            client=world.client(first_name="Olivia", email="olivia@example.com"),
            service=world.microcurrent,
            practitioner=world.dr_lee,
            start=start,
            **kwargs,
        )
    )


def invite_of(message) -> icalendar.Calendar:
    [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    return icalendar.Calendar.from_ical(part.get_payload(decode=True)), part


def test_booking_sends_exactly_one_confirmation_with_an_invite(world, smtp_settings, smtp_server):
    appointment = book(world, local(world, 2026, 12, 7, 10))
    assert deliver_due_messages_task() == 1
    assert deliver_due_messages_task() == 0
    [message] = smtp_server.messages
    calendar, part = invite_of(message)
    assert part.get_param("method") == "REQUEST"
    assert str(calendar["METHOD"]) == "REQUEST"
    [event] = calendar.walk("VEVENT")
    assert str(event["UID"]) == f"appointment-{appointment.pk}@{world.clinic.slug}.clinic"
    assert event["DTSTART"].params["TZID"] == "Europe/London"
    assert event.decoded("DTSTART") == local(world, 2026, 12, 7, 10)
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/London"]
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "Monday 7 December 2026 at 10:00 (Europe/London time, GMT)" in body
    assert (
        f"{appointment.service.name} with {appointment.practitioner.display_name}, £100\r\n" in body
    )  # as booked


def test_reschedule_keeps_the_uid_and_raises_the_sequence_and_cancel_says_cancel(
    world, smtp_settings, smtp_server
):
    appointment = book(world, local(world, 2026, 12, 7, 10))
    deliver_due_messages_task()
    appointment_reschedule(appointment, start=local(world, 2026, 12, 8, 11))
    deliver_due_messages_task()
    appointment_cancel(appointment.__class__.objects.get(pk=appointment.pk))
    deliver_due_messages_task()
    events = []
    for message in smtp_server.messages:
        calendar, _ = invite_of(message)
        [event] = calendar.walk("VEVENT")
        events.append((str(calendar["METHOD"]), str(event["UID"]), int(event["SEQUENCE"])))
    assert [method for method, _, _ in events] == ["REQUEST", "REQUEST", "CANCEL"]
    assert len({uid for _, uid, _ in events}) == 1
    assert [sequence for _, _, sequence in events] == [0, 1, 2]


def test_a_course_is_one_confirmation_listing_every_session_with_one_calendar_file(
    world, smtp_settings, smtp_server
):
    client = world.client(first_name="Olivia", email="olivia@example.com")
    starts = [local(world, 2027, 3, 22, 10), local(world, 2027, 3, 29, 10), local(world, 2027, 4, 5, 10)]
    course = course_book(client=client, service=world.microcurrent, practitioner=world.dr_lee, starts=starts)
    sessions = list(course.appointments.order_by("start"))

    assert deliver_due_messages_task() == 1  # the reminders are due later, one pair per session
    [message] = smtp_server.messages
    assert (
        message["Subject"] == "Booked: 3 sessions of Microcurrent workout, from Monday 22 March 2027 at 10:00"
    )
    body = message.get_body(preferencelist=("plain",)).get_content()
    # the clocks change on 28 March: every visit is still at 10:00, and the zone says so
    assert "1. Monday 22 March 2027 at 10:00 (GMT)" in body
    assert "2. Monday 29 March 2027 at 10:00 (BST)" in body
    assert "3. Monday 5 April 2027 at 10:00 (BST)" in body
    calendar, part = invite_of(message)
    assert part.get_param("method") == "PUBLISH" and str(calendar["METHOD"]) == "PUBLISH"
    events = calendar.walk("VEVENT")
    assert [str(e["UID"]) for e in events] == [
        f"appointment-{a.pk}@{world.clinic.slug}.clinic" for a in sessions
    ]
    assert [e.decoded("DTSTART") for e in events] == starts
    assert {e["DTSTART"].params["TZID"] for e in events} == {"Europe/London"}
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/London"]
    pending = OutboxMessage.objects.filter(client_id=client.pk, status=OutboxStatus.PENDING)
    assert sorted(pending.values_list("template_key", flat=True)) == ["booking_reminder"] * 6
    assert not OutboxMessage.objects.filter(template_key="booking_confirmation").exists()


def test_cancelling_one_session_of_a_course_cancels_that_one_in_the_calendar(
    world, smtp_settings, smtp_server
):
    client = world.client(first_name="Olivia", email="olivia@example.com")
    starts = [local(world, 2026, 12, 7, 10), local(world, 2026, 12, 14, 10)]
    course = course_book(client=client, service=world.microcurrent, practitioner=world.dr_lee, starts=starts)
    deliver_due_messages_task()
    first, second = course.appointments.order_by("start")

    appointment_cancel(second)

    deliver_due_messages_task()
    _, cancellation = smtp_server.messages
    calendar, _ = invite_of(cancellation)
    [event] = calendar.walk("VEVENT")
    assert str(calendar["METHOD"]) == "CANCEL"
    assert str(event["UID"]) == f"appointment-{second.pk}@{world.clinic.slug}.clinic"
    assert int(event["SEQUENCE"]) == 1
    kept = OutboxMessage.objects.filter(status=OutboxStatus.PENDING, template_key="booking_reminder")
    assert {m.topic for m in kept} == {f"appointment:{first.pk}"}


def test_reminders_are_rows_due_at_the_clinics_lead_times(world):
    appointment = book(world, local(world, 2026, 12, 7, 10))
    reminders = OutboxMessage.objects.filter(
        topic=f"appointment:{appointment.pk}", template_key="booking_reminder"
    )
    assert sorted(r.due_at for r in reminders) == [
        local(world, 2026, 12, 6, 10),  # 24 h
        local(world, 2026, 12, 7, 8),  # 2 h
    ]


@pytest.mark.parametrize(
    ("zone", "visit", "due_utc"),
    [
        # 09:00 local the day after clocks go forward: 24 real hours earlier
        ("Europe/London", (2027, 3, 29), dt.datetime(2027, 3, 28, 8, tzinfo=dt.UTC)),
        ("America/New_York", (2027, 3, 15), dt.datetime(2027, 3, 14, 13, tzinfo=dt.UTC)),
        # and the day after they go back
        ("Europe/London", (2027, 11, 1), dt.datetime(2027, 10, 31, 9, tzinfo=dt.UTC)),
        ("America/New_York", (2027, 11, 8), dt.datetime(2027, 11, 7, 14, tzinfo=dt.UTC)),
    ],
)
def test_a_reminder_after_a_dst_change_is_due_at_the_right_instant(db, zone, visit, due_utc):
    world = build_world(time_zone=zone)
    appointment = appointment_book(
        BookingRequest(
            client=world.client(email="c@example.com"),
            service=world.microcurrent,
            practitioner=world.dr_lee,
            start=local(world, *visit, 9),
        )
    )
    day_before = OutboxMessage.objects.get(dedupe_key=f"appointment:{appointment.pk}:reminder:24h:0")
    assert day_before.due_at == due_utc


def _reminders_due(world, appointment):
    return sorted(
        OutboxMessage.objects.filter(
            topic=f"appointment:{appointment.pk}",
            template_key="booking_reminder",
            status=OutboxStatus.PENDING,
        ).values_list("due_at", flat=True)
    )


@pytest.mark.parametrize(
    ("booked_at", "reminders_due"),
    [
        # both reminders still ahead, each more than an hour after the confirmation
        ((2026, 12, 5, 9, 0), [(2026, 12, 6, 10, 0), (2026, 12, 7, 8, 0)]),
        # the day-before one would come 30 minutes after the confirmation: left out
        ((2026, 12, 6, 9, 30), [(2026, 12, 7, 8, 0)]),
        # the day-before one passed; the 2 h one is an hour after the confirmation: kept
        ((2026, 12, 7, 7, 0), [(2026, 12, 7, 8, 0)]),
        # booked at 07:50 for 10:00: the 2 h one would come ten minutes later
        ((2026, 12, 7, 7, 50), []),
        # booked 90 minutes ahead: both times have passed
        ((2026, 12, 7, 8, 30), []),
    ],
)
def test_no_reminder_comes_right_after_the_confirmation(world, booked_at, reminders_due):
    world.dr_lee.working_hours.update(start_time=dt.time(0), end_time=dt.time(23, 59))
    with time_machine.travel(local(world, *booked_at), tick=False):
        appointment = book(world, local(world, 2026, 12, 7, 10))
    assert OutboxMessage.objects.filter(
        topic=f"appointment:{appointment.pk}", template_key="booking_confirmation"
    ).exists()
    assert _reminders_due(world, appointment) == [local(world, *due) for due in reminders_due]


def test_a_move_close_to_the_new_time_leaves_out_the_reminder_that_would_follow_the_notice(world):
    with time_machine.travel(local(world, 2026, 12, 1, 9), tick=False):
        appointment = book(world, local(world, 2026, 12, 7, 10))
    assert len(_reminders_due(world, appointment)) == 2
    # moved at 11:45 to 14:00 the same day: the 2 h reminder would come 15 minutes after the notice
    with time_machine.travel(local(world, 2026, 12, 7, 11, 45), tick=False):
        appointment_reschedule(appointment, start=local(world, 2026, 12, 7, 14))
    assert _reminders_due(world, appointment) == []
    assert OutboxMessage.objects.filter(
        topic=f"appointment:{appointment.pk}", template_key="booking_rescheduled", status=OutboxStatus.PENDING
    ).exists()


def test_rescheduling_moves_the_pending_reminders(world):
    appointment = book(world, local(world, 2026, 12, 7, 10))
    appointment_reschedule(appointment, start=local(world, 2026, 12, 9, 14))
    pending = OutboxMessage.objects.filter(
        topic=f"appointment:{appointment.pk}", template_key="booking_reminder", status=OutboxStatus.PENDING
    )
    assert sorted(r.due_at for r in pending) == [local(world, 2026, 12, 8, 14), local(world, 2026, 12, 9, 12)]
    assert (
        OutboxMessage.objects.filter(template_key="booking_reminder", status=OutboxStatus.CANCELLED).count()
        == 2
    )


def test_cancelling_means_the_reminders_are_never_sent(world):
    appointment = book(world, local(world, 2026, 12, 7, 10))
    appointment_cancel(appointment)
    assert not OutboxMessage.objects.filter(
        template_key="booking_reminder", status=OutboxStatus.PENDING
    ).exists()


def test_a_rolled_back_booking_leaves_no_message(world):
    with pytest.raises(RuntimeError), transaction.atomic():
        book(world, local(world, 2026, 12, 7, 10))
        raise RuntimeError("something later in the same transaction failed")
    assert not OutboxMessage.objects.exists()


def test_a_booking_succeeds_when_the_broker_is_down(world, monkeypatch, django_capture_on_commit_callbacks):
    from clinic.tasks import deliver_due_messages_task as task

    def broker_down(*args, **kwargs):
        raise ConnectionRefusedError("Error 111 connecting to 127.0.0.1:6379")

    monkeypatch.setattr(task, "apply_async", broker_down)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        appointment = book(world, local(world, 2026, 12, 7, 10))
    assert callbacks  # the kick was attempted, failed, and was only logged
    assert appointment.pk
    assert OutboxMessage.objects.get(dedupe_key=f"appointment:{appointment.pk}:booked").status == "pending"


def test_a_visit_moved_before_its_confirmation_went_out_sends_only_the_new_time(
    world, smtp_settings, smtp_server
):
    # given a booking whose confirmation has not gone out yet (a worker behind, the broker down)
    appointment = book(world, local(world, 2026, 12, 7, 10))
    moved = appointment_reschedule(appointment, start=local(world, 2026, 12, 8, 11))
    moved_again = appointment_reschedule(moved, start=local(world, 2026, 12, 8, 15))
    # when the worker catches up
    assert deliver_due_messages_task() == 1
    # then the client gets one email, with the time that holds and the latest invite
    [message] = smtp_server.messages
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "Tuesday 8 December 2026 at 15:00" in body and "10:00" not in body and "11:00" not in body
    calendar, _ = invite_of(message)
    [event] = calendar.walk("VEVENT")
    assert int(event["SEQUENCE"]) == moved_again.sequence == 2
    cancelled = OutboxMessage.objects.filter(
        topic=f"appointment:{appointment.pk}", status=OutboxStatus.CANCELLED
    )
    assert {m.template_key for m in cancelled if "gives the new time" in m.last_error} == {
        "booking_confirmation",
        "booking_rescheduled",
    }
