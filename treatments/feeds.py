"""A practitioner's visits as a calendar feed their phone or computer subscribes to.

One secret link per staff member (`CalendarFeed`); the calendar app fetches it every so often and
shows the visits in the clinic's time zone. The feed says what a colleague glancing at a lock screen
may see: the service, the client's initials, the room; the visit's page, behind the clinic's sign-in,
says the rest.
"""

import datetime as dt
import secrets

import icalendar
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from clients.links import absolute_url
from clinic.models import ExtraHours, StaffMember, TimeOff
from treatments.invites import calendar_of
from treatments.models import INACTIVE_STATUSES, Appointment, CalendarFeed

# The visits a feed holds: the last fortnight (to look back at) and the next four months.
FEED_PAST = dt.timedelta(days=14)
FEED_AHEAD = dt.timedelta(days=120)
# How often calendar apps are asked to fetch it again (RFC 7986 REFRESH-INTERVAL).
FEED_REFRESH = dt.timedelta(minutes=15)


def feed_url(feed: CalendarFeed) -> str:
    return absolute_url(reverse("calendar-feed", args=[feed.token]))


@transaction.atomic
def calendar_feed_renew(member: StaffMember) -> CalendarFeed:
    """Give the staff member a feed link, a new one if they had one (the old stops working)."""
    feed, _ = CalendarFeed.objects.update_or_create(
        staff_member=member,
        defaults={"token": secrets.token_urlsafe(32), "created_at": timezone.now()},
    )
    return feed


def calendar_feed_stop(member: StaffMember) -> bool:
    """Stop the staff member's feed; False if they had none."""
    deleted, _ = CalendarFeed.objects.filter(staff_member=member).delete()
    return bool(deleted)


def calendar_feed_ics(feed: CalendarFeed, *, now: dt.datetime | None = None) -> str:
    """The feed's calendar: the staff member's active visits from a fortnight back to four months on,
    each with a UID of its own (not the client's invite's), its SEQUENCE, and DTSTART in the clinic's
    zone with the zone's VTIMEZONE; then their time off and extra hours in that span. Three queries
    whatever the number of visits."""
    now = now or timezone.now()
    member = feed.staff_member
    clinic = member.clinic
    zone = clinic.zone
    visits = (
        Appointment.objects.filter(practitioner=member, start__lt=now + FEED_AHEAD, end__gt=now - FEED_PAST)
        .exclude(status__in=INACTIVE_STATUSES)
        .select_related("client", "service", "room")
        .order_by("start", "id")
    )
    calendar = calendar_of(clinic, "PUBLISH")
    calendar.add("x-wr-calname", f"{clinic.name}: {member.display_name}")
    calendar.add("x-wr-timezone", clinic.time_zone)
    calendar.add("refresh-interval", FEED_REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", FEED_REFRESH)
    stamp = now.astimezone(dt.UTC)
    for visit in visits:
        event = icalendar.Event()
        event.add("uid", f"visit-{visit.pk}-{member.pk}@{clinic.slug}.clinic")
        event.add("sequence", visit.sequence)
        event.add("dtstamp", stamp)
        event.add("dtstart", timezone.localtime(visit.start, zone))
        event.add("dtend", timezone.localtime(visit.end, zone))
        event.add("summary", f"{visit.service.name} · {visit.client.initials}")
        if visit.room:
            event.add("location", visit.room.name)
        event.add(
            "description", f"Open the visit: {absolute_url(reverse('appointment-detail', args=[visit.pk]))}"
        )
        event.add("status", "CONFIRMED")
        event.add("transp", "OPAQUE")
        calendar.add_component(event)
    # their time off (a sick day, a course, the clinic closed) and extra hours, so the week reads whole
    window = {"staff_member": member, "start__lt": now + FEED_AHEAD, "end__gt": now - FEED_PAST}
    for kind, title, rows in (
        ("time-off", "Off", TimeOff.objects.filter(**window)),
        ("extra-hours", "Extra hours", ExtraHours.objects.filter(**window)),
    ):
        for row in rows.order_by("start", "id"):
            event = icalendar.Event()
            event.add("uid", f"{kind}-{row.pk}@{clinic.slug}.clinic")
            event.add("dtstamp", stamp)
            event.add("dtstart", timezone.localtime(row.start, zone))
            event.add("dtend", timezone.localtime(row.end, zone))
            event.add("summary", f"{title}: {row.reason}" if row.reason else title)
            event.add("transp", "TRANSPARENT")
            calendar.add_component(event)
    return calendar.to_ical().decode()
