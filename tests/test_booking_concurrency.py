"""Fifty simultaneous requests for one slot at a live server: exactly one wins, the rest get 409."""

import datetime as dt

import pytest
from rest_framework.authtoken.models import Token

from tests.booking_world import build_world, local
from tests.live_api import post_bookings_at_once
from treatments.models import INACTIVE_STATUSES, Appointment

REQUESTS = 50


@pytest.fixture
def world(transactional_db):
    return build_world(pens=1)


@pytest.fixture
def token(world):
    return Token.objects.create(user=world.desk.user).key


def test_fifty_requests_for_one_slot_book_it_once(live_server, world, token):
    start = local(world, 2026, 12, 7, 10).isoformat()
    payloads = [
        {
            "client": world.client().id,
            "service": world.microcurrent.id,
            "practitioner": world.dr_lee.id,
            "start": start,
        }
        for _ in range(REQUESTS)
    ]
    results = post_bookings_at_once(live_server, token, payloads)
    statuses = sorted(status for status, _ in results)
    assert statuses.count(201) == 1, results
    assert statuses.count(409) == REQUESTS - 1, results
    assert all(body.get("code") for status, body in results if status == 409)
    assert Appointment.objects.exclude(status__in=INACTIVE_STATUSES).count() == 1


def test_partially_overlapping_requests_book_only_one(live_server, world, token):
    # 45 min + 10 min held: 10:00, 10:15, 10:30 and 10:45 all overlap one another
    starts = [local(world, 2026, 12, 7, 10, minute).isoformat() for minute in (0, 15, 30, 45)] * 5
    payloads = [
        {
            "client": world.client().id,
            "service": world.microcurrent.id,
            "practitioner": world.dr_lee.id,
            "start": start,
        }
        for start in starts
    ]
    results = post_bookings_at_once(live_server, token, payloads)
    assert [status for status, _ in results].count(201) == 1, results
    assert Appointment.objects.exclude(status__in=INACTIVE_STATUSES).count() == 1


def test_two_practitioners_racing_for_the_only_pen_get_it_once(live_server, world, token):
    start = local(world, 2026, 12, 7, 10).isoformat()
    payloads = [
        {
            "client": world.client().id,
            "service": world.microneedling.id,
            "practitioner": (world.dr_lee if i % 2 else world.sam).id,
            "start": start,
        }
        for i in range(20)
    ]
    results = post_bookings_at_once(live_server, token, payloads)
    assert [status for status, _ in results].count(201) == 1, results
    assert Appointment.objects.exclude(status__in=INACTIVE_STATUSES).values("device").distinct().count() == 1


def test_simultaneous_bookings_for_different_practitioners_share_out_the_rooms(live_server, transactional_db):
    # given two rooms and two pens, and two practitioners booked at the very same moment, many times
    world = build_world(rooms=2, pens=2)
    token = Token.objects.create(user=world.desk.user).key
    payloads = []
    for hour in (10, 12, 14):
        for practitioner in (world.dr_lee, world.sam):
            payloads.append(
                {
                    "client": world.client().id,
                    "service": world.microneedling.id,
                    "practitioner": practitioner.id,
                    "start": local(world, 2026, 12, 7, hour).isoformat(),
                }
            )
    # when they all arrive together
    results = post_bookings_at_once(live_server, token, payloads)
    # then every one is booked: whoever lost the race for the first room got the second
    assert [status for status, _ in results] == [201] * len(payloads), results
    for hour in (10, 12, 14):
        rooms = Appointment.objects.filter(start=local(world, 2026, 12, 7, hour)).values_list(
            "room", flat=True
        )
        assert len(set(rooms)) == 2


def test_ten_practitioners_booked_at_once_share_out_ten_rooms_and_ten_pens(live_server, transactional_db):
    # given ten practitioners, ten rooms and ten pens: at any time there is a room and a pen for each
    from clinic.models import PractitionerQualification, WorkingHours
    from tests.factories import StaffMemberFactory

    world = build_world(rooms=10, pens=10)
    practitioners = [world.dr_lee, world.sam]
    for number in range(8):
        member = StaffMemberFactory(clinic=world.clinic, role="practitioner", display_name=f"Nurse {number}")
        PractitionerQualification.objects.create(
            staff_member=member, modality="microneedling", max_depth_mm=1
        )
        WorkingHours.objects.bulk_create(
            WorkingHours(staff_member=member, weekday=day, start_time=dt.time(9), end_time=dt.time(17))
            for day in range(7)
        )
        practitioners.append(member)
    token = Token.objects.create(user=world.desk.user).key
    payloads = [
        {
            "client": world.client().id,
            "service": world.microneedling.id,
            "practitioner": practitioner.id,
            "start": local(world, 2026, 12, 7, hour).isoformat(),
        }
        for hour in (10, 12, 14)
        for practitioner in practitioners
    ]
    # when all thirty arrive together, each slot's ten racing for the same rooms and pens
    results = post_bookings_at_once(live_server, token, payloads)
    # then every one is booked: a booking that lost its room or pen took another, never "taken"
    assert [status for status, _ in results] == [201] * len(payloads), [r for r in results if r[0] != 201]
    for hour in (10, 12, 14):
        held = Appointment.objects.filter(start=local(world, 2026, 12, 7, hour))
        assert len(set(held.values_list("room", flat=True))) == 10
        assert len(set(held.values_list("device", flat=True))) == 10


def _losing(times: int, constraint: str):
    """A write that loses `times` races on `constraint`, then succeeds; it records its attempts."""
    from django.db import IntegrityError

    attempts = []

    def write(attempt):
        attempts.append(attempt)
        if len(attempts) <= times:
            raise IntegrityError(f'conflicting key value violates exclusion constraint "{constraint}"')
        return "booked"

    return write, attempts


def test_a_booking_keeps_taking_the_next_room_for_as_long_as_it_loses_races():
    from treatments.booking import WRITE_ATTEMPTS, _write_with_retries

    write, attempts = _losing(WRITE_ATTEMPTS + 3, "appointment_room_no_overlap")
    assert _write_with_retries(write, reassignable=frozenset({"room"})) == "booked"
    assert attempts == list(range(1, WRITE_ATTEMPTS + 5))


def test_a_room_the_desk_chose_is_refused_at_the_first_lost_race():
    from clinic.errors import ConflictError
    from treatments.booking import _write_with_retries

    write, attempts = _losing(1, "appointment_room_no_overlap")
    with pytest.raises(ConflictError) as refused:
        _write_with_retries(write, reassignable=frozenset({"device"}))
    assert refused.value.code == "room_taken" and attempts == [1]
