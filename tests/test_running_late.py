"""A practitioner running late: the desk tells the clients of their visits still to start today. Each
client with a working address is emailed at once from the outbox with the likely start, in the clinic's
local time; the others are named to call; the visit's history and the day's list say so. A notice whose
visit was cancelled, moved or began before it went is not sent; a newer estimate replaces one not sent."""

import datetime as dt

import pytest
import time_machine
from django.test import Client as BrowserClient
from django.urls import reverse

from clinic.errors import ClinicError
from clinic.models import OutboxMessage, OutboxStatus
from clinic.tasks import deliver_due_messages_task
from tests.booking_world import build_world, local
from treatments.booking import (
    BookingRequest,
    appointment_book,
    appointment_cancel,
    appointment_reschedule,
    appointment_set_status,
    running_late_tell,
)
from treatments.links import manage_token
from treatments.models import AppointmentEvent, AppointmentStatus
from treatments.notifications import RUNNING_LATE

pytestmark = pytest.mark.django_db

# The suite's now is Tuesday 1 December 2026, 07:00 in London.


@pytest.fixture
def world(db):
    return build_world(slug="lumen-late")


def _book(world, hour, minute=0, *, day=1, email="olivia@example.com", phone="07700 900123", who=None):
    return appointment_book(
        BookingRequest(
            client=world.client(first_name="Olivia", last_name="Smith", email=email, phone=phone),
            service=world.microcurrent,
            practitioner=who or world.dr_lee,
            start=local(world, 2026, 12, day, hour, minute),
        ),
        actor=world.desk.user,
    )


def _late_notices(**filters):
    return list(OutboxMessage.objects.filter(template_key=RUNNING_LATE, **filters).order_by("id"))


def test_the_clients_are_emailed_the_likely_start_once(world, smtp_settings, smtp_server):
    ten = _book(world, 10)
    eleven = _book(world, 11, email="ada@example.com")
    deliver_due_messages_task()  # the confirmations
    smtp_server.messages.clear()
    told = running_late_tell(world.dr_lee, visit_ids=[ten.pk, eleven.pk], minutes=20, actor=world.desk.user)
    assert told.emailed == [ten, eleven] and told.to_call == []
    assert deliver_due_messages_task() == 2
    assert deliver_due_messages_task() == 0
    by_address = {m["To"].addresses[0].addr_spec: m for m in smtp_server.messages}
    first = by_address["olivia@example.com"]
    assert first["Subject"] == "Dr Amara Lee is running about 20 minutes late today"
    body = first.get_body(preferencelist=("plain",)).get_content()
    assert "Your Microcurrent workout booked for Tuesday 1 December 2026 at 10:00 will likely start" in body
    assert "around 10:20 (Europe/London time, GMT)" in body
    assert "/p/manage/" in body
    assert "around 11:20" in by_address["ada@example.com"].get_body(preferencelist=("plain",)).get_content()
    # the visits keep their times and their invites (no new SEQUENCE)
    ten.refresh_from_db()
    assert ten.start == local(world, 2026, 12, 1, 10) and ten.sequence == 0


def test_the_likely_start_is_said_in_local_time_across_a_clock_change(world):
    # New York's clocks go back at 02:00 on Sunday 1 November 2026: a visit at 01:50 EDT, 20 minutes
    # late, likely starts at 01:10 EST, which is 20 minutes later, not 40 minutes earlier.
    ny = build_world(time_zone="America/New_York", hours=(dt.time(0), dt.time(23, 59)), slug="ny-late")
    now = dt.datetime(2026, 11, 1, 5, 0, tzinfo=dt.UTC)  # 01:00 EDT that day
    with time_machine.travel(now, tick=False):
        visit = appointment_book(
            BookingRequest(
                client=ny.client(email="late@example.com"),
                service=ny.microcurrent,
                practitioner=ny.dr_lee,
                start=dt.datetime(2026, 11, 1, 5, 50, tzinfo=dt.UTC),  # 01:50 EDT
            )
        )
        running_late_tell(ny.dr_lee, visit_ids=[visit.pk], minutes=20)
    [notice] = _late_notices()
    assert notice.context["expected_local_time"] == "01:10"
    assert notice.context["local_start"].endswith("at 01:50")


def test_a_client_no_email_reaches_is_named_to_call_and_not_emailed(world, desk):
    ten = _book(world, 10, email="", phone="07700 900999")
    answer = desk.post(
        reverse("running-late"),
        {"practitioner": world.dr_lee.pk, "minutes": 15, "visit": [ten.pk]},
        follow=True,
    )
    page = answer.content.decode()
    assert "No email reaches Olivia Smith (07700 900999, 10:00): please call to tell them." in page
    assert _late_notices() == []
    [event] = AppointmentEvent.objects.filter(appointment=ten, action="running_late")
    assert event.details == {"minutes": 15, "emailed": False}
    assert event.actor == world.desk.user


def test_only_that_practitioners_visits_later_today_with_the_client_not_in_are_told(world):
    begun = _book(world, 10)
    tomorrow = _book(world, 10, day=2)
    sams = _book(world, 13, who=world.sam)
    arrived = _book(world, 11)
    appointment_set_status(arrived, status=AppointmentStatus.ARRIVED, actor=world.desk.user)
    later = _book(world, 12)
    told = running_late_tell(
        world.dr_lee,
        visit_ids=[begun.pk, tomorrow.pk, sams.pk, arrived.pk, later.pk],
        minutes=10,
        now=local(world, 2026, 12, 1, 10, 30),
    )
    assert told.emailed == [later]
    with pytest.raises(ClinicError) as refusal:
        running_late_tell(world.dr_lee, visit_ids=[tomorrow.pk, sams.pk], minutes=10)
    assert refusal.value.code == "nothing_to_tell"
    assert "nobody was told" in refusal.value.message


@pytest.mark.parametrize("minutes", [0, 7, 120, -5])
def test_how_late_must_be_one_of_the_choices(world, minutes):
    ten = _book(world, 10)
    with pytest.raises(ClinicError) as refusal:
        running_late_tell(world.dr_lee, visit_ids=[ten.pk], minutes=minutes)
    assert refusal.value.code == "late_minutes"
    assert _late_notices() == [] and not AppointmentEvent.objects.filter(action="running_late").exists()


def test_a_newer_estimate_replaces_one_not_sent_yet(world, smtp_settings, smtp_server):
    ten = _book(world, 10)
    running_late_tell(world.dr_lee, visit_ids=[ten.pk], minutes=10)
    running_late_tell(world.dr_lee, visit_ids=[ten.pk], minutes=30)
    first, second = _late_notices()
    assert first.status == OutboxStatus.CANCELLED
    assert first.last_error == "A later notice of running late replaced it."
    assert second.status == OutboxStatus.PENDING
    deliver_due_messages_task()
    late = [m for m in smtp_server.messages if "late" in m["Subject"]]
    assert [m["Subject"] for m in late] == ["Dr Amara Lee is running about 30 minutes late today"]


@pytest.mark.parametrize("change", ["cancelled", "moved", "arrived"])
def test_a_notice_whose_visit_changed_before_it_went_is_not_sent(world, smtp_settings, smtp_server, change):
    ten = _book(world, 10)
    deliver_due_messages_task()
    smtp_server.messages.clear()
    running_late_tell(world.dr_lee, visit_ids=[ten.pk], minutes=20)
    if change == "cancelled":
        appointment_cancel(ten, actor=world.desk.user)
    elif change == "moved":
        appointment_reschedule(ten, start=local(world, 2026, 12, 1, 14), actor=world.desk.user)
    else:
        appointment_set_status(ten, status=AppointmentStatus.ARRIVED, actor=world.desk.user)
    deliver_due_messages_task()
    [notice] = _late_notices()
    assert notice.status == OutboxStatus.CANCELLED
    assert not [m for m in smtp_server.messages if "running" in m["Subject"]]


def test_the_page_ticks_the_next_three_hours_and_says_who_was_told(world, desk):
    nine = _book(world, 9)
    three = _book(world, 15, email="ada@example.com")
    page = desk.get(reverse("running-late") + f"?practitioner={world.dr_lee.pk}").content.decode()
    assert f'name="visit" value="{nine.pk}" checked' in page
    assert f'name="visit" value="{three.pk}">' in page  # 15:00 is more than three hours away
    answer = desk.post(
        reverse("running-late"),
        {"practitioner": world.dr_lee.pk, "minutes": 20, "visit": [nine.pk]},
        follow=True,
    )
    assert "Emailed 1 client that Dr Amara Lee is running about 20 minutes late" in answer.content.decode()
    assert answer.redirect_chain[-1][0] == reverse("home")
    assert "Told: 20 min late" in answer.content.decode()  # on the day's list
    page = desk.get(reverse("running-late") + f"?practitioner={world.dr_lee.pk}").content.decode()
    assert "told 20 minutes at 07:00" in page
    history = desk.get(reverse("appointment-detail", args=[nine.pk])).content.decode()
    assert "Running about 20 minutes late: the client was emailed the likely start" in history


def test_the_page_refuses_bad_input_in_words_and_keeps_the_choices(world, desk):
    nine = _book(world, 9)
    answer = desk.post(reverse("running-late"), {"practitioner": world.dr_lee.pk, "visit": [nine.pk]})
    assert answer.status_code == 400
    assert "Choose how late from the list" in answer.content.decode()
    answer = desk.post(reverse("running-late"), {"practitioner": world.dr_lee.pk, "minutes": 20})
    assert answer.status_code == 400
    assert "None of the visits chosen is still ahead today with Dr Amara Lee" in answer.content.decode()
    answer = desk.post(reverse("running-late"), {"practitioner": "x", "minutes": 20, "visit": [nine.pk]})
    assert answer.status_code == 400
    assert "Choose whose clients to tell from the list." in answer.content.decode()
    assert _late_notices() == []


def test_another_clinics_visits_are_never_told(world, desk):
    other = build_world(slug="elsewhere-late")
    theirs = appointment_book(
        BookingRequest(
            client=other.client(email="x@example.com"),
            service=other.microcurrent,
            practitioner=other.dr_lee,
            start=local(other, 2026, 12, 1, 10),
        )
    )
    answer = desk.post(
        reverse("running-late"), {"practitioner": other.dr_lee.pk, "minutes": 20, "visit": [theirs.pk]}
    )
    assert answer.status_code == 400
    assert _late_notices() == []


def test_a_client_page_needs_no_change(world):
    """The client's own page keeps the visit's booked time: the notice gives an estimate only."""
    ten = _book(world, 10)
    running_late_tell(world.dr_lee, visit_ids=[ten.pk], minutes=20)
    page = BrowserClient().get(reverse("public-manage", args=[manage_token(ten)])).content.decode()
    assert "at 10:00" in page


def test_todays_list_links_the_page_while_visits_are_still_to_start(world, desk):
    nine = _book(world, 9)
    assert "Someone running late? Tell their clients" in desk.get(reverse("home")).content.decode()
    with time_machine.travel(local(world, 2026, 12, 1, 9, 30), tick=False):
        appointment_set_status(nine, status=AppointmentStatus.ARRIVED, actor=world.desk.user)
        assert "Someone running late?" not in desk.get(reverse("home")).content.decode()
