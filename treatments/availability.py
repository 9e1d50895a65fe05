"""Free start times for a service: working hours less time off and bookings, with a free room and device
(one not out of service then).

The whole computation runs on a fixed number of queries (practitioners with their qualifications and
hours, time off, appointments, rooms, devices, rooms and devices out of service), whatever the number of
rows; the rest is in memory.
"""

import bisect
import datetime as dt
import math
import operator
from collections import defaultdict
from typing import NamedTuple

from django.db.models import FloatField, Func, Prefetch
from django.utils import timezone

from clinic.models import (
    Device,
    ExtraHours,
    OutOfService,
    PractitionerQualification,
    Room,
    StaffMember,
    StaffRole,
    TimeOff,
    WorkingHours,
    working_hours_on,
)
from treatments.eligibility import qualification_gaps
from treatments.models import INACTIVE_STATUSES, Appointment, Service

UTC = dt.UTC


class Slot(NamedTuple):
    """A free start. A named tuple: thirty open days are ~13,000 slots, and a frozen dataclass took
    a fifth of the call to build them."""

    start: dt.datetime  # aware, UTC
    end: dt.datetime
    practitioner_id: int
    room_id: int | None
    device_id: int | None
    second_device_id: int | None = None


def epoch(instant: dt.datetime) -> float:
    """Return seconds since 1970, rounded to the millisecond exactly as the database's Epoch() does."""
    return math.floor(instant.timestamp() * 1000 + 0.5) / 1000


class Epoch(Func):
    """A timestamp column as seconds since 1970 rounded to the millisecond, computed by the database.

    Loading 10,000 floats costs a fraction of parsing 10,000 timestamps into datetimes, which was
    most of availability's time with 5,000 appointments (see docs/benchmarks.md). The rounding is
    float arithmetic, the same as `epoch()`'s, so a booking's end and the next one's start compare equal.
    """

    output_field = FloatField()

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(
            compiler, connection, template="floor(date_part('epoch', %(expressions)s) * 1000 + 0.5) / 1000"
        )

    def as_sqlite(self, compiler, connection, **extra):
        # Epoch times are positive, so CAST (which truncates) is floor here.
        return self.as_sql(
            compiler,
            connection,
            template="CAST((julianday(%(expressions)s) - 2440587.5) * 86400000.0 + 0.5 AS INTEGER) / 1000.0",
        )


class BusyTimes:
    """Busy intervals (epoch seconds) per resource, merged and sorted, answering by bisection."""

    def __init__(self, intervals_by_key: dict[object, list[tuple[float, float]]]):
        self._starts: dict[object, list[float]] = {}
        self._ends: dict[object, list[float]] = {}
        for key, intervals in intervals_by_key.items():
            intervals.sort()
            starts: list[float] = []
            ends: list[float] = []
            for start, end in intervals:
                if ends and start <= ends[-1]:
                    if end > ends[-1]:
                        ends[-1] = end
                else:
                    starts.append(start)
                    ends.append(end)
            self._starts[key] = starts
            self._ends[key] = ends

    def busy_until(self, key, start: float, end: float) -> float | None:
        """Return when the busy interval overlapping [start, end) ends, or None if the time is free."""
        starts = self._starts.get(key)
        if not starts:
            return None
        # Merged intervals do not overlap, so only the last one that begins before `end` can overlap.
        index = bisect.bisect_left(starts, end) - 1
        if index < 0 or self._ends[key][index] <= start:
            return None
        return self._ends[key][index]

    def first_free(self, resources: list, start: float, end: float):
        """Return the first of the resources (rooms or devices, keyed by id) free for [start, end)."""
        for resource in resources:
            if self.busy_until(resource.id, start, end) is None:
                return resource
        return None


def _local_window(day: dt.date, start: dt.time, end: dt.time, zone) -> tuple[dt.datetime, dt.datetime]:
    """Return a local working window on a day as UTC instants, never longer than the hours as written.

    A wall time that happens twice (clocks back) or never (clocks forward) has two readings (fold 0
    and 1): the window starts at the later one and ends at the earlier one.
    """

    def readings(wall: dt.time) -> tuple[dt.datetime, dt.datetime]:
        first = dt.datetime.combine(day, wall, tzinfo=zone).astimezone(UTC)
        second = dt.datetime.combine(day, wall, tzinfo=zone).replace(fold=1).astimezone(UTC)
        return first, second

    return max(readings(start)), min(readings(end))


def merged(windows: list[tuple[dt.datetime, dt.datetime]]) -> list[tuple[dt.datetime, dt.datetime]]:
    """Windows sorted, those that overlap or touch made one (weekly hours and extra hours after them)."""
    joined: list[list[dt.datetime]] = []
    for start, end in sorted(windows):
        if joined and start <= joined[-1][1]:
            joined[-1][1] = max(joined[-1][1], end)
        else:
            joined.append([start, end])
    return [(start, end) for start, end in joined]


def extra_hours_by_practitioner(practitioner_ids, start: dt.datetime, end: dt.datetime) -> dict[int, list]:
    """Each active practitioner's `ExtraHours` overlapping start–end, by practitioner id (one query)."""
    found: dict[int, list] = defaultdict(list)
    for extra in ExtraHours.objects.filter(
        staff_member_id__in=practitioner_ids, staff_member__is_active=True, start__lt=end, end__gt=start
    ).order_by("start", "id"):
        found[extra.staff_member_id].append(extra)
    return dict(found)


def working_windows(day: dt.date, zone, weekly, extra) -> list[tuple[dt.datetime, dt.datetime]]:
    """A practitioner's working time on a local day as UTC instants: their weekly hours of that weekday
    (`WorkingHours` rows) and their extra hours that day (`ExtraHours` rows, cut to the day), merged."""
    day_start = dt.datetime.combine(day, dt.time.min, tzinfo=zone).astimezone(UTC)
    day_end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=zone).astimezone(UTC)
    windows = [_local_window(day, h.start_time, h.end_time, zone) for h in working_hours_on(weekly, day)]
    windows += [
        (max(e.start, day_start), min(e.end, day_end))
        for e in extra
        if e.start < day_end and e.end > day_start
    ]
    return merged(windows)


def _on_grid(local: dt.datetime, step_minutes: int) -> bool:
    return (local.hour * 60 + local.minute) % step_minutes == 0


def _first_on_grid(instant: dt.datetime, zone, step_minutes: int) -> dt.datetime:
    """Return the first instant at or after `instant` whose local wall time is on the clinic's slot grid.

    The grid is every `step_minutes` of local wall time from local midnight. Adding the missing minutes
    is right unless the local clock jumps on the way (a clock change, or midnight, where the grid starts
    again); then the minutes are tried one by one, at most a step and the jump.
    """
    instant = instant.astimezone(UTC)
    if instant.second or instant.microsecond:
        instant = instant.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    local = instant.astimezone(zone)
    remainder = (local.hour * 60 + local.minute) % step_minutes
    if not remainder:
        return instant
    candidate = instant + dt.timedelta(minutes=step_minutes - remainder)
    local_candidate = candidate.astimezone(zone)
    if local_candidate.utcoffset() == local.utcoffset() and local_candidate.date() == local.date():
        return candidate
    while not _on_grid(instant.astimezone(zone), step_minutes):
        instant += dt.timedelta(minutes=1)
    return instant


class _LocalGrid:
    """The clinic's slot grid (local wall times every `step` minutes from midnight) over one working window.

    `ceiling` is `_first_on_grid` for epoch seconds. Where the window keeps one UTC offset (every
    window but those a clock change runs through) it is plain arithmetic on minutes and the next start
    is one step later; the availability loop calls it for every busy stretch it skips, and time zone
    conversions were most of its time. Across a change the grid is found through the zone, so the
    starts after the change are on the local grid too.
    """

    def __init__(self, window_start: dt.datetime, window_end: dt.datetime, zone, step_minutes: int):
        self._zone = zone
        self._step_minutes = step_minutes
        self.step_seconds = step_minutes * 60.0
        offset = window_start.astimezone(zone).utcoffset()
        self.steady = offset == window_end.astimezone(zone).utcoffset()
        self._offset_seconds = offset.total_seconds()

    def ceiling(self, instant: float) -> float:
        """Return the first start on the grid at or after `instant`."""
        if not self.steady:
            return epoch(
                _first_on_grid(dt.datetime.fromtimestamp(instant, UTC), self._zone, self._step_minutes)
            )
        minute = math.ceil(instant / 60)
        local_minute_of_day = int((minute * 60 + self._offset_seconds) // 60) % 1440
        return float((minute + (-local_minute_of_day) % self._step_minutes) * 60)

    def after(self, start: float) -> float:
        """Return the start on the grid that follows `start` (itself on the grid)."""
        return start + self.step_seconds if self.steady else self.ceiling(start + 1)


def qualified_practitioners(service: Service, practitioner_id: int | None = None) -> list[StaffMember]:
    """Return the clinic's active practitioners who may perform the service, with hours prefetched."""
    modalities = {protocol.modality for protocol in service.protocols.all()}
    practitioners = StaffMember.objects.filter(
        clinic_id=service.clinic_id, role=StaffRole.PRACTITIONER, is_active=True
    ).prefetch_related(
        Prefetch("qualifications", queryset=PractitionerQualification.objects.order_by("modality")),
        Prefetch("working_hours", queryset=WorkingHours.objects.order_by("weekday", "start_time")),
    )
    if practitioner_id is not None:
        practitioners = practitioners.filter(pk=practitioner_id)
    return [
        p
        for p in practitioners.order_by("display_name", "id")
        if not qualification_gaps(
            qualifications=list(p.qualifications.all()), service=service, modalities=modalities
        )
    ]


def available_slots(
    *,
    service: Service,
    start_date: dt.date,
    end_date: dt.date,
    practitioner_id: int | None = None,
    now: dt.datetime | None = None,
    ignore_appointment_id: int | None = None,
) -> list[Slot]:
    """Return every free start for the service on local dates start_date..end_date (inclusive).

    1. Qualified practitioners with their weekly hours; time off and active appointments in range.
    2. For each local day and working window, candidate starts on the clinic's slot grid such that the
       service and its buffers fit inside the window, and not sooner than the minimum notice.
    3. Keep a candidate when the practitioner is free for the blocked time and a room and a device of
       each kind the service needs are free for it; report the first free room and devices.
    """
    clinic = service.clinic
    zone = clinic.zone
    now = now or timezone.now()
    before = dt.timedelta(minutes=service.buffer_before_minutes)
    duration = dt.timedelta(minutes=service.duration_minutes)
    after = dt.timedelta(minutes=service.buffer_after_minutes)
    step_minutes = clinic.slot_step_minutes
    before_s, duration_s, after_s = (d.total_seconds() for d in (before, duration, after))
    earliest = now + dt.timedelta(minutes=clinic.min_booking_notice_minutes)
    range_start = dt.datetime.combine(start_date, dt.time.min, tzinfo=zone).astimezone(UTC)
    range_end = dt.datetime.combine(end_date + dt.timedelta(days=1), dt.time.min, tzinfo=zone).astimezone(UTC)
    # Buffers can reach past local midnight, so look a little wider for what is already busy.
    pad = before + after + dt.timedelta(days=1)

    practitioners = qualified_practitioners(service, practitioner_id)
    if not practitioners:
        return []
    practitioner_ids = [p.id for p in practitioners]
    rooms = (
        list(Room.objects.filter(clinic=clinic, is_active=True).order_by("name", "id"))
        if service.requires_room
        else []
    )
    # The devices of each kind the service needs (a combined treatment needs two kinds), in one query.
    devices_of_kind: dict[str, list[Device]] = {kind: [] for kind in service.device_kinds}
    if devices_of_kind:
        for device in Device.objects.filter(clinic=clinic, kind__in=devices_of_kind, is_active=True).order_by(
            "name", "id"
        ):
            devices_of_kind[device.kind].append(device)
    devices = devices_of_kind.get(service.device_kind, [])
    second_devices = devices_of_kind.get(service.second_device_kind, [])
    if (service.requires_room and not rooms) or not all(devices_of_kind.values()):
        return []

    held_by_practitioner: dict[int, list[tuple[float, float]]] = defaultdict(list)
    held_by_room: dict[int, list[tuple[float, float]]] = defaultdict(list)
    held_by_device: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for staff_id, start, end in (
        TimeOff.objects.filter(
            staff_member_id__in=practitioner_ids, start__lt=range_end + pad, end__gt=range_start - pad
        )
        .annotate(off_from=Epoch("start"), off_until=Epoch("end"))
        .values_list("staff_member_id", "off_from", "off_until")
    ):
        held_by_practitioner[staff_id].append((start, end))
    appointments = Appointment.objects.filter(
        clinic=clinic, blocked_start__lt=range_end + pad, blocked_end__gt=range_start - pad
    ).exclude(status__in=INACTIVE_STATUSES)
    if ignore_appointment_id is not None:
        appointments = appointments.exclude(pk=ignore_appointment_id)
    held_times = (
        appointments.annotate(held_from=Epoch("blocked_start"), held_until=Epoch("blocked_end"))
        .order_by()
        .values_list("practitioner_id", "room_id", "device_id", "second_device_id", "held_from", "held_until")
    )
    for staff_id, room_id, device_id, second_device_id, start, end in held_times:
        held = (start, end)
        held_by_practitioner[staff_id].append(held)
        if room_id:
            held_by_room[room_id].append(held)
        # A device is held whether a visit uses it as its first device or as its second.
        if device_id:
            held_by_device[device_id].append(held)
        if second_device_id:
            held_by_device[second_device_id].append(held)
    if rooms or devices_of_kind:  # rooms and devices out of service for a while are busy then
        for room_id, device_id, start, end in (
            OutOfService.objects.filter(clinic=clinic, start__lt=range_end + pad, end__gt=range_start - pad)
            .annotate(down_from=Epoch("start"), down_until=Epoch("end"))
            .values_list("room_id", "device_id", "down_from", "down_until")
        ):
            (held_by_room[room_id] if room_id else held_by_device[device_id]).append((start, end))
    practitioner_busy = BusyTimes(held_by_practitioner)
    room_busy = BusyTimes(held_by_room)
    device_busy = BusyTimes(held_by_device)

    weekly_by_practitioner = {
        practitioner.id: list(practitioner.working_hours.all()) for practitioner in practitioners
    }
    extra_by_practitioner = extra_hours_by_practitioner(practitioner_ids, range_start, range_end)
    by_id = {p.id: p for p in practitioners}

    def searched(window_start: dt.datetime, window_end: dt.datetime) -> tuple[float, float, _LocalGrid]:
        """Where the search of a window starts, where the last visit must end, and its grid."""
        return (
            epoch(_first_on_grid(max(window_start + before, earliest), zone, step_minutes)),
            epoch(window_end),
            _LocalGrid(window_start, window_end, zone, step_minutes),
        )

    slots: list[Slot] = []
    day = start_date
    while day <= end_date:
        windows = {}  # practitioners often share hours: one conversion per distinct window a day
        searches: list[tuple[StaffMember, tuple[float, float, _LocalGrid]]] = []
        for practitioner in practitioners:
            if practitioner.id in extra_by_practitioner:
                continue  # their weekly and extra hours are merged below
            for hours in working_hours_on(weekly_by_practitioner[practitioner.id], day):
                start_time, end_time = hours.start_time, hours.end_time
                if (start_time, end_time) not in windows:
                    windows[start_time, end_time] = searched(*_local_window(day, start_time, end_time, zone))
                searches.append((practitioner, windows[start_time, end_time]))
        for staff_id, extra in extra_by_practitioner.items():
            practitioner = by_id[staff_id]
            for window in working_windows(day, zone, weekly_by_practitioner[staff_id], extra):
                searches.append((practitioner, searched(*window)))
        for practitioner, (start, last_end, grid) in searches:
            # The loop runs on epoch seconds: one float per candidate instead of datetime arithmetic.
            while start + duration_s + after_s <= last_end:
                block_start, block_end = start - before_s, start + duration_s + after_s
                busy_until = practitioner_busy.busy_until(practitioner.id, block_start, block_end)
                if busy_until is not None:
                    # Skip the whole busy stretch instead of testing every step inside it.
                    start = grid.ceiling(busy_until + before_s)
                    continue
                room = room_busy.first_free(rooms, block_start, block_end)
                device = device_busy.first_free(devices, block_start, block_end)
                second_device = (
                    device_busy.first_free(second_devices, block_start, block_end) if second_devices else None
                )
                if (room or not rooms) and (device or not devices) and (second_device or not second_devices):
                    slot_start = dt.datetime.fromtimestamp(start, UTC)
                    slots.append(
                        Slot(
                            start=slot_start,
                            end=slot_start + duration,
                            practitioner_id=practitioner.id,
                            room_id=room.id if room else None,
                            device_id=device.id if device else None,
                            second_device_id=second_device.id if second_device else None,
                        )
                    )
                start = grid.after(start)
        day += dt.timedelta(days=1)
    slots.sort(key=operator.attrgetter("start", "practitioner_id"))
    return slots


def free_times_on(
    *,
    service: Service,
    day: dt.date,
    practitioner_id: int | None = None,
    ignore_appointment_id: int | None = None,
) -> list[dict]:
    """Return a local day's free starts, one per time: {"local", "value" (for forms), "practitioner"}."""
    slots = available_slots(
        service=service,
        start_date=day,
        end_date=day,
        practitioner_id=practitioner_id,
        ignore_appointment_id=ignore_appointment_id,
    )
    return free_times_from(slots, service.clinic.zone)


def free_times_from(slots, zone, *, practitioner_id: int | None = None) -> list[dict]:
    """`free_times_on` over slots already computed, optionally only one practitioner's."""
    seen, times = set(), []
    for slot in slots:
        if practitioner_id is not None and slot.practitioner_id != practitioner_id:
            continue
        local = timezone.localtime(slot.start, zone)
        if local not in seen:
            seen.add(local)
            times.append(
                {
                    "local": local,
                    "value": local.strftime("%Y-%m-%dT%H:%M"),
                    "practitioner": slot.practitioner_id,
                }
            )
    return times


def next_free_start(
    *, service: Service, after: dt.date, days: int, practitioner_id: int | None = None
) -> dt.datetime | None:
    """Return the first free start (local time) on the `days` days after `after`, or None.

    What a page says when a day has nothing free, so nobody has to try day after day.
    """
    if days < 1:
        return None
    ahead = available_slots(
        service=service,
        start_date=after + dt.timedelta(days=1),
        end_date=after + dt.timedelta(days=days),
        practitioner_id=practitioner_id,
    )
    return timezone.localtime(ahead[0].start, service.clinic.zone) if ahead else None
