"""A room or device taken out of use after visits were booked in it: flagged, and changed in one click.

Room 1 has a leak from Tuesday; Pen A goes for repair. The visits booked there keep their time and
practitioner, and take another room or pen that is free then.
"""

import pytest
from django.urls import reverse

from clinic.errors import ClinicError, ConflictError
from tests.booking_world import build_world, local
from treatments.booking import BookingRequest, appointment_book, appointment_change_room_and_device
from treatments.models import Appointment
from treatments.selectors import out_of_use

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    return build_world()


def _book(world, hour, practitioner=None, service=None):
    return appointment_book(
        BookingRequest(
            client=world.client(),
            service=service or world.microneedling,
            practitioner=practitioner or world.dr_lee,
            start=local(world, 2026, 12, 8, hour),
        )
    )


def _close(resource):
    type(resource).objects.filter(pk=resource.pk).update(is_active=False)


def test_visits_in_a_closed_room_or_with_a_pen_out_of_use_are_flagged(world):
    visit = _book(world, 10)
    other = _book(world, 10, world.sam)
    assert out_of_use([visit, other]) == {}
    _close(visit.room)
    _close(visit.device)
    fresh = list(Appointment.objects.filter(pk__in=[visit.pk, other.pk]))
    assert out_of_use(fresh) == {
        visit.pk: f"{visit.room.name} is not in use; {visit.device.name} is out of use"
    }


def test_the_visit_takes_a_free_room_and_pen_at_the_same_time_and_keeps_what_still_works(desk, world):
    visit = _book(world, 10)
    room, pen = visit.room, visit.device
    _close(room)
    page = desk.get(reverse("appointment-detail", args=[visit.pk])).content.decode()
    assert f"{room.name} is not in use" in page and "Take another room and device" in page
    day = desk.get("/?date=2026-12-08").content.decode()
    assert f'#out-of-use" title="{room.name} is not in use">Out of use. Change it</a>' in day
    response = desk.post(reverse("appointment-action", args=[visit.pk, "change_room"]), follow=True)
    assert "now has" in response.content.decode()
    visit.refresh_from_db()
    assert visit.room != room and visit.room.is_active
    assert visit.device == pen  # still in use: kept
    assert visit.start == local(world, 2026, 12, 8, 10) and visit.practitioner == world.dr_lee
    event = visit.events.get(action="resources_changed")
    assert event.details["room_from"] == room.name and event.details["room_to"] == visit.room.name
    page = desk.get(reverse("appointment-detail", args=[visit.pk])).content.decode()
    assert f"Changed {room.name} to {visit.room.name}" in page and 'id="out-of-use"' not in page


def test_when_nothing_else_is_free_the_desk_is_told_and_nothing_changes(world):
    visit = _book(world, 10)
    _book(world, 10, world.sam)  # the other room and the other pen are taken at 10:00
    _close(visit.device)
    with pytest.raises(ConflictError, match="free at that time"):
        appointment_change_room_and_device(visit)
    visit.refresh_from_db()
    assert not visit.device.is_active


def test_a_visit_whose_room_and_device_are_in_use_has_nothing_to_change(world):
    visit = _book(world, 10)
    with pytest.raises(ClinicError, match="nothing to change"):
        appointment_change_room_and_device(visit)


def test_the_calendar_marks_the_block(desk, world):
    visit = _book(world, 10)
    _close(visit.device)
    calendar = desk.get("/calendar/?date=2026-12-08").content.decode()
    assert f'data-appointment-id="{visit.pk}" title="{visit.device.name} is out of use"' in calendar
