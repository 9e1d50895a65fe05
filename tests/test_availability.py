"""Availability: working hours less bookings and time off, with rooms and devices, in local time."""

import datetime as dt

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clinic.models import Clinic, TimeOff, WorkingHours
from tests.booking_world import build_world, local
from tests.factories import AppointmentFactory
from treatments.availability import available_slots
from treatments.models import Service

pytestmark = pytest.mark.django_db
LONG_AGO = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def world(db):
    return build_world()


def lee_on_7_december(world, service, now=LONG_AGO):
    """Return Dr Lee's free slots for the service on Monday 7 December 2026."""
    day = dt.date(2026, 12, 7)
    return available_slots(
        service=service, start_date=day, end_date=day, practitioner_id=world.dr_lee.id, now=now
    )


def starts(slots, world, practitioner=None):
    return [
        s.start.astimezone(world.clinic.zone).strftime("%H:%M")
        for s in slots
        if practitioner is None or s.practitioner_id == practitioner.id
    ]


def test_a_free_day_offers_every_step_that_fits(world):
    slots = lee_on_7_december(world, world.microcurrent)
    times = starts(slots, world)
    assert times[0] == "09:00"
    assert times[-1] == "16:00"  # 45 min + 10 min buffer must end by 17:00
    assert len(times) == 29


def test_the_buffer_before_keeps_the_first_slot_inside_working_hours(world):
    slots = lee_on_7_december(world, world.microneedling)
    assert starts(slots, world)[0] == "09:15"


def test_a_booking_and_its_buffers_remove_overlapping_starts(world):
    AppointmentFactory(
        clinic=world.clinic,
        practitioner=world.dr_lee,
        service=world.microcurrent,
        start=local(world, 2026, 12, 7, 10),
        end=local(world, 2026, 12, 7, 10, 45),
    )
    slots = lee_on_7_december(world, world.microcurrent)
    times = starts(slots, world)
    assert "09:00" in times  # ends 09:55 before 10:00
    assert "09:15" not in times
    assert "10:45" not in times  # held until 10:55
    assert "11:00" in times


def test_cancelled_bookings_do_not_hold_time(world):
    AppointmentFactory(
        clinic=world.clinic,
        practitioner=world.dr_lee,
        service=world.microcurrent,
        start=local(world, 2026, 12, 7, 10),
        end=local(world, 2026, 12, 7, 10, 45),
        status="cancelled",
    )
    slots = lee_on_7_december(world, world.microcurrent)
    assert "10:00" in starts(slots, world)


def test_the_only_device_busy_elsewhere_removes_the_slot(world):
    AppointmentFactory(
        clinic=world.clinic,
        practitioner=world.sam,
        service=world.microcurrent,
        device=world.microcurrent_unit,
        start=local(world, 2026, 12, 7, 10),
        end=local(world, 2026, 12, 7, 10, 45),
    )
    slots = lee_on_7_december(world, world.microcurrent)
    assert "10:00" not in starts(slots, world)


def test_time_off_removes_slots(world):
    TimeOff.objects.create(
        staff_member=world.dr_lee, start=local(world, 2026, 12, 7, 12), end=local(world, 2026, 12, 7, 17)
    )
    slots = lee_on_7_december(world, world.microcurrent)
    assert starts(slots, world)[-1] == "11:00"


def test_only_qualified_practitioners_are_offered(world):
    slots = available_slots(
        service=world.mesotherapy,
        start_date=dt.date(2026, 12, 7),
        end_date=dt.date(2026, 12, 7),
        now=LONG_AGO,
    )
    assert {s.practitioner_id for s in slots} == {world.dr_lee.id}
    deep = available_slots(
        service=world.deep_microneedling,
        start_date=dt.date(2026, 12, 7),
        end_date=dt.date(2026, 12, 7),
        now=LONG_AGO,
    )
    assert world.sam.id not in {s.practitioner_id for s in deep}


def test_minimum_notice_hides_starts_too_soon(world):
    world.clinic.min_booking_notice_minutes = 120
    world.clinic.save(update_fields=["min_booking_notice_minutes"])
    now = local(world, 2026, 12, 7, 10, 7)
    slots = lee_on_7_december(world, world.microcurrent, now=now)
    assert starts(slots, world)[0] == "12:15"


@pytest.mark.parametrize(
    ("zone", "day", "first_utc"),
    [
        ("Europe/London", dt.date(2027, 3, 27), "09:00"),  # Saturday before: GMT
        ("Europe/London", dt.date(2027, 3, 29), "08:00"),  # after spring forward: BST
        ("Europe/London", dt.date(2027, 10, 30), "08:00"),
        ("Europe/London", dt.date(2027, 11, 1), "09:00"),  # after fall back
        ("America/New_York", dt.date(2027, 3, 13), "14:00"),
        ("America/New_York", dt.date(2027, 3, 15), "13:00"),
        ("America/New_York", dt.date(2027, 11, 6), "13:00"),
        ("America/New_York", dt.date(2027, 11, 8), "14:00"),
    ],
)
def test_local_nine_oclock_is_the_right_instant_either_side_of_dst(db, zone, day, first_utc):
    world = build_world(time_zone=zone)
    slots = available_slots(
        service=world.microcurrent,
        start_date=day,
        end_date=day,
        practitioner_id=world.dr_lee.id,
        now=LONG_AGO,
    )
    assert slots[0].start.astimezone(dt.UTC).strftime("%H:%M") == first_utc
    assert slots[0].start.astimezone(world.clinic.zone).strftime("%H:%M") == "09:00"


@pytest.mark.parametrize(
    ("zone", "day", "hours"),
    [
        ("Europe/London", dt.date(2027, 3, 28), 3),  # 00:00–04:00 local spans the jump: 3 real hours
        ("Europe/London", dt.date(2027, 10, 31), 5),  # the repeated hour: 5 real hours
        ("America/New_York", dt.date(2027, 3, 14), 3),
        ("America/New_York", dt.date(2027, 11, 7), 5),
    ],
)
def test_a_night_shift_across_the_change_has_the_real_number_of_hours(db, zone, day, hours):
    world = build_world(time_zone=zone, hours=(dt.time(0), dt.time(4)))
    slots = available_slots(
        service=world.microcurrent,
        start_date=day,
        end_date=day,
        practitioner_id=world.dr_lee.id,
        now=LONG_AGO,
    )
    # 15-minute steps; a 55-minute hold must end inside the window
    assert len(slots) == (hours * 60 - 55) // 15 + 1


@pytest.mark.parametrize(
    ("zone", "day"),
    [
        ("Europe/London", dt.date(2027, 3, 28)),
        ("Europe/London", dt.date(2027, 10, 31)),
        ("America/New_York", dt.date(2027, 3, 14)),
        ("America/New_York", dt.date(2027, 11, 7)),
        ("Australia/Lord_Howe", dt.date(2027, 4, 4)),
        ("Australia/Lord_Howe", dt.date(2027, 10, 3)),
    ],
)
def test_after_a_booking_past_the_change_the_starts_stay_on_the_local_grid(db, zone, day):
    """A 25-minute grid over a night shift through the change: the starts after the booking that
    follows the change are on the local grid (00:00, 00:25, …), not where the old offset puts them."""
    world = build_world(time_zone=zone, hours=(dt.time(0), dt.time(6)))
    service = _microcurrent_on_a_grid_of(world, 25)
    zone_info = world.clinic.zone
    begin = dt.datetime.combine(day, dt.time(4), tzinfo=zone_info).astimezone(dt.UTC)  # after every change
    held = _lee_holds_mesotherapy(world, begin, dt.timedelta(minutes=20))
    slots = available_slots(
        service=service, start_date=day, end_date=day, practitioner_id=world.dr_lee.id, now=LONG_AGO
    )
    expected = _free_starts_minute_by_minute(
        day,
        dt.time(0),
        dt.time(6),
        zone_info,
        [held],
        service,
        step_minutes=25,
    )
    assert [slot.start for slot in slots] == expected
    after_booking = [s.start.astimezone(zone_info) for s in slots if s.start >= held[1]]
    assert after_booking, "the test needs starts after the booking"
    assert all((local.hour * 60 + local.minute) % 25 == 0 for local in after_booking)


DST_DAYS = [
    *(dt.date(2027, 3, 28), dt.date(2027, 10, 31)),  # Europe/London
    *(dt.date(2027, 3, 14), dt.date(2027, 11, 7)),  # America/New_York
    *(dt.date(2027, 4, 4), dt.date(2027, 10, 3)),  # Australia/Lord_Howe: its clocks move half an hour
]
dates = st.one_of(
    st.sampled_from(
        DST_DAYS + [d + dt.timedelta(days=1) for d in DST_DAYS] + [d - dt.timedelta(days=1) for d in DST_DAYS]
    ),
    st.dates(min_value=dt.date(2026, 12, 1), max_value=dt.date(2028, 12, 31)),
)
quarter_hours = st.integers(min_value=0, max_value=22 * 4)


@pytest.mark.parametrize("zone", ["Europe/London", "America/New_York", "Australia/Lord_Howe"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    day=dates,
    step_minutes=st.sampled_from([5, 15, 25, 45]),  # a step that does not divide the hour tests the grid
    start_quarter=quarter_hours,
    length_quarters=st.integers(min_value=4, max_value=40),
    bookings=st.lists(
        st.tuples(st.integers(min_value=-8, max_value=24 * 4), st.integers(min_value=1, max_value=12)),
        max_size=6,
    ),
)
def test_every_slot_is_inside_local_hours_and_outside_every_booking(
    db, zone, day, step_minutes, start_quarter, length_quarters, bookings
):
    world = _world_for(zone)
    start_minutes = start_quarter * 15
    end_minutes = min(start_minutes + length_quarters * 15, 24 * 60 - 1)
    hours_start = dt.time(start_minutes // 60, start_minutes % 60)
    hours_end = dt.time(end_minutes // 60, end_minutes % 60)
    zone_info = world.clinic.zone
    with transaction.atomic():
        WorkingHours.objects.filter(staff_member=world.dr_lee).update(
            start_time=hours_start, end_time=hours_end
        )
        service = _microcurrent_on_a_grid_of(world, step_minutes)
        held = []
        for offset_quarters, length in bookings:
            begin = dt.datetime.combine(day, dt.time.min, tzinfo=zone_info).astimezone(dt.UTC) + dt.timedelta(
                minutes=offset_quarters * 15
            )
            # Only bookings that could coexist: the database refuses overlaps for one practitioner.
            pad = dt.timedelta(minutes=10)  # mesotherapy holds 10 min either side
            wanted = (begin - pad, begin + dt.timedelta(minutes=length * 15) + pad)
            if any(wanted[0] < other_end and wanted[1] > other_start for other_start, other_end in held):
                continue
            held.append(_lee_holds_mesotherapy(world, begin, dt.timedelta(minutes=length * 15)))
        slots = available_slots(
            service=service, start_date=day, end_date=day, practitioner_id=world.dr_lee.id, now=LONG_AGO
        )
        for slot in slots:
            block_start = slot.start  # microcurrent: no buffer before
            block_end = slot.end + dt.timedelta(minutes=10)
            local_start, local_end = block_start.astimezone(zone_info), block_end.astimezone(zone_info)
            assert local_start.date() == day
            assert local_start.time() >= hours_start
            assert local_end.date() == day and local_end.time() <= hours_end, (slot, hours_end)
            for other_start, other_end in held:
                assert block_end <= other_start or block_start >= other_end, (slot, other_start, other_end)
        # And nothing free is missed: exactly the starts found by trying every minute of the window.
        assert [slot.start for slot in slots] == _free_starts_minute_by_minute(
            day, hours_start, hours_end, zone_info, held, service, step_minutes
        )
        transaction.set_rollback(True)


def _microcurrent_on_a_grid_of(world, step_minutes):
    """Set the clinic's slot step; return the microcurrent service with the clinic as now stored."""
    Clinic.objects.filter(pk=world.clinic.pk).update(slot_step_minutes=step_minutes)
    return Service.objects.select_related("clinic").get(pk=world.microcurrent.pk)


def _lee_holds_mesotherapy(world, begin, length):
    """Book Dr Lee for mesotherapy (10 minutes held either side); return the time it holds."""
    appointment = AppointmentFactory(
        clinic=world.clinic,
        practitioner=world.dr_lee,
        service=world.mesotherapy,
        client=world.client(),
        start=begin,
        end=begin + length,
    )
    return appointment.blocked_start, appointment.blocked_end


def _free_starts_minute_by_minute(day, hours_start, hours_end, zone_info, held, service, step_minutes):
    """The property test's oracle: every minute of the window whose local wall time is on the grid,
    whose hold fits in the window and overlaps no booking. The window runs from the later reading of the
    start time to the earlier reading of the end time (a wall time can happen twice or never)."""

    def readings(wall):
        local = dt.datetime.combine(day, wall, tzinfo=zone_info)
        return [local.replace(fold=fold).astimezone(dt.UTC) for fold in (0, 1)]

    window_start, window_end = max(readings(hours_start)), min(readings(hours_end))
    before = dt.timedelta(minutes=service.buffer_before_minutes)
    after = dt.timedelta(minutes=service.duration_minutes + service.buffer_after_minutes)
    starts = []
    start = window_start + before
    while start + after <= window_end:
        local = start.astimezone(zone_info)
        block_start, block_end = start - before, start + after
        if (local.hour * 60 + local.minute) % step_minutes == 0 and all(
            block_end <= other_start or block_start >= other_end for other_start, other_end in held
        ):
            starts.append(start)
        start += dt.timedelta(minutes=1)
    return starts


_worlds: dict = {}


def _world_for(zone):
    """Build one world per zone per test run database state (hypothesis reuses the function's db)."""
    from clinic.models import Clinic

    cached = _worlds.get(zone)
    if cached is None or not Clinic.objects.filter(pk=cached.clinic.pk).exists():
        cached = _worlds[zone] = build_world(time_zone=zone)
    return cached
