"""A practitioner follows their own visits in their phone's calendar: a secret link to an RFC 5545 feed
in the clinic's time zone, showing the service, the client's initials and the room, renewed or stopped
from their page."""

import datetime as dt

import icalendar
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clients.models import Client
from tests.booking_world import build_world, local
from treatments.booking import BookingRequest, appointment_book, appointment_cancel, appointment_reschedule
from treatments.feeds import calendar_feed_ics, calendar_feed_renew, calendar_feed_stop
from treatments.models import CalendarFeed

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    return build_world(slug="lumen-feed")


def _book(world, start, *, practitioner=None, first_name="Olivia", last_name="Smith", service=None):
    return appointment_book(
        BookingRequest(
            client=world.client(first_name=first_name, last_name=last_name),
            service=service or world.microcurrent,
            practitioner=practitioner or world.dr_lee,
            start=start,
        )
    )


def _events(text: str) -> list:
    return [c for c in icalendar.Calendar.from_ical(text).walk() if c.name == "VEVENT"]


def test_the_feed_holds_the_practitioners_own_visits_in_the_clinics_zone_and_no_names(client, world):
    ahead = _book(world, local(world, 2026, 12, 7, 10))
    _book(world, local(world, 2026, 12, 7, 12), practitioner=world.sam, first_name="Ava")  # Sam's
    cancelled = _book(world, local(world, 2026, 12, 8, 10), first_name="Tom")
    appointment_cancel(cancelled)
    _book(world, local(world, 2027, 6, 1, 10), first_name="Far")  # beyond four months
    feed = calendar_feed_renew(world.dr_lee)

    response = client.get(f"/feeds/{feed.token}/visits.ics")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    text = response.content.decode()
    calendar = icalendar.Calendar.from_ical(text)
    assert calendar["X-WR-CALNAME"] == "Lumen Skin Clinic: Dr Amara Lee"
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/London"]
    [event] = _events(text)
    assert str(event["SUMMARY"]) == "Microcurrent workout · O. S."
    assert event["DTSTART"].dt == local(world, 2026, 12, 7, 10)
    assert event["DTSTART"].params["TZID"] == "Europe/London"
    assert str(event["LOCATION"]) == ahead.room.name
    assert f"/appointments/{ahead.pk}/" in str(event["DESCRIPTION"])
    assert "Olivia" not in text and "Smith" not in text and "@example.com" not in text


def test_a_moved_visit_keeps_its_uid_with_a_higher_sequence_in_new_york(client):
    world = build_world(time_zone="America/New_York", slug="harbour-feed")
    visit = _book(world, local(world, 2027, 3, 15, 9))  # the day after the clocks go forward there
    feed = calendar_feed_renew(world.dr_lee)
    [before] = _events(calendar_feed_ics(feed))
    appointment_reschedule(visit, start=local(world, 2027, 3, 16, 9))
    [after] = _events(calendar_feed_ics(feed))
    assert str(after["UID"]) == str(before["UID"]) and int(after["SEQUENCE"]) > int(before["SEQUENCE"])
    assert after["DTSTART"].dt.strftime("%Y-%m-%d %H:%M %Z") == "2027-03-16 09:00 EDT"


def test_the_feed_takes_the_same_queries_for_few_and_many_visits(world):
    feed = calendar_feed_renew(world.dr_lee)

    def queries():
        fresh = CalendarFeed.objects.select_related("staff_member__clinic").get(pk=feed.pk)
        with CaptureQueriesContext(connection) as captured:
            calendar_feed_ics(fresh)
        return len(captured)

    _book(world, local(world, 2026, 12, 7, 9))
    few = queries()
    for day in range(8, 20):
        _book(world, local(world, 2026, 12, day, 9), first_name=f"C{day}")
    assert queries() == few == 3


def test_a_new_link_replaces_the_old_and_a_stopped_feed_is_gone(client, world):
    old = calendar_feed_renew(world.dr_lee).token
    new = calendar_feed_renew(world.dr_lee).token
    assert old != new and CalendarFeed.objects.count() == 1
    assert client.get(f"/feeds/{old}/visits.ics").status_code == 404
    assert client.get(f"/feeds/{new}/visits.ics").status_code == 200
    assert calendar_feed_stop(world.dr_lee) is True
    assert client.get(f"/feeds/{new}/visits.ics").status_code == 404
    assert calendar_feed_stop(world.dr_lee) is False


def test_a_practitioner_who_left_has_no_feed(client, world):
    feed = calendar_feed_renew(world.dr_lee)
    world.dr_lee.is_active = False
    world.dr_lee.save(update_fields=["is_active"])
    assert client.get(f"/feeds/{feed.token}/visits.ics").status_code == 404


def test_the_page_makes_renews_and_stops_the_link(client, world):
    client.force_login(world.dr_lee.user)
    assert "Your visits in your phone" in client.get("/calendar/").content.decode()
    page = client.get("/my-calendar/").content.decode()
    assert 'id="make-link"' in page
    made = client.post("/my-calendar/", {"action": "renew"}, follow=True).content.decode()
    feed = CalendarFeed.objects.get(staff_member=world.dr_lee)
    assert "Your link is ready" in made and f"/feeds/{feed.token}/visits.ics" in made
    assert f'href="webcal://testserver/feeds/{feed.token}/visits.ics"' in made or "webcal://" in made
    renewed = client.post("/my-calendar/", {"action": "renew"}, follow=True).content.decode()
    assert "the old one no longer works" in renewed
    assert CalendarFeed.objects.get().token != feed.token
    stopped = client.post("/my-calendar/", {"action": "stop"}, follow=True).content.decode()
    assert "The feed is stopped" in stopped and not CalendarFeed.objects.exists()


def test_the_front_desk_has_no_feed_of_their_own(client, world):
    client.force_login(world.desk.user)
    page = client.get("/my-calendar/").content.decode()
    assert "Only practitioners have visits of their own" in page
    client.post("/my-calendar/", {"action": "renew"})
    assert not CalendarFeed.objects.exists()
    assert "Your visits in your phone" not in client.get("/calendar/").content.decode()


def test_initials():
    assert Client(first_name="Olivia", last_name="Smith-Jones").initials == "O. S."
    assert Client(first_name="élodie", last_name=" ").initials == "É."


def test_the_last_fortnight_stays_in_the_feed_and_older_visits_leave_it(world):
    from treatments.models import Appointment

    def moved_back(visit, days):
        shift = dt.timedelta(days=days)
        Appointment.objects.filter(pk=visit.pk).update(
            start=visit.start - shift,
            end=visit.end - shift,
            blocked_start=visit.blocked_start - shift,
            blocked_end=visit.blocked_end - shift,
            status="fulfilled",
        )
        return visit

    recent = moved_back(_book(world, local(world, 2026, 12, 7, 10)), 16)  # 21 Nov: ten days ago
    moved_back(_book(world, local(world, 2026, 12, 7, 12), first_name="Old"), 26)  # 11 Nov
    assert [str(e["UID"]) for e in _events(calendar_feed_ics(calendar_feed_renew(world.dr_lee)))] == [
        f"visit-{recent.pk}-{world.dr_lee.pk}@{world.clinic.slug}.clinic"
    ]


def test_the_feed_shows_their_time_off_and_extra_hours(world):
    from clinic.models import ExtraHours, TimeOff

    TimeOff.objects.create(
        staff_member=world.dr_lee,
        start=local(world, 2026, 12, 10, 0),
        end=local(world, 2026, 12, 11, 0),
        reason="Training course",
    )
    TimeOff.objects.create(
        staff_member=world.sam, start=local(world, 2026, 12, 10, 0), end=local(world, 2026, 12, 11, 0)
    )
    ExtraHours.objects.create(
        staff_member=world.dr_lee, start=local(world, 2026, 12, 12, 18), end=local(world, 2026, 12, 12, 20)
    )
    events = _events(calendar_feed_ics(calendar_feed_renew(world.dr_lee)))
    assert [(str(e["SUMMARY"]), e["DTSTART"].dt) for e in events] == [
        ("Off: Training course", local(world, 2026, 12, 10, 0)),
        ("Extra hours", local(world, 2026, 12, 12, 18)),
    ]
