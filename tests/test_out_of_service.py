"""A room or a device out of service for a while (a pen away for servicing, a room being painted): not
offered then, refused when asked for, replaced when booking picks one, and the visits already booked
with it are listed and flagged to take another at their time."""

import datetime as dt

import pytest
from django.urls import reverse

from clinic.errors import ClinicError, ConflictError
from clinic.models import OutboxMessage, OutOfService
from clinic.out_of_service import out_of_service_record
from tests.booking_world import build_world, local
from tests.factories import ClinicFactory, DeviceFactory
from treatments.availability import available_slots
from treatments.booking import BookingRequest, appointment_book, appointment_change_room_and_device
from treatments.selectors import out_of_use

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    return build_world(slug="lumen-service")


def _down(world, *, start=(8, 9), end=(8, 13), reason="Servicing", **what):
    return out_of_service_record(
        clinic=world.clinic,
        start=local(world, 2026, 12, start[0], start[1]),
        end=local(world, 2026, 12, end[0], end[1]),
        reason=reason,
        **what,
    )


def _starts(world, service, day=8):
    return [
        slot.start.astimezone(world.clinic.zone).strftime("%H:%M")
        for slot in available_slots(
            service=service, start_date=dt.date(2026, 12, day), end_date=dt.date(2026, 12, day)
        )
    ]


def _book(world, hour, *, service=None, client=None, **given):
    return appointment_book(
        BookingRequest(
            client=client or world.client(),
            service=service or world.microneedling,
            practitioner=world.dr_lee,
            start=local(world, 2026, 12, 8, hour),
            **given,
        )
    )


def test_with_every_pen_away_nothing_that_needs_one_is_offered_then(world):
    for pen in world.pens:
        _down(world, device=pen)
    starts = _starts(world, world.microneedling)
    # held from 15 minutes before to 10 after: the first start whose held time clears 13:00 is 13:15
    assert starts and min(starts) == "13:15"
    assert "09:00" in _starts(world, world.microcurrent)  # the microcurrent unit is not away


def test_with_one_pen_away_booking_takes_the_other(world):
    _down(world, device=world.pens[0])
    assert "10:00" in _starts(world, world.microneedling)
    visit = _book(world, 10)
    assert visit.device == world.pens[1]


def test_a_pen_asked_for_while_away_is_refused_in_words(world):
    _down(world, device=world.pens[0])
    with pytest.raises(ConflictError) as refused:
        _book(world, 10, device=world.pens[0])
    assert refused.value.code == "device_out_of_service"
    assert refused.value.message == "Pen A is out of service then (Servicing)."


def test_rooms_away_leave_no_room_to_book(world):
    _down(world, room=world.rooms[0], reason="Painting")
    with pytest.raises(ConflictError) as refused:
        _book(world, 10, room=world.rooms[0])
    assert refused.value.message == "Room 1 is out of service then (Painting)."
    assert _book(world, 10).room == world.rooms[1]
    for room in world.rooms:
        _down(world, room=room, start=(8, 13), end=(8, 17))
    starts = _starts(world, world.microcurrent)
    assert starts and max(starts) < "13:00"  # no room free in the afternoon


def test_a_visit_booked_with_a_pen_later_away_is_flagged_and_takes_another_at_its_time(world, desk):
    visit = _book(world, 10, device=world.pens[0])
    assert out_of_use([visit]) == {}
    _down(world, device=world.pens[0])
    assert out_of_use([visit]) == {visit.pk: "Pen A is out of service then (Servicing)"}
    assert (
        "Pen A is out of service then (Servicing)"
        in desk.get(reverse("appointment-detail", args=[visit.pk])).content.decode()
    )
    changed = appointment_change_room_and_device(visit)
    assert (changed.device, changed.start, changed.room) == (world.pens[1], visit.start, visit.room)
    assert out_of_use([changed]) == {}


def test_a_period_that_misses_the_visit_flags_nothing(world):
    visit = _book(world, 15, device=world.pens[0])
    _down(world, device=world.pens[0])  # 09:00-13:00
    assert out_of_use([visit]) == {}


def test_the_desk_takes_a_pen_out_of_service_sees_its_visits_and_gives_each_another(desk, world):
    visit = _book(world, 10, device=world.pens[0])
    page = desk.post(
        reverse("out-of-service"),
        {
            "down-what": f"device:{world.pens[0].pk}",
            "down-start": "2026-12-08T09:00",
            "down-end": "2026-12-08T13:00",
            "down-reason": "Servicing",
        },
        follow=True,
    ).content.decode()
    period = OutOfService.objects.get()
    assert (
        "Saved: Pen A out of service Tue 8 Dec 09:00 – Tue 8 Dec 13:00. 1 booked visit uses it then" in page
    )
    section = page[page.index(f'id="down-{period.pk}"') :].split("</section>")[0]
    assert reverse("appointment-detail", args=[visit.pk]) in section
    changed = desk.post(
        reverse("appointment-action", args=[visit.pk, "change_room"]),
        {"next": "/time-off/#out-of-service"},
        follow=True,
    )
    assert changed.redirect_chain[-1][0] == "/time-off/#out-of-service"
    visit.refresh_from_db()
    assert visit.device == world.pens[1]
    assert "No booked visits use it then." in changed.content.decode()


def test_taking_it_back_frees_the_time_for_the_waitlist(desk, world):
    from treatments.waitlist import waitlist_add

    for pen in world.pens:
        _down(world, device=pen)
    olivia = world.client(first_name="Olivia", email="olivia@example.com")
    waitlist_add(
        client=olivia,
        service=world.microneedling,
        first_day=dt.date(2026, 12, 8),
        last_day=dt.date(2026, 12, 8),
        until_time=dt.time(12),
    )
    first = OutOfService.objects.order_by("id").first()
    page = desk.post(reverse("out-of-service-remove", args=[first.pk]), follow=True).content.decode()
    assert "Taken back: Pen A is in service Tue 8 Dec 09:00 – Tue 8 Dec 13:00." in page
    [offer] = OutboxMessage.objects.filter(template_key="waitlist_offer")
    assert offer.dedupe_key.endswith(f":freed:out-of-service:{first.pk}")


@pytest.mark.parametrize(
    ("what", "start", "end", "code"),
    [
        ({}, (8, 9), (8, 13), "room_or_device"),
        ({"device": "pen", "room": "room"}, (8, 9), (8, 13), "room_or_device"),
        ({"device": "pen"}, (8, 13), (8, 9), "ends_before_start"),
        ({"device": "pen"}, (8, 12), (8, 14), "overlapping"),
        ({"device": "elsewhere"}, (8, 9), (8, 13), "wrong_clinic"),
    ],
)
def test_what_cannot_be_is_refused_in_words(world, what, start, end, code):
    _down(world, device=world.pens[0])
    given = {
        "pen": world.pens[0],
        "room": world.rooms[0],
        "elsewhere": DeviceFactory(clinic=ClinicFactory()) if "elsewhere" in what.values() else None,
    }
    with pytest.raises(ClinicError) as refused:
        _down(world, start=start, end=end, **{key: given[value] for key, value in what.items()})
    assert refused.value.code == code
    assert OutOfService.objects.count() == 1


def test_the_form_says_what_is_missing(desk, world):
    answer = desk.post(reverse("out-of-service"), {"down-what": "", "down-start": "", "down-end": ""})
    assert answer.status_code == 400
    assert "Choose the room or device." in answer.content.decode()
    odd = desk.post(
        reverse("out-of-service"),
        {"down-what": "device:999999", "down-start": "2026-12-08T09:00", "down-end": "2026-12-08T13:00"},
    )
    assert odd.status_code == 400
    assert not OutOfService.objects.exists()


def test_the_calendar_by_room_says_when_a_room_is_out_of_service(desk, world):
    _down(world, room=world.rooms[0], reason="Painting")
    page = desk.get(reverse("calendar"), {"date": "2026-12-08", "by": "room"}).content.decode()
    assert "Out of service 09:00–13:00 (Painting)" in page
    other_day = desk.get(reverse("calendar"), {"date": "2026-12-09", "by": "room"}).content.decode()
    assert "Out of service" not in other_day
