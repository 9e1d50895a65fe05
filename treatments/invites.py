"""RFC 5545 calendar invites for appointments: one stable UID, SEQUENCE rising with every change."""

import datetime as dt
from functools import lru_cache

import icalendar
from django.utils import timezone

from treatments.models import Appointment

PRODID = "-//Open clinic software//Appointments//EN"
# The VTIMEZONE lists the zone's changes from here on: enough for any visit booked now, and a third
# of the size (and serialising time) of icalendar's default from 1970.
VTIMEZONE_FROM = dt.date(2020, 1, 1)


def appointment_uid(appointment: Appointment) -> str:
    """Return the invite UID, the same for the appointment's whole life."""
    return f"appointment-{appointment.pk}@{appointment.clinic.slug}.clinic"


def appointment_invite(appointment: Appointment, *, method: str = "REQUEST") -> str:
    """Return the invite (METHOD REQUEST or CANCEL) with DTSTART in the clinic's zone and its VTIMEZONE."""
    calendar = calendar_of(appointment.clinic, method)
    event = _event(appointment, status="CANCELLED" if method == "CANCEL" else "CONFIRMED")
    if appointment.client.email:
        event.add(
            "attendee", f"mailto:{appointment.client.email}", parameters={"CN": appointment.client.full_name}
        )
    calendar.add_component(event)
    return calendar.to_ical().decode()


def appointment_calendar_file(appointment: Appointment) -> str:
    """The visit as a calendar file to download from the client's page (METHOD PUBLISH): the invite's
    UID and SEQUENCE, so a calendar that holds the emailed invite updates that event, not a second."""
    calendar = calendar_of(appointment.clinic, "PUBLISH")
    calendar.add_component(_event(appointment, status="CONFIRMED" if appointment.is_active else "CANCELLED"))
    return calendar.to_ical().decode()


def course_invite(appointments: list[Appointment], *, status: str = "CONFIRMED") -> str:
    """Return one calendar file holding several sessions of a course (METHOD PUBLISH).

    iTIP allows several events with different UIDs only when publishing, so the course is published;
    each event keeps its appointment's UID and SEQUENCE, and a later change to one session is sent
    as a REQUEST (or CANCEL) for that UID, which calendars apply to the event they already hold.
    Cancelling the rest of a course publishes those sessions again with STATUS:CANCELLED.
    """
    calendar = calendar_of(appointments[0].clinic, "PUBLISH")
    for appointment in appointments:
        calendar.add_component(_event(appointment, status=status))
    return calendar.to_ical().decode()


def calendar_of(clinic, method: str) -> icalendar.Calendar:
    """An empty calendar of the clinic's (PRODID, VERSION, METHOD), with its zone's VTIMEZONE."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", method)
    calendar.add_component(_vtimezone(clinic.time_zone))
    return calendar


def _event(appointment: Appointment, *, status: str) -> icalendar.Event:
    clinic = appointment.clinic
    event = icalendar.Event()
    event.add("uid", appointment_uid(appointment))
    event.add("sequence", appointment.sequence)
    event.add("dtstamp", timezone.now().astimezone(dt.UTC))
    event.add("dtstart", timezone.localtime(appointment.start, clinic.zone))
    event.add("dtend", timezone.localtime(appointment.end, clinic.zone))
    event.add("summary", f"{appointment.service.name} at {clinic.name}")
    event.add("location", clinic.address or clinic.name)
    event.add("status", status)
    if clinic.email:
        event.add("organizer", f"mailto:{clinic.email}", parameters={"CN": clinic.name})
    return event


@lru_cache(maxsize=64)
def _vtimezone(tzid: str) -> icalendar.Timezone:
    """Return the zone's VTIMEZONE; built once per process (about 10 ms from the zone's transitions)."""
    return icalendar.Timezone.from_tzid(tzid, first_date=VTIMEZONE_FROM)
