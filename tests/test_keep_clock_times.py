"""A clinic set up in the wrong time zone, corrected: its visits ahead go back to the clock times they
were booked at, in one action, each moved as a reschedule.

Ann is booked at 10:00 and Bea at 15:00 on Tuesday 8 December, with Dr Lee, while the clinic's zone is
wrong. Once corrected, each shows five hours off. Keeping their clock times puts Ann at 10:00 and Bea
at 15:00 again, in the right zone, whichever way the shift goes. Moved in the wrong order, one would
be refused for the other still in its way.
"""

import datetime as dt
import zoneinfo

import pytest
from django.urls import reverse

from clinic.models import Clinic, OutboxMessage
from tests.booking_world import build_world, local
from treatments.booking import (
    BookingRequest,
    appointment_book,
    same_clock_time_in,
    visits_keep_their_clock_times,
)
from treatments.models import Appointment

pytestmark = pytest.mark.django_db

LONDON, NEW_YORK = "Europe/London", "America/New_York"


def booked_in_the_wrong_zone(wrong: str, right: str):
    world = build_world(time_zone=wrong, hours=(dt.time(8), dt.time(18)))
    visits = [
        appointment_book(
            BookingRequest(
                client=world.client(first_name=name),
                service=world.microneedling,
                practitioner=world.dr_lee,
                start=local(world, 2026, 12, 8, hour),
            )
        )
        for name, hour in (("Ann", 10), ("Bea", 15))
    ]
    Clinic.objects.filter(pk=world.clinic.pk).update(time_zone=right)
    world.clinic.refresh_from_db()
    return world, visits


@pytest.mark.parametrize(
    ("wrong", "right"), [(NEW_YORK, LONDON), (LONDON, NEW_YORK)], ids=["earlier", "later"]
)
def test_every_visit_ahead_goes_back_to_its_clock_time_in_the_right_zone(wrong, right):
    world, (ann, bea) = booked_in_the_wrong_zone(wrong, right)
    assert ann.start.astimezone(world.clinic.zone).hour != 10  # five hours off, as the warning says
    moved, refused = visits_keep_their_clock_times(world.clinic, was_zone_name=wrong)
    assert refused == [] and len(moved) == 2
    ann.refresh_from_db()
    bea.refresh_from_db()
    assert (ann.start, bea.start) == (local(world, 2026, 12, 8, 10), local(world, 2026, 12, 8, 15))
    event = ann.events.get(action="rescheduled")
    assert event.details["reason"] == f"The clinic's time zone was corrected from {wrong}: kept at 10:00."
    notices = OutboxMessage.objects.filter(template_key="booking_rescheduled")
    assert {m.topic for m in notices} == {f"appointment:{ann.pk}", f"appointment:{bea.pk}"}
    assert visits_keep_their_clock_times(world.clinic, was_zone_name=right) == ([], [])  # nothing again


def test_a_clock_time_the_clocks_skip_in_the_right_zone_has_no_instant():
    skipped = dt.datetime(2027, 3, 28, 1, 30, tzinfo=dt.UTC)  # London goes from 01:00 to 02:00
    assert same_clock_time_in(skipped, was_zone=dt.UTC, zone=zoneinfo.ZoneInfo(LONDON)) is None
    kept = same_clock_time_in(skipped, was_zone=dt.UTC, zone=zoneinfo.ZoneInfo(NEW_YORK))
    assert kept == dt.datetime(2027, 3, 28, 1, 30, tzinfo=zoneinfo.ZoneInfo(NEW_YORK))


def test_the_manager_previews_then_moves_them_from_the_zone_warning(client):
    world, (ann, bea) = booked_in_the_wrong_zone(NEW_YORK, LONDON)
    client.force_login(world.manager.user)
    url = reverse("keep-clock-times")
    page = client.get(url, {"from": NEW_YORK}).content.decode()
    assert "Tue 8 Dec 15:00</td><td>Tue 8 Dec 10:00" in page and "Move 2 visits back" in page
    response = client.post(url, {"from": NEW_YORK}, follow=True)
    assert "2 visits moved back to the clock times they were booked at" in response.content.decode()
    assert Appointment.objects.get(pk=ann.pk).start == local(world, 2026, 12, 8, 10)
    for bad, says in (
        (LONDON, "is Europe/London already"),
        ("Mars/Olympus", "Give the time zone"),
        ("", "Give"),
    ):
        response = client.get(url, {"from": bad})
        assert response.status_code == 400 and says in response.content.decode()
    client.force_login(world.desk.user)
    assert client.get(url, {"from": NEW_YORK}).status_code == 403
