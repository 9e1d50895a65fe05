"""Today's list tells the desk what clients booked, moved or cancelled themselves online in the last
24 hours, before they call or arrive; what staff did is not repeated there."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.booking_world import build_world, local
from treatments.booking import BookingRequest, appointment_book, appointment_cancel, appointment_reschedule
from treatments.models import AppointmentEvent
from treatments.selectors import changes_by_clients

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    return build_world(slug="lumen-online")


def _book(world, client, start, *, source="desk", actor=None, service=None):
    return appointment_book(
        BookingRequest(
            client=client,
            service=service or world.microcurrent,
            practitioner=world.dr_lee,
            start=start,
            source=source,
        ),
        actor=actor,
    )


def test_the_desk_reads_what_clients_did_online_and_not_what_staff_did(client, world):
    olivia = world.client(first_name="Olivia", last_name="Smith")
    ava = world.client(first_name="Ava", last_name="Khan")
    tom = world.client(first_name="Tom", last_name="King")
    _book(world, olivia, local(world, 2026, 12, 3, 10), source="online")
    cancelled = _book(world, ava, local(world, 2026, 12, 4, 14), source="online")
    appointment_cancel(cancelled, reason="Cancelled by the client online", by_client=True)
    moved = _book(world, tom, local(world, 2026, 12, 7, 11), actor=world.desk.user)
    appointment_reschedule(moved, start=local(world, 2026, 12, 8, 11))  # from their emailed link
    staff_moved = _book(world, world.client(), local(world, 2026, 12, 9, 9), actor=world.desk.user)
    appointment_reschedule(staff_moved, start=local(world, 2026, 12, 9, 12), actor=world.desk.user)
    appointment_cancel(staff_moved, actor=world.desk.user)
    long_ago = _book(world, world.client(first_name="Old"), local(world, 2026, 12, 10, 9), source="online")
    AppointmentEvent.objects.filter(appointment=long_ago).update(at=timezone.now() - dt.timedelta(hours=25))

    with CaptureQueriesContext(connection) as queries:
        changes = changes_by_clients(world.clinic, since=timezone.now() - dt.timedelta(hours=24))
    assert len(queries) == 1
    assert [(c["appointment"].client.first_name, c["said"]) for c in changes] == [
        ("Tom", "moved Microcurrent workout to Tue 8 Dec 11:00"),
        ("Ava", "cancelled Microcurrent workout, Fri 4 Dec 14:00"),
        ("Ava", "booked Microcurrent workout, Fri 4 Dec 14:00"),
        ("Olivia", "booked Microcurrent workout, Thu 3 Dec 10:00"),
    ]

    client.force_login(world.desk.user)
    page = client.get("/").content.decode()
    assert "4 changes clients made online in the last 24 hours" in page
    assert "moved Microcurrent workout to Tue 8 Dec 11:00" in page
    other_day = client.get("/?date=2026-12-03").content.decode()
    assert 'id="by-clients"' not in other_day  # today's list only


def test_a_quiet_day_says_nothing(client, world):
    _book(world, world.client(), local(world, 2026, 12, 3, 10), actor=world.desk.user)
    client.force_login(world.desk.user)
    assert 'id="by-clients"' not in client.get("/").content.decode()
