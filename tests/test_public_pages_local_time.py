"""The client's pages give every time in the clinic's own zone, whatever the server's, in summer too.

The server runs in UTC. Staff pages show the clinic's zone because the signed-in member's clinic
is known; a client is not signed in, so the public pages set the clinic's zone themselves. Without
it, a New York client saw 15:00 for a 10:00 visit, and a London client 09:00 for one in summer.
"""

import datetime as dt

import pytest
import time_machine

from tests.booking_world import build_world, local
from treatments.booking import BookingRequest, appointment_book
from treatments.links import manage_token

pytestmark = pytest.mark.django_db


def _world(zone):
    world = build_world(time_zone=zone, slug="clinic-here")
    world.microcurrent.bookable_online = True
    world.microcurrent.save(update_fields=["bookable_online"])
    return world


def _details(client, world, start: str):
    details = f"/p/clinic-here/book/{world.microcurrent.id}/details/"
    return client.get(details, {"start": start, "practitioner": world.sam.id})


def _text(response) -> str:
    assert response.status_code == 200
    return " ".join(response.content.decode().split())


@pytest.mark.parametrize(
    ("zone", "day"),
    [("America/New_York", "2026-12-08"), ("Europe/London", "2027-06-08"), ("Europe/London", "2026-12-08")],
)
def test_the_times_offered_are_the_clinics_local_times(client, zone, day):
    world = _world(zone)
    a_week_before = dt.datetime.fromisoformat(day).replace(tzinfo=world.clinic.zone) - dt.timedelta(days=7)
    with time_machine.travel(a_week_before, tick=False):
        page = _text(client.get(f"/p/clinic-here/book/{world.microcurrent.id}/?date={day}"))
    # the clinic opens at 09:00 local: the first time offered is 09:00, with its link saying so
    assert f'?start={day}T09:00&practitioner={world.dr_lee.id}">09:00</a>' in page
    assert ">16:00</a>" in page and ">17:00</a>" not in page


@pytest.mark.parametrize("zone", ["America/New_York", "Europe/London"])
def test_the_details_page_gives_the_chosen_time_and_the_policy_in_local_time(client, zone):
    world = _world(zone)
    page = _text(_details(client, world, "2027-06-08T10:00"))
    assert "Tuesday 8 June 2027 at 10:00</strong>" in page
    assert "until Monday 7 June at 10:00" in page


def test_the_policy_spans_a_clock_change_in_real_hours(client):
    world = _world("Europe/London")
    page = _text(_details(client, world, "2027-03-28T10:00"))
    assert "Sunday 28 March 2027 at 10:00</strong>" in page
    # 24 real hours before 10:00 BST is 09:00 GMT the day before
    assert "until Saturday 27 March at 09:00" in page


@pytest.mark.parametrize("zone", ["America/New_York", "Europe/London"])
def test_the_emailed_link_gives_the_visit_in_local_time(client, zone):
    world = _world(zone)
    visit = appointment_book(
        BookingRequest(
            client=world.client(email="c@example.com"),
            service=world.microcurrent,
            practitioner=world.dr_lee,
            start=local(world, 2027, 6, 8, 10),
        )
    )
    page = _text(client.get(f"/p/manage/{manage_token(visit)}/"))
    assert "Tuesday 8 June 2027 at 10:00" in page
    assert "until Monday 7 June at 10:00" in page
    # and the times offered for moving it, that day
    with time_machine.travel(local(world, 2027, 6, 1, 8), tick=False):
        page = _text(client.get(f"/p/manage/{manage_token(visit)}/?date=2027-06-08"))
    assert "move_to=2027-06-08T09:00" in page and "09:00</a>" in page
