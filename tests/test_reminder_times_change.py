"""The clinic changes its reminder times: visits already booked follow, as the manager expects.

Reminders are rows written at booking. Before, a change from "24 h and 2 h" to "48 h and 2 h" reached
only visits booked afterwards: a client booked last week still got the 24 h reminder, and no 48 h one.
"""

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from clinic.models import OutboxMessage, OutboxStatus
from tests.booking_world import build_world, local
from tests.test_working_hours_clash import _FormFields
from treatments.booking import BookingRequest, appointment_book
from treatments.notifications import LEAD_TIMES_CHANGED, reminders_follow_lead_times

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    world = build_world()
    world.clinic.reminder_lead_hours = [24, 2]
    world.clinic.save()
    return world


def _book(world, day, hour):
    return appointment_book(
        BookingRequest(
            client=world.client(email=f"c{day}{hour}@example.com"),
            service=world.microcurrent,
            practitioner=world.dr_lee,
            start=local(world, 2026, 12, day, hour),
        )
    )


def _reminders(visit):
    """{lead: (status, due, why)} of the visit's reminders."""
    return {
        m.dedupe_key.split(":")[3]: (m.status, m.due_at, m.last_error)
        for m in OutboxMessage.objects.filter(
            topic=f"appointment:{visit.pk}", template_key="booking_reminder"
        )
    }


def _set_leads(world, leads):
    world.clinic.reminder_lead_hours = leads
    world.clinic.save()
    return reminders_follow_lead_times(world.clinic)


def test_visits_booked_before_the_change_get_the_new_reminder_times(world):
    visit = _book(world, 8, 10)
    assert set(_reminders(visit)) == {"24h", "2h"}
    assert _set_leads(world, [48, 2]) == (1, 1)
    reminders = _reminders(visit)
    assert reminders["48h"] == (OutboxStatus.PENDING, local(world, 2026, 12, 6, 10), "")
    assert reminders["24h"][::2] == (OutboxStatus.CANCELLED, LEAD_TIMES_CHANGED)
    assert reminders["2h"][0] == OutboxStatus.PENDING


def test_changing_back_schedules_the_cancelled_reminder_again_once(world):
    visit = _book(world, 8, 10)
    _set_leads(world, [48, 2])
    assert _set_leads(world, [24, 2]) == (1, 1)
    reminders = _reminders(visit)
    assert reminders["24h"] == (OutboxStatus.PENDING, local(world, 2026, 12, 7, 10), "")
    assert reminders["48h"][::2] == (OutboxStatus.CANCELLED, LEAD_TIMES_CHANGED)
    assert (
        OutboxMessage.objects.filter(topic=f"appointment:{visit.pk}", template_key="booking_reminder").count()
        == 3
    )
    # nothing changed: nothing moves
    assert reminders_follow_lead_times(world.clinic) == (0, 0)


def test_a_reminder_already_sent_or_already_past_is_not_written(world):
    soon = _book(world, 2, 10)  # tomorrow at 10:00: a 48 h reminder would have been due yesterday
    sent = _book(world, 8, 10)
    OutboxMessage.objects.filter(topic=f"appointment:{sent.pk}", dedupe_key__contains=":24h:").update(
        status=OutboxStatus.SENT, sent_at=local(world, 2026, 12, 1, 6)
    )
    _set_leads(world, [48, 24, 2])
    assert set(_reminders(soon)) == {"24h", "2h"}
    assert _reminders(sent)["24h"][0] == OutboxStatus.SENT
    assert OutboxMessage.objects.filter(dedupe_key__contains=":24h:", status=OutboxStatus.SENT).count() == 1


def test_no_reminders_at_all_cancels_those_still_to_go(world):
    visits = [_book(world, 8, 10), _book(world, 9, 11)]
    assert _set_leads(world, []) == (0, 4)
    assert all(status == OutboxStatus.CANCELLED for v in visits for status, _d, _w in _reminders(v).values())


def test_cancelled_visits_and_visits_gone_by_are_left_alone(world):
    from treatments.booking import appointment_cancel

    cancelled = _book(world, 8, 10)
    appointment_cancel(cancelled, reason="Ill")
    _set_leads(world, [48, 2])
    assert all(status == OutboxStatus.CANCELLED for status, _d, _w in _reminders(cancelled).values())
    assert "48h" not in _reminders(cancelled)


def _clinic_admin(client, world, **changes):
    url = reverse("admin:clinic_clinic_change", args=[world.clinic.pk])
    parser = _FormFields()
    parser.feed(client.get(url).content.decode())
    fields = {k: v for k, v in parser.fields.items() if "__prefix__" not in k}
    fields.update(changes)
    return client.post(url, fields, follow=True).content.decode()


@pytest.fixture
def owner(client, world):
    client.force_login(User.objects.create_superuser("owner", "owner@example.com", "pw"))
    return client


def test_the_manager_changes_them_in_the_clinic_settings_and_is_told_what_followed(owner, world):
    visits = [_book(world, 8, 10), _book(world, 9, 11)]
    page = _clinic_admin(owner, world, reminder_lead_hours="[48, 2]")
    assert "Reminders now go 48 h and 2 h before each visit." in page
    assert "The visits already booked follow: 2 reminders scheduled, 2 cancelled." in page
    assert all("48h" in _reminders(v) for v in visits)


@pytest.mark.parametrize(
    "leads, says",
    [
        ("[24, 24]", "Each reminder time once"),
        ("[0]", "each more than 0 and at most 744"),
        ("[100000]", "each more than 0 and at most 744"),
        ("[true]", "each more than 0 and at most 744"),
        ('["24"]', "each more than 0 and at most 744"),
        ("[1, 2, 3, 4, 5, 6]", "At most 5 reminders a visit."),
    ],
)
def test_reminder_times_a_booking_could_not_use_are_refused_in_words(owner, world, leads, says):
    visit = _book(world, 8, 10)
    page = _clinic_admin(owner, world, reminder_lead_hours=leads)
    assert says in page
    world.clinic.refresh_from_db()
    assert world.clinic.reminder_lead_hours == [24, 2]
    assert set(_reminders(visit)) == {"24h", "2h"}


def test_a_week_ahead_reminder_right_across_the_clock_change(db):
    """Lead times are real hours: 48 h before 10:00 on the Monday after the March change is 09:00 on
    the Saturday, by the clock."""
    world = build_world()
    visit = appointment_book(
        BookingRequest(
            client=world.client(email="march@example.com"),
            service=world.microcurrent,
            practitioner=world.dr_lee,
            start=local(world, 2027, 3, 29, 10),
        )
    )
    world.clinic.reminder_lead_hours = [48]
    world.clinic.save()
    reminders_follow_lead_times(world.clinic)
    due = _reminders(visit)["48h"][1]
    assert due == visit.start - dt.timedelta(hours=48)
    assert due.astimezone(world.clinic.zone).hour == 9
