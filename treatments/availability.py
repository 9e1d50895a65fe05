"""Free start times for a service: working hours less time off and bookings, with a free room and device.

The whole computation runs on a fixed number of queries (practitioners with their qualifications and
hours, time off, appointments, rooms, devices), whatever the number of rows; the rest is in memory.
"""

import bisect
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import FloatField, Func, Prefetch
from django.utils import timezone

from clinic.models import (
    Device,
    PractitionerQualification,
    Room,
    StaffMember,
    StaffRole,
    TimeOff,
    WorkingHours,
)
from treatments.eligibility import qualification_gaps
from treatments.models import INACTIVE_STATUSES, Appointment, Service

UTC = dt.UTC


@dataclass(frozen=True)
class Slot:
    start: dt.datetime  # aware, UTC
    end: dt.datetime
    practitioner_id: int
    room_id: int | None
    device_id: int | None


def epoch(instant: dt.datetime) -> float:
    """Return seconds since 1970, rounded to the millisecond like the database's Epoch()."""
    return round(instant.timestamp(), 3)


class Epoch(Func):
    """A timestamp column as seconds since 1970, computed by the database.

    Loading 10,000 floats costs a fraction of parsing 10,000 timestamps into datetimes, which was
    most of availability's time with 5,000 appointments (see docs/benchmarks.md).
    """

    output_field = FloatField()

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(
            compiler, connection, template="ROUND(EXTRACT(EPOCH FROM %(expressions)s)::numeric, 3)::float8"
        )

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(
            compiler, connection, template="ROUND((julianday(%(expressions)s) - 2440587.5) * 86400.0, 3)"
        )


class BusyTimes:
    """Merged, sorted busy intervals (epoch seconds) per resource key, answering by bisection."""

    def __init__(self):
        self._raw: dict[object, list[tuple[float, float]]] = defaultdict(list)
        self._starts: dict[object, list[float]] = {}
        self._ends: dict[object, list[float]] = {}

    def add(self, key, start: float, end: float) -> None:
        self._raw[key].append((start, end))

    def freeze(self) -> "BusyTimes":
        for key, intervals in self._raw.items():
            intervals.sort()
            merged: list[list[float]] = []
            for start, end in intervals:
                if merged and start <= merged[-1][1]:
                    merged[-1][1] = max(merged[-1][1], end)
                else:
                    merged.append([start, end])
            self._starts[key] = [m[0] for m in merged]
            self._ends[key] = [m[1] for m in merged]
        return self

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

    def is_free(self, key, start: float, end: float) -> bool:
        return self.busy_until(key, start, end) is None


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


def _first_on_grid(instant: dt.datetime, zone, step_minutes: int) -> dt.datetime:
    """Return the first instant at or after `instant` whose local wall time is on the clinic's slot grid."""
    instant = instant.astimezone(UTC)
    if instant.second or instant.microsecond:
        instant = instant.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    local = instant.astimezone(zone)
    remainder = (local.hour * 60 + local.minute) % step_minutes
    return instant + dt.timedelta(minutes=(step_minutes - remainder) % step_minutes)


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
       the needed kind are free for it; report the first free room and device.
    """
    clinic = service.clinic
    zone = clinic.zone
    now = now or timezone.now()
    before = dt.timedelta(minutes=service.buffer_before_minutes)
    duration = dt.timedelta(minutes=service.duration_minutes)
    after = dt.timedelta(minutes=service.buffer_after_minutes)
    step = dt.timedelta(minutes=clinic.slot_step_minutes)
    before_s, duration_s, after_s, step_s = (d.total_seconds() for d in (before, duration, after, step))
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
    devices = (
        list(
            Device.objects.filter(clinic=clinic, kind=service.device_kind, is_active=True).order_by(
                "name", "id"
            )
        )
        if service.device_kind
        else []
    )
    if (service.requires_room and not rooms) or (service.device_kind and not devices):
        return []

    busy = BusyTimes()
    for staff_id, start, end in TimeOff.objects.filter(
        staff_member_id__in=practitioner_ids, start__lt=range_end + pad, end__gt=range_start - pad
    ).values_list("staff_member_id", "start", "end"):
        busy.add(("practitioner", staff_id), epoch(start), epoch(end))
    appointments = (
        Appointment.objects.filter(
            clinic=clinic, blocked_start__lt=range_end + pad, blocked_end__gt=range_start - pad
        )
        .exclude(status__in=INACTIVE_STATUSES)
        .annotate(held_from=Epoch("blocked_start"), held_until=Epoch("blocked_end"))
        .values_list("id", "practitioner_id", "room_id", "device_id", "held_from", "held_until")
    )
    for appointment_id, staff_id, room_id, device_id, start, end in appointments:
        if appointment_id == ignore_appointment_id:
            continue
        busy.add(("practitioner", staff_id), start, end)
        if room_id:
            busy.add(("room", room_id), start, end)
        if device_id:
            busy.add(("device", device_id), start, end)
    busy.freeze()

    slots: list[Slot] = []
    day = start_date
    while day <= end_date:
        for practitioner in practitioners:
            for hours in practitioner.working_hours.all():
                if hours.weekday != day.weekday():
                    continue
                window_start, window_end = _local_window(day, hours.start_time, hours.end_time, zone)
                first = _first_on_grid(max(window_start + before, earliest), zone, clinic.slot_step_minutes)
                # The loop runs on epoch seconds: one float per candidate instead of datetime arithmetic.
                start, last_end = epoch(first), epoch(window_end)
                while start + duration_s + after_s <= last_end:
                    block_start, block_end = start - before_s, start + duration_s + after_s
                    busy_until = busy.busy_until(("practitioner", practitioner.id), block_start, block_end)
                    if busy_until is not None:
                        # Skip the whole busy stretch instead of testing every step inside it.
                        resume = dt.datetime.fromtimestamp(busy_until, UTC) + before
                        start = max(
                            start + step_s, epoch(_first_on_grid(resume, zone, clinic.slot_step_minutes))
                        )
                        continue
                    room = next(
                        (r for r in rooms if busy.is_free(("room", r.id), block_start, block_end)), None
                    )
                    device = next(
                        (d for d in devices if busy.is_free(("device", d.id), block_start, block_end)), None
                    )
                    if (room or not rooms) and (device or not devices):
                        slot_start = dt.datetime.fromtimestamp(start, UTC)
                        slots.append(
                            Slot(
                                start=slot_start,
                                end=slot_start + duration,
                                practitioner_id=practitioner.id,
                                room_id=room.id if room else None,
                                device_id=device.id if device else None,
                            )
                        )
                    start += step_s
        day += dt.timedelta(days=1)
    slots.sort(key=lambda s: (s.start, s.practitioner_id))
    return slots
