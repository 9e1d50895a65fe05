"""The one door for booking: book, reschedule, cancel, change status, and book a course.

Each function validates, writes the appointment and its audit event in one transaction, and raises
ClinicError (or ConflictError when a time is taken) with a message a front-desk person can act on.

Double bookings: on PostgreSQL, exclusion constraints refuse two active appointments whose blocked
times overlap for the same practitioner, room or device (migration 0004), and two device holds of one
device (a visit's first or second device, migration 0012); a race that slips past the friendly
pre-check lands there and is reported the same way. On SQLite every write transaction starts
with BEGIN IMMEDIATE (settings), so the pre-check and the insert run one booking at a time.
"""

import datetime as dt
import random
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from django.core.files.storage import default_storage
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Exists, F, Max, OuterRef, prefetch_related_objects
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from clients.models import Client
from clients.selectors import refusal_said, refused_address, refused_addresses
from clients.services import refuse_if_erased
from clinic.errors import ClinicError, ConflictError, NotAllowedError
from clinic.models import (
    Device,
    DeviceKind,
    OutboxMessage,
    OutboxStatus,
    OutOfService,
    Room,
    StaffMember,
    StaffRole,
    TimeOff,
)
from clinic.out_of_service import out_of_service_said
from clinic.parsing import text_typed
from clinic.permissions import acting_user
from treatments.availability import extra_hours_by_practitioner
from treatments.contraindications import absolute, contraindication_findings, relative
from treatments.eligibility import qualification_gaps
from treatments.models import (
    COURSE_PROGRESS_STATUSES,
    INACTIVE_STATUSES,
    MAX_HELD,
    NOTE_MAX_CHARACTERS,
    Appointment,
    AppointmentEvent,
    AppointmentStatus,
    Course,
    EarlierSession,
    Protocol,
    Service,
    SessionAddendum,
    SessionPhoto,
    TreatmentSession,
    VisitFeedback,
    WaitlistEnded,
    WaitlistEntry,
)
from treatments.notifications import (
    notify_booked,
    notify_cancelled,
    notify_course_booked,
    notify_course_cancelled,
    notify_feedback_request,
    notify_forms_request,
    notify_practitioners_of_client_change,
    notify_rescheduled,
    notify_running_late,
)
from treatments.schedule_guard import DEVICE_OUT_OF_SERVICE, PRACTITIONER_OFF, ROOM_OUT_OF_SERVICE
from treatments.selectors import (
    BOOKED_BY_CLIENT,
    CLIENTS_OWN_SOURCES,
    client_attendance,
    fits_working_hours,
    short_local,
    visits_at_once,
    visits_later_today,
)
from treatments.waitlist import waitlist_close_for, waitlist_offer_freed, waitlist_visit_cancelled

MAX_COURSE_SESSIONS = 52
# PostgreSQL aborts one of two bookings that wait on each other's rows in different exclusion indexes
# (deadlock) or cannot be serialised; the retry then sees the winner and reports a plain conflict.
RETRYABLE_SQLSTATES = {"40P01", "40001"}
WRITE_ATTEMPTS = 6
# A booking that lost the room or device it picked to a booking committed that moment tries the next
# one. Each loss means that one is now taken, seen by the next attempt, so the tries end when a free
# one is held or none is left ("No treatment room is free"): never "taken" while another is free.
# The bound only guards against a bug looping forever.
REASSIGN_ATTEMPTS = 60
# A walk-in entered a few minutes after it began is still accepted.
PAST_GRACE = dt.timedelta(minutes=15)
# No clinic books this far ahead: a later date is a mistyped year (2062 for 2026), refused plainly.
BOOKING_HORIZON = dt.timedelta(days=5 * 365)

# Which status a visit may move to from which (FHIR Appointment codes).
TRANSITIONS = {
    AppointmentStatus.ARRIVED: {AppointmentStatus.BOOKED, AppointmentStatus.PENDING},
    AppointmentStatus.FULFILLED: {
        AppointmentStatus.BOOKED,
        AppointmentStatus.ARRIVED,
        AppointmentStatus.CHECKED_IN,
    },
    AppointmentStatus.NOSHOW: {AppointmentStatus.BOOKED, AppointmentStatus.PENDING},
}


@dataclass
class BookingRequest:
    """What the front desk (or a client online) asks for; room and device are assigned when omitted."""

    client: Client
    service: Service
    practitioner: StaffMember
    start: dt.datetime
    room: Room | None = None
    device: Device | None = None
    second_device: Device | None = None
    relative_contraindication_reason: str = ""
    interval_override_reason: str = ""
    notes: str = ""
    # what the client wrote for the clinic, booking online
    client_note: str = ""
    source: str = "staff"
    # the client emailed the confirmation with its invite (reminders go either way): not for a visit
    # the old software confirmed, imported from it
    confirmed: bool = True


def _local(clinic, instant: dt.datetime) -> str:
    return timezone.localtime(instant, clinic.zone).strftime("%H:%M")


def _local_day(clinic, instant: dt.datetime) -> str:
    return timezone.localtime(instant, clinic.zone).strftime("%a %d %b %Y %H:%M")


def _describe_taken(clinic, what: str, other: Appointment) -> str:
    return (
        f"{what} is already booked {_local(clinic, other.blocked_start)}–{_local(clinic, other.blocked_end)}."
    )


# What `_hold_resources` reads of the visits that overlap a held time.
HELD_FIELDS = (
    "client_id",
    "practitioner_id",
    "service_id",
    "room_id",
    "device_id",
    "second_device_id",
    "start",
    "end",
    "blocked_start",
    "blocked_end",
)


def _overlapping(clinic, blocked_start, blocked_end, ignore_id=None):
    overlapping = Appointment.objects.filter(
        clinic=clinic,
        blocked_start__lt=blocked_end,
        blocked_start__gt=blocked_start - MAX_HELD,  # lets the (clinic, blocked_start) index do the work
        blocked_end__gt=blocked_start,
    ).exclude(status__in=INACTIVE_STATUSES)
    if ignore_id:
        overlapping = overlapping.exclude(pk=ignore_id)
    return overlapping


def _check_rules(request: BookingRequest, *, actor, ignore_id=None) -> list[str]:
    """Raise for what makes the booking impossible; return what was accepted with a reason."""
    client, service = request.client, request.service
    if client.clinic_id != service.clinic_id:
        raise ClinicError(
            "That client, practitioner and service are not all of this clinic.", code="wrong_clinic"
        )
    if not service.is_active:
        raise ClinicError(f"“{service.name}” is no longer offered.", code="service_inactive")
    if request.source in CLIENTS_OWN_SOURCES and (refusal := online_booking_refusal(client)):
        raise refusal
    # the waitlist offers the days the client (or the desk) chose, which may lie further ahead
    if request.source == "online" and (refusal := online_horizon_refusal(service.clinic, request.start)):
        raise refusal
    _check_practitioner(request)
    accepted = _check_contraindications(request)
    accepted += _check_interval(request, actor=actor, ignore_id=ignore_id)
    return accepted


# Visits still ahead that a client may have booked themselves (online, or from a waitlist offer).
OWN_VISITS_AHEAD_MAX = 4


def online_booking_refusal(client: Client, *, now: dt.datetime | None = None) -> ClinicError | None:
    """Why the client may not book themselves (online, from the waitlist's link), or None if they may.

    A clinic can ask clients who missed `phone_booking_after_no_shows` visits in the last twelve months
    to call to book (one query, none when it does not); a client with OWN_VISITS_AHEAD_MAX visits ahead
    that they booked themselves is asked to call for another (one query). The front desk still books
    them.
    """
    clinic = client.clinic
    now = now or timezone.now()
    call_us = f"Please call us{' on ' + clinic.phone if clinic.phone else ''}"
    limit = clinic.phone_booking_after_no_shows
    if limit and client_attendance(client, now=now)["no_shows"] >= limit:
        return ClinicError(f"{call_us} to book: after missed visits, we book by phone.", code="book_by_phone")
    # One address cannot take a run of the calendar by itself: visits the client booked themselves
    # and still ahead are capped (the desk books any number, and a course).
    own_ahead = (
        Appointment.objects.filter(client=client, start__gt=now)
        .exclude(status__in=INACTIVE_STATUSES)
        .filter(Exists(AppointmentEvent.objects.filter(BOOKED_BY_CLIENT, appointment=OuterRef("pk"))))
        .count()
    )
    if own_ahead >= OWN_VISITS_AHEAD_MAX:
        return ClinicError(
            f"You already have {own_ahead} visits booked ahead online. {call_us} to book another.",
            code="own_visits_ahead",
        )
    return None


def last_online_day(clinic, *, now: dt.datetime | None = None) -> dt.date:
    """The last local day clients may book themselves online (`Clinic.online_booking_days_ahead`)."""
    today = timezone.localdate(now or timezone.now(), clinic.zone)
    return today + dt.timedelta(days=clinic.online_booking_days_ahead)


def online_horizon_refusal(
    clinic, start: dt.datetime, *, now: dt.datetime | None = None
) -> ClinicError | None:
    """Why a client may not book (or move their visit to) `start` online themselves, or None if they may:
    past the days the clinic opens to online booking (the front desk books any day)."""
    last = last_online_day(clinic, now=now)
    if timezone.localdate(start, clinic.zone) <= last:
        return None
    return ClinicError(
        f"We take bookings online up to {clinic.online_booking_days_ahead} days ahead, until "
        f"{last:%A} {last.day} {last:%B}. For a later day, please call us"
        f"{' on ' + clinic.phone if clinic.phone else ''}.",
        code="beyond_online_days",
    )


def _check_practitioner(request: BookingRequest) -> None:
    """Raise unless the practitioner is the clinic's, takes appointments and may perform the service."""
    service, practitioner = request.service, request.practitioner
    if practitioner.clinic_id != service.clinic_id:
        raise ClinicError(
            "That client, practitioner and service are not all of this clinic.", code="wrong_clinic"
        )
    if practitioner.role != StaffRole.PRACTITIONER or not practitioner.is_active:
        raise ClinicError(
            f"{practitioner.display_name} does not take appointments.", code="not_a_practitioner"
        )
    modalities = {p.modality for p in service.protocols.all()}
    gaps = qualification_gaps(
        qualifications=list(practitioner.qualifications.all()), service=service, modalities=modalities
    )
    if gaps:
        raise ClinicError(
            f"{practitioner.display_name} cannot perform “{service.name}”: {'; '.join(gaps)}.",
            code="not_qualified",
        )


def _check_contraindications(request: BookingRequest, *, relative_accepted: bool = False) -> list[str]:
    """Raise for an absolute contraindication on the visit's local day, or a relative one without a reason.

    `relative_accepted`: the visit is being moved, and relative ones were weighed when it was booked.
    Return what was accepted with a reason.
    """
    client, service = request.client, request.service
    local_date = timezone.localtime(request.start, service.clinic.zone).date()
    findings = contraindication_findings(client=client, service=service, on=local_date)
    if blocking := absolute(findings):
        raise ClinicError(
            f"{client.full_name} cannot have “{service.name}”"
            + (f" on {local_date:%a} {local_date.day} {local_date:%b %Y}" if relative_accepted else "")
            + ": "
            + "; ".join(f.describe() for f in blocking)
            + ". This is an absolute contraindication.",
            code="contraindicated",
        )
    warnings = relative(findings)
    if not warnings or relative_accepted:
        return []
    listed = "; ".join(f.describe() for f in warnings)
    if not request.relative_contraindication_reason.strip():
        raise ClinicError(
            f"{client.full_name} has a relative contraindication: {listed}. "
            "The practitioner must confirm and record why it is safe to go ahead.",
            code="relative_contraindication_needs_reason",
        )
    return [relative_accepted_note(warnings, request.relative_contraindication_reason)]


def relative_accepted_note(warnings, reason: str) -> str:
    """What the visit's history keeps of relative contraindications weighed at booking, and why."""
    listed = "; ".join(f.describe() for f in warnings)
    return f"Relative contraindication accepted ({listed}): {reason}"


class EarlierStart(NamedTuple):
    """A session the client had before this calendar held it (`EarlierSession`), as the interval rule
    sees it: from the start of its day in the clinic's zone, so the day `min_interval_days` after it
    is the first allowed."""

    start: dt.datetime
    earlier: EarlierSession
    protocol_id: int  # the protocol it was found for, as an Appointment is annotated

    @property
    def where(self) -> str:
        """ "before coming here", "in the software used before" """
        return self.earlier.get_source_display().lower()


def interval_rules_out(session, protocol: Protocol, first: dt.datetime, last: dt.datetime) -> bool:
    """Whether a session's protocol interval rules out a start between `first` and `last`. A session
    had before (`EarlierStart`) starts at local midnight, and the arithmetic on its aware local time is
    on the wall clock: the first allowed day is the same either side of a clock change."""
    gap = dt.timedelta(days=protocol.min_interval_days)
    return session.start - gap < last and session.start + gap > first


def too_soon_after(
    client: Client, service: Service, first: dt.datetime, last: dt.datetime, *, ignore_id=None
) -> list[tuple[Appointment | EarlierStart, Protocol]]:
    """The client's active sessions (and those had before, `EarlierSession`) whose protocol interval
    rules out starts of `service` between `first` and `last` (two queries): [(session, its protocol)],
    by start. A start within a protocol's interval of one of its sessions is refused at booking
    (`_check_interval`) unless a manager overrides, and the finder leaves it out. `ignore_id`: the
    visit being moved."""
    protocols = {p.pk: p for p in service.protocols.all() if p.min_interval_days}
    if not protocols:
        return []
    widest = dt.timedelta(days=max(p.min_interval_days for p in protocols.values()))
    sessions: list[Appointment | EarlierStart] = list(
        Appointment.objects.filter(
            client=client,
            service__protocols__in=list(protocols),
            start__gt=first - widest,
            start__lt=last + widest,
        )
        .exclude(status__in=INACTIVE_STATUSES)
        .exclude(pk=ignore_id)
        .annotate(protocol_id=F("service__protocols"))
        .order_by("start", "id")
    )
    zone = service.clinic.zone
    earlier = EarlierSession.objects.filter(
        client=client,
        removed_at=None,
        service__protocols__in=list(protocols),
        given_on__gt=timezone.localdate(first - widest, zone) - dt.timedelta(days=1),
        given_on__lt=timezone.localdate(last + widest, zone) + dt.timedelta(days=1),
    ).annotate(protocol_id=F("service__protocols"))
    sessions += [
        EarlierStart(dt.datetime.combine(had.given_on, dt.time(), tzinfo=zone), had, had.protocol_id)
        for had in earlier
    ]
    return [
        (session, protocols[session.protocol_id])
        for session in sorted(sessions, key=lambda s: (s.start, isinstance(s, EarlierStart)))
        if interval_rules_out(session, protocols[session.protocol_id], first, last)
    ]


def _check_interval(request: BookingRequest, *, actor, ignore_id=None) -> list[str]:
    """Refuse a session sooner after (or before) another of the same protocol than it allows."""
    service, client = request.service, request.client
    too_soon = too_soon_after(client, service, request.start, request.start, ignore_id=ignore_id)
    if not too_soon:
        return []
    # named: the first of the service's protocols that refuses it, and its earliest session in the way
    protocol = next(p for p in service.protocols.all() if any(q.pk == p.pk for _, q in too_soon))
    nearby = next(session for session, q in too_soon if q.pk == protocol.pk)
    if isinstance(nearby, EarlierStart):
        had = f"had “{protocol.name}” on {nearby.start:%a %d %b %Y} ({nearby.where})"
    else:
        had = f"has “{protocol.name}” on {_local_day(service.clinic, nearby.start)}"
    message = f"{client.full_name} {had}; sessions must be at least {protocol.min_interval_days} days apart."
    if not request.interval_override_reason.strip():
        raise ClinicError(message + " A manager can override with a reason.", code="too_soon")
    member = getattr(actor, "staff", None) if actor else None
    if member is None or member.role != StaffRole.MANAGER:
        raise NotAllowedError(
            message + " Only a manager can override the interval.", code="override_not_allowed"
        )
    return [f"Interval overridden by {member.display_name}: {request.interval_override_reason}"]


def _check_working_time(practitioner: StaffMember, clinic, blocked_start, blocked_end) -> None:
    zone = clinic.zone
    local_start = timezone.localtime(blocked_start, zone)
    local_end = timezone.localtime(blocked_end, zone)
    hours = practitioner.working_hours.all()
    if not fits_working_hours(hours, zone, blocked_start, blocked_end) and not fits_working_hours(
        hours,
        zone,
        blocked_start,
        blocked_end,
        extra_hours_by_practitioner([practitioner.pk], blocked_start, blocked_end).get(practitioner.pk, ()),
    ):
        raise ConflictError(
            f"{practitioner.display_name} does not work {local_start:%a %d %b} "
            f"{local_start:%H:%M}–{local_end:%H:%M} ({clinic.time_zone}).",
            code="outside_working_hours",
        )
    off = TimeOff.objects.filter(
        staff_member=practitioner, start__lt=blocked_end, end__gt=blocked_start
    ).first()
    if off:
        raise ConflictError(
            f"{practitioner.display_name} is off {_local_day(clinic, off.start)}–{_local(clinic, off.end)}.",
            code="practitioner_off",
        )


def _pick(candidates, spread: bool):
    """Return the first free candidate, or a random one when retrying after losing a race for the first."""
    if not candidates:
        return None
    return random.choice(candidates) if spread else candidates[0]  # noqa: S311 (not security)


class Held(NamedTuple):
    """The room and devices a visit holds (each None when the service needs none)."""

    room: Room | None
    device: Device | None
    second_device: Device | None

    @classmethod
    def of(cls, appointment: Appointment) -> "Held":
        return cls(appointment.room, appointment.device, appointment.second_device)

    def assign_to(self, appointment: Appointment) -> None:
        appointment.room, appointment.device, appointment.second_device = self


HELD_COLUMNS = list(Held._fields)  # the appointment's columns of the same names


def _hold_resources(
    request: BookingRequest, blocked_start, blocked_end, ignore_id=None, spread=False
) -> Held:
    """Return the room and devices free for the blocked time, or raise ConflictError naming what is taken."""
    service, practitioner, clinic = request.service, request.practitioner, request.service.clinic
    # Only the columns the checks read, without joins: a booking's one busy-time query is planned on
    # every booking, and the joined form cost more to plan than to run. The names a refusal gives are
    # loaded for that one refusal.
    overlapping = list(_overlapping(clinic, blocked_start, blocked_end, ignore_id).only(*HELD_FIELDS))
    # The client cannot be in two rooms at once. A visit of theirs that overlaps this one's own time is
    # among these rows already: its held time contains its visit, and ours contains ours.
    start = request.start
    end = start + dt.timedelta(minutes=service.duration_minutes)
    client_busy = next(
        (a for a in overlapping if a.client_id == request.client.id and a.start < end and a.end > start),
        None,
    )
    if client_busy:
        raise ConflictError(
            f"{request.client.full_name} already has a visit {_local(clinic, client_busy.start)}–"
            f"{_local(clinic, client_busy.end)} ({client_busy.service.name} with "
            f"{client_busy.practitioner.display_name}).",
            code="client_busy",
        )
    taken_by_practitioner = next((a for a in overlapping if a.practitioner_id == practitioner.id), None)
    if taken_by_practitioner:
        raise ConflictError(
            _describe_taken(clinic, practitioner.display_name, taken_by_practitioner),
            code="practitioner_taken",
        )
    busy_rooms = {a.room_id: a for a in overlapping if a.room_id}
    # A device is busy whether another visit holds it as its first device or as its second.
    busy_devices = {a.device_id: a for a in overlapping if a.device_id}
    busy_devices.update({a.second_device_id: a for a in overlapping if a.second_device_id})
    down_rooms, down_devices = _out_of_service(request, blocked_start, blocked_end)
    room = request.room
    if room is not None:
        if room.clinic_id != clinic.id:
            raise ClinicError("That room is not in this clinic.", code="wrong_clinic")
        if room.id in busy_rooms:
            raise ConflictError(_describe_taken(clinic, room.name, busy_rooms[room.id]), code="room_taken")
        if room.id in down_rooms:
            raise ConflictError(_describe_down(room, down_rooms[room.id]), code="room_out_of_service")
    elif service.requires_room:
        room = _pick(
            list(
                Room.objects.filter(clinic=clinic, is_active=True)
                .exclude(id__in=[*busy_rooms, *down_rooms])
                .order_by("name", "id")
            ),
            spread,
        )
        if room is None:
            raise ConflictError("No treatment room is free at that time.", code="no_room_free")
    device = _hold_device(request, request.device, service.device_kind, busy_devices, down_devices, spread)
    second_device = _hold_device(
        request,
        request.second_device,
        service.second_device_kind,
        busy_devices,
        down_devices,
        spread,
        what="second device",
    )
    return Held(room, device, second_device)


def _out_of_service(request: BookingRequest, blocked_start, blocked_end) -> tuple[dict, dict]:
    """The rooms and devices out of service at some time in the held time, by id: ({room: period},
    {device: period}). One query, none for a service that needs neither."""
    service = request.service
    if not (request.room or service.requires_room or service.device_kinds):
        return {}, {}
    periods = OutOfService.objects.filter(
        clinic_id=service.clinic_id, start__lt=blocked_end, end__gt=blocked_start
    ).only("room_id", "device_id", "reason")
    rooms, devices = {}, {}
    for period in periods:
        (rooms if period.room_id else devices).setdefault(period.room_id or period.device_id, period)
    return rooms, devices


def _describe_down(what: Room | Device, period: OutOfService) -> str:
    return out_of_service_said(what.name, period.reason) + "."


def _hold_device(
    request: BookingRequest,
    given: Device | None,
    kind: str,
    busy: dict,
    down: dict,
    spread: bool,
    *,
    what="device",
):
    """The device given if it is of the kind, free and in service, else a free one of the kind in service
    (None if no kind)."""
    service, clinic = request.service, request.service.clinic
    if given is not None:
        if given.clinic_id != clinic.id:
            raise ClinicError("That device is not in this clinic.", code="wrong_clinic")
        if not kind:
            raise ClinicError(f"“{service.name}” books no {what}: leave it out.", code="wrong_device")
        if given.kind != kind:
            needed = DeviceKind(kind).label.lower()
            raise ClinicError(f"“{service.name}” needs a {needed}, not {given}.", code="wrong_device")
        if given.id in busy:
            raise ConflictError(_describe_taken(clinic, given.name, busy[given.id]), code="device_taken")
        if given.id in down:
            raise ConflictError(_describe_down(given, down[given.id]), code="device_out_of_service")
        return given
    if not kind:
        return None
    device = _pick(
        list(
            Device.objects.filter(clinic=clinic, kind=kind, is_active=True)
            .exclude(id__in=[*busy, *down])
            .order_by("name", "id")
        ),
        spread,
    )
    if device is None:
        raise ConflictError(
            f"No {DeviceKind(kind).label.lower()} is free at that time.", code="no_device_free"
        )
    return device


def _blocked(service: Service, start: dt.datetime):
    end = start + dt.timedelta(minutes=service.duration_minutes)
    return (
        end,
        start - dt.timedelta(minutes=service.buffer_before_minutes),
        end + dt.timedelta(minutes=service.buffer_after_minutes),
    )


def _conflict_from_integrity_error(error: IntegrityError) -> ConflictError | None:
    text = str(error)
    # time off or an out of service recorded between the booking's check and its write
    for refusal, what, code in (
        (PRACTITIONER_OFF, "The practitioner was just marked as off", "practitioner_off"),
        (ROOM_OUT_OF_SERVICE, "That room was just taken out of service", "room_out_of_service"),
        (DEVICE_OUT_OF_SERVICE, "That device was just taken out of service", "device_out_of_service"),
    ):
        if refusal in text:
            return ConflictError(f"{what} at that time. Pick another time.", code=code)
    if "appointment_client_no_overlap" in text:
        return ConflictError(
            "The client was just booked at that time by someone else. Pick another time.", code="client_busy"
        )
    if "device_hold_no_overlap" in text:  # the visit's first device or its second
        return ConflictError(
            "Someone else just booked that device at that time. Pick another time.", code="device_taken"
        )
    for resource in ("practitioner", "room", "device"):
        if f"appointment_{resource}_no_overlap" in text:
            return ConflictError(
                f"Someone else just booked that {resource} at that time. Pick another time.",
                code=f"{resource}_taken",
            )
    return None


def _write_with_retries(write, *, reassignable: frozenset[str] = frozenset()):
    """Run a booking write, retrying deadlocks; turn exclusion violations into ConflictError.

    `reassignable` names the resources ("room", "device": either device) the booking picked itself:
    when another booking took that one at the same moment, the retry picks another free one instead
    of refusing, for as long as one is free (REASSIGN_ATTEMPTS). Deadlocks and serialisation
    failures are retried WRITE_ATTEMPTS times.
    """
    busy_retries = 0
    for attempt in range(1, REASSIGN_ATTEMPTS + 1):
        try:
            return write(attempt)
        except IntegrityError as error:
            conflict = _conflict_from_integrity_error(error)
            if conflict is None:
                raise
            if conflict.code.removesuffix("_taken") in reassignable and attempt < REASSIGN_ATTEMPTS:
                continue
            raise conflict from error
        except OperationalError as error:
            if getattr(error.__cause__, "sqlstate", None) not in RETRYABLE_SQLSTATES:
                raise
            busy_retries += 1
            if busy_retries == WRITE_ATTEMPTS or attempt == REASSIGN_ATTEMPTS:
                raise ConflictError(
                    "The calendar is very busy at that moment. Please try again.", code="busy"
                ) from error
    raise AssertionError("unreachable")


def _aware_utc(start: dt.datetime) -> dt.datetime:
    if timezone.is_naive(start):
        raise ClinicError(
            "Give the start time with its UTC offset, e.g. 2026-11-23T10:00:00+00:00.", code="naive_time"
        )
    return start.astimezone(dt.UTC)


def _refuse_unbookable(start: dt.datetime) -> None:
    """Refuse a start that has passed, or one so far ahead that its year must be a typo."""
    now = timezone.now()
    if start < now - PAST_GRACE:
        raise ClinicError("That time has already passed. Pick a time from now on.", code="in_the_past")
    if start > now + BOOKING_HORIZON:
        raise ClinicError(
            f"That time is in {start.year}, more than five years ahead. Check the year.", code="too_far_ahead"
        )


def appointment_book(request: BookingRequest, *, actor=None, course: Course | None = None) -> Appointment:
    """Book one visit, or raise ClinicError/ConflictError saying why not."""
    clinic = request.service.clinic
    request.start = _aware_utc(request.start)
    _refuse_unbookable(request.start)
    prefetch_related_objects([request.service], "protocols")
    end, blocked_start, blocked_end = _blocked(request.service, request.start)
    notes = note_text(request.notes, whose="The")
    client_note = note_text(request.client_note, whose="Your")
    accepted = _check_rules(request, actor=actor)
    _check_working_time(request.practitioner, clinic, blocked_start, blocked_end)

    def write(attempt):
        with transaction.atomic():
            refuse_if_erased(request.client)  # its row held: an erasure waits, or has been
            room, device, second_device = _hold_resources(
                request, blocked_start, blocked_end, spread=attempt > 1
            )
            appointment = Appointment.objects.create(
                clinic=clinic,
                client=request.client,
                practitioner=request.practitioner,
                service=request.service,
                room=room,
                device=device,
                second_device=second_device,
                course=course,
                start=request.start,
                end=end,
                blocked_start=blocked_start,
                blocked_end=blocked_end,
                status=AppointmentStatus.BOOKED,
                notes=notes,
                client_note=client_note,
                created_by=acting_user(actor),
                price=request.service.price,
            )
            event = AppointmentEvent.objects.create(
                appointment=appointment,
                actor=appointment.created_by,
                action="booked",
                details={"source": request.source, "accepted": accepted, "start": request.start.isoformat()},
            )
            if course is None:  # a course's sessions are announced together, by course_book
                notify_booked(appointment, confirmed=request.confirmed)
            if request.source in CLIENTS_OWN_SOURCES:
                notify_practitioners_of_client_change(appointment, "booked", event_id=event.pk)
            waitlist_close_for(appointment)
            return appointment

    # What the booking picked itself is picked again after a lost race; what was given is refused. A
    # lost device race does not say which of two devices it was: the retry's check finds out.
    devices_given = request.device is not None and (
        request.second_device is not None or not request.service.second_device_kind
    )
    reassignable = frozenset(
        name for name, given in (("room", request.room is not None), ("device", devices_given)) if not given
    )
    appointment = _write_with_retries(write, reassignable=reassignable)
    return appointment


@transaction.atomic
def appointment_request_forms(appointment: Appointment, *, actor=None) -> list[str]:
    """Email the client the link to the intake and consents their visit still needs; return their names.

    For the front desk chasing forms before a visit: refused, in words, for a visit no longer ahead,
    a client with no email address or one their mail server refused, a link still waiting to go out,
    or nothing missing.
    """
    current = _locked(appointment)
    client = current.client
    if (
        not current.is_active
        or current.status == AppointmentStatus.FULFILLED
        or current.start <= timezone.now()
    ):
        raise ClinicError(
            "This visit is no longer ahead: there is nothing to fill before it.", code="not_ahead"
        )
    if not client.email:
        raise ClinicError(
            f"{client.full_name} has no email address. Add one on their page, or have them fill the "
            "forms at the desk.",
            code="no_email",
        )
    if refusal := refused_address(client):
        raise ClinicError(
            f"{refusal_said(refusal, current.clinic.zone)}. "
            f"Correct the address on {client.full_name}'s page, or have them fill the forms at the desk.",
            code="address_refused",
        )
    if OutboxMessage.objects.filter(
        topic=f"appointment:{current.pk}", template_key="forms_request", status=OutboxStatus.PENDING
    ).exists():
        raise ClinicError(
            f"A link to the forms is already on its way to {client.email}.", code="already_queued"
        )
    names = notify_forms_request(current)
    if not names:
        raise ClinicError(
            "Nothing is missing: the intake and consents this visit needs are in order.",
            code="nothing_missing",
        )
    AppointmentEvent.objects.create(
        appointment=current, actor=acting_user(actor), action="forms_requested", details={"forms": names}
    )
    return names


def note_text(text: str, *, whose: str) -> str:
    """A note as a visit keeps it: its lines' ends as typed, no blank lines around it, not too long.

    `whose` begins the refusal: "Your note is …" on a client's page, "The note is …" on the desk's.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    note = "\n".join(line.rstrip() for line in lines).strip()
    if len(note) > NOTE_MAX_CHARACTERS:
        raise ClinicError(
            f"{whose} note is {len(note):,} characters long: please keep it to {NOTE_MAX_CHARACTERS:,}.",
            code="note_too_long",
        )
    return note


@transaction.atomic
def appointment_notes_change(appointment: Appointment, *, notes: str, actor=None) -> Appointment:
    """Write, change or clear the clinic's note on a visit, from its page; the history keeps what it said.

    Any visit, past or cancelled too: "called to apologise" belongs on a missed one. Clients never see it.
    """
    current = _locked(appointment)
    _note_change(current, "notes", note_text(notes, whose="The"), action="notes_changed", actor=actor)
    return current


def _note_change(
    visit: Appointment, field: str, text: str, *, action: str, actor=None, **said
) -> AppointmentEvent | None:
    """Keep the visit's note (`field`) as `text`, with a history event of what it said before (returned);
    an unchanged note is no change (None)."""
    before = getattr(visit, field)
    if text == before:
        return None
    setattr(visit, field, text)
    visit.save(update_fields=[field])
    return AppointmentEvent.objects.create(
        appointment=visit,
        actor=acting_user(actor),
        action=action,
        details={"before": before, "after": text, **said},
    )


PRICE_REASON_MAX_CHARACTERS = 300


@transaction.atomic
def appointment_price_change(appointment: Appointment, *, price, reason: str, actor=None) -> Appointment:
    """Change what a visit costs (an offer, a course's price, a mistake at booking), saying why; the
    history keeps the price before, who changed it and why. Never below what was paid for it and let
    go (`treatments.payments`): give money back first."""
    from treatments.payments import amount_given, paid_and_waived  # payments reads visits, not this

    current = _locked(appointment)
    clinic = current.clinic
    new_price = amount_given(price, may_be_nothing=True)
    reason = text_typed(reason)
    if not reason:
        raise ClinicError("Say why the price changes: the visit's history keeps it.", code="reason_missing")
    if len(reason) > PRICE_REASON_MAX_CHARACTERS:
        raise ClinicError(
            f"Keep the reason to {PRICE_REASON_MAX_CHARACTERS} characters.", code="reason_too_long"
        )
    if new_price == current.price:
        raise ClinicError(f"{clinic.price_text(new_price)} is its price already.", code="price_unchanged")
    paid, waived = paid_and_waived(current.pk)
    if new_price < paid + waived:
        raise ClinicError(
            f"{clinic.price_text(paid + waived)} of this visit was paid or let go already: its price cannot "
            "go below that. Give money back first.",
            code="price_below_paid",
        )
    _price_set(current, new_price, reason=reason, actor=actor)
    return current


def _price_set(visit: Appointment, price: Decimal, *, reason: str, actor=None) -> None:
    """Keep the visit's new price, with a history event saying from what, why and by whom."""
    before, visit.price = visit.price, price
    visit.save(update_fields=["price"])
    AppointmentEvent.objects.create(
        appointment=visit,
        actor=acting_user(actor),
        action="price_changed",
        details={"from": f"{before:.2f}", "to": f"{price:.2f}", "reason": reason},
    )


def still_ahead_for_the_client(appointment: Appointment, *, now: dt.datetime) -> bool:
    """Booked and not begun: a visit the client may still confirm, or write the clinic a note about."""
    return appointment.status in (AppointmentStatus.BOOKED, AppointmentStatus.PENDING) and (
        appointment.start > now
    )


@transaction.atomic
def appointment_client_note(
    appointment: Appointment, *, note: str, now: dt.datetime | None = None
) -> Appointment:
    """Write, change or clear the client's own note for the clinic, from their link, before the visit;
    the practitioner hears of it as of the client's other changes (the email says where to read it)."""
    now = now or timezone.now()
    current = _locked(appointment)
    if not still_ahead_for_the_client(current, now=now):
        raise ClinicError(
            "This visit is no longer ahead, so the note cannot change. Please call us to tell us.",
            code="not_ahead",
        )
    event = _note_change(
        current, "client_note", note_text(note, whose="Your"), action="client_note_changed", by_client=True
    )
    if event is not None:
        notify_practitioners_of_client_change(current, "note", event_id=event.pk, now=now)
    return current


# How late a practitioner may say they are running, in minutes: past that, the visits move.
RUNNING_LATE_MINUTES = (5, 10, 15, 20, 30, 45, 60, 90)


class ToldRunningLate(NamedTuple):
    emailed: list[Appointment]
    # no email reaches these clients (no address, or their mail server refused it): the desk calls
    to_call: list[Appointment]


@transaction.atomic
def running_late_tell(
    practitioner: StaffMember,
    *,
    visit_ids,
    minutes: int,
    actor=None,
    now: dt.datetime | None = None,
) -> ToldRunningLate:
    """Tell the clients of these visits of the practitioner's, later today, that they run `minutes` late.

    Each visit's history records it; each client with a working address gets an email, due now, from
    the outbox (`notify_running_late`); the others are returned for the desk to call. The visits keep
    their times: the email gives a likely start. Visits not later today, another practitioner's, or
    with the client already in are left out; none left is refused in words. A visit cancelled or
    moved while this runs is caught where mail is sent: the out-of-date check drops its notice.
    """
    now = now or timezone.now()
    if minutes not in RUNNING_LATE_MINUTES:
        raise ClinicError(
            "Choose how late from the list (5 minutes to an hour and a half); later than that, move "
            "the visits.",
            code="late_minutes",
        )
    wanted = set(visit_ids)
    visits = [visit for visit in visits_later_today(practitioner, now=now) if visit.pk in wanted]
    if not visits:
        raise ClinicError(
            f"None of the visits chosen is still ahead today with {practitioner.display_name}: "
            "nobody was told.",
            code="nothing_to_tell",
        )
    refused = refused_addresses([visit.client for visit in visits])
    emailed, to_call = [], []
    for visit in visits:
        reachable = bool(visit.client.email) and visit.client_id not in refused
        event = AppointmentEvent.objects.create(
            appointment=visit,
            actor=acting_user(actor),
            action="running_late",
            details={"minutes": minutes, "emailed": reachable},
        )
        if reachable:
            notify_running_late(visit, minutes, event_id=event.pk)
            emailed.append(visit)
        else:
            to_call.append(visit)
    return ToldRunningLate(emailed, to_call)


def appointments_request_forms(
    visits: list[Appointment], *, actor=None
) -> tuple[list[Appointment], list[tuple[Appointment, str]]]:
    """`appointment_request_forms` for each visit (a day's, say); return (sent, [(visit, why not)]).

    Each visit is its own transaction: one that cannot be asked leaves the others asked.
    """
    sent, refused = [], []
    for visit in visits:
        try:
            appointment_request_forms(visit, actor=actor)
        except ClinicError as refusal:
            refused.append((visit, refusal.message))
        else:
            sent.append(visit)
    return sent, refused


def _locked(appointment: Appointment) -> Appointment:
    return (
        Appointment.objects.select_for_update()
        .select_related("clinic", "client", "service", "practitioner")
        .get(pk=appointment.pk)
    )


def appointment_reschedule(
    appointment: Appointment,
    *,
    start: dt.datetime,
    practitioner: StaffMember | None = None,
    actor=None,
    reason: str = "",
    by_client: bool = False,
) -> Appointment:
    """Move an active visit to a new start, or to another practitioner, or both.

    Checked again as for a booking, on the new day and with whoever will see the client: the
    practitioner's qualification, their hours and time off, an absolute contraindication on the new
    day (a relative one was weighed, with its reason, when the visit was booked), the protocol's
    interval. Room and device follow if free, else others are taken.
    """
    start = _aware_utc(start)
    _refuse_unbookable(start)
    if not appointment.is_active or appointment.status == AppointmentStatus.FULFILLED:
        raise ClinicError(
            f"A {appointment.get_status_display().lower()} visit cannot be moved.", code="not_movable"
        )
    practitioner = practitioner or appointment.practitioner
    to_another = practitioner.pk != appointment.practitioner_id
    if start == appointment.start and not to_another:
        raise ClinicError(
            f"The visit is already at {_local_day(appointment.clinic, start)}. Choose another time.",
            code="same_time",
        )
    request = BookingRequest(
        client=appointment.client,
        service=appointment.service,
        practitioner=practitioner,
        start=start,
    )
    prefetch_related_objects([request.service], "protocols")
    end, blocked_start, blocked_end = _blocked(appointment.service, start)
    if to_another:
        _check_practitioner(request)
    _check_contraindications(request, relative_accepted=True)
    _check_interval(request, actor=actor, ignore_id=appointment.pk)
    _check_working_time(practitioner, appointment.clinic, blocked_start, blocked_end)

    def write(attempt):
        with transaction.atomic():
            current = _locked(appointment)
            previous, previous_practitioner = current.start, current.practitioner
            was_held = (current.blocked_start, current.blocked_end)
            _hold_resources(
                request, blocked_start, blocked_end, ignore_id=current.pk, spread=attempt > 1
            ).assign_to(current)
            current.start, current.end = start, end
            current.blocked_start, current.blocked_end = blocked_start, blocked_end
            current.practitioner = practitioner
            current.sequence += 1
            current.save(
                update_fields=[
                    "start",
                    "end",
                    "blocked_start",
                    "blocked_end",
                    "practitioner",
                    *HELD_COLUMNS,
                    "sequence",
                ]
            )
            details = {"from": previous.isoformat(), "to": start.isoformat(), "reason": reason}
            if previous_practitioner.pk != practitioner.pk:
                details["practitioner_from"] = previous_practitioner.display_name
                details["practitioner_to"] = practitioner.display_name
            if by_client:
                details["by_client"] = True
            event = AppointmentEvent.objects.create(
                appointment=current, actor=acting_user(actor), action="rescheduled", details=details
            )
            notify_rescheduled(current)
            if by_client:
                notify_practitioners_of_client_change(
                    current,
                    "moved",
                    event_id=event.pk,
                    was_start=previous,
                    was_practitioner=previous_practitioner,
                )
            waitlist_close_for(current)
            waitlist_offer_freed(current, blocked_start=was_held[0], blocked_end=was_held[1])
            return current

    current = _write_with_retries(write, reassignable=frozenset({"room", "device"}))
    return current


def _usable(device: Device | None, kind: str, down: dict) -> Device | None:
    """The device if it is in use, in service then and of the kind the service needs now, else None."""
    usable = device is not None and device.is_active and device.kind == kind and device.id not in down
    return device if usable else None


def appointment_change_room_and_device(appointment: Appointment, *, actor=None) -> Appointment:
    """Give a visit another room and device at the same time, in place of any taken out of use.

    A room closed for a leak, or a pen sent for repair (for good, or out of service for a while that
    covers the visit), leaves visits booked in it: each keeps its time and practitioner, and takes a
    free room or device in use (the ones still in use are kept).
    A visit booked before its service needed a (second) kind of device takes one of that kind.
    The client's emails do not name rooms or devices, so nothing is sent; the history records it.
    """
    if not appointment.is_active or appointment.status == AppointmentStatus.FULFILLED:
        raise ClinicError(
            f"A {appointment.get_status_display().lower()} visit keeps its room and device.",
            code="not_movable",
        )

    def write(attempt):
        with transaction.atomic():
            current = _locked(appointment)
            service = current.service
            before = Held.of(current)
            as_booked = BookingRequest(
                client=current.client,
                service=service,
                practitioner=current.practitioner,
                start=current.start,
                room=before.room,
            )
            down_rooms, down_devices = _out_of_service(as_booked, current.blocked_start, current.blocked_end)
            room = before.room
            kept = Held(
                room if room is not None and room.is_active and room.id not in down_rooms else None,
                _usable(before.device, service.device_kind, down_devices),
                _usable(before.second_device, service.second_device_kind, down_devices),
            )
            lacking = (service.device_kind and kept.device is None) or (
                service.second_device_kind and kept.second_device is None
            )
            if kept == before and not lacking:
                raise ClinicError(
                    "Its room and devices are all in use: nothing to change.", code="nothing_to_do"
                )
            request = BookingRequest(
                client=current.client,
                service=current.service,
                practitioner=current.practitioner,
                start=current.start,
                room=kept.room,
                device=kept.device,
                second_device=kept.second_device,
            )
            _hold_resources(
                request, current.blocked_start, current.blocked_end, ignore_id=current.pk, spread=attempt > 1
            ).assign_to(current)
            current.save(update_fields=HELD_COLUMNS)
            after = Held.of(current)
            details = {}
            for column, was, now in zip(HELD_COLUMNS, before, after, strict=True):
                if column != "second_device" or was or now:
                    details[f"{column}_from"] = was.name if was else ""
                    details[f"{column}_to"] = now.name if now else ""
            AppointmentEvent.objects.create(
                appointment=current, actor=acting_user(actor), action="resources_changed", details=details
            )
            return current

    return _write_with_retries(write, reassignable=frozenset({"room", "device"}))


def hand_over_visits(
    visits: list[Appointment], *, to: StaffMember, actor=None, reason: str = ""
) -> tuple[list[Appointment], list[tuple[Appointment, str]]]:
    """Move each visit to another practitioner at its own time; return (moved, [(refused, why)]).

    For a practitioner who is away: each move is its own booking-checked write (`appointment_reschedule`),
    so the visits the colleague can take move and the others stay, each with the reason in words.
    """
    moved, refused = [], []
    for visit in visits:
        try:
            moved.append(
                appointment_reschedule(visit, start=visit.start, practitioner=to, actor=actor, reason=reason)
            )
        except ClinicError as refusal:
            refused.append((visit, refusal.message))
    return moved, refused


CANCELLED_FIELDS = ["status", "cancellation_reason", "sequence"]


def _mark_cancelled(appointment: Appointment, reason: str) -> None:
    """Set what cancelling changes (the caller saves CANCELLED_FIELDS): the invite's SEQUENCE rises."""
    appointment.status = AppointmentStatus.CANCELLED
    appointment.cancellation_reason = reason[:300]
    appointment.sequence += 1


@transaction.atomic
def appointment_cancel(
    appointment: Appointment, *, actor=None, reason: str = "", by_client: bool = False
) -> Appointment:
    """Cancel an active visit; its time becomes free at once."""
    current = _locked(appointment)
    if not current.is_active or current.status == AppointmentStatus.FULFILLED:
        raise ClinicError(
            f"This visit is {current.get_status_display().lower()} and cannot be cancelled.",
            code="not_cancellable",
        )
    _mark_cancelled(current, reason)
    current.save(update_fields=CANCELLED_FIELDS)
    event = AppointmentEvent.objects.create(
        appointment=current,
        actor=acting_user(actor),
        action="cancelled",
        details={"reason": reason, "by_client": by_client},
    )
    notify_cancelled(current)
    if by_client:
        notify_practitioners_of_client_change(current, "cancelled", event_id=event.pk)
    waitlist_visit_cancelled(current)
    return current


def status_refusal(appointment: Appointment, status: str, *, now: dt.datetime) -> ClinicError | None:
    """Why the visit cannot take this status now (None if it can).

    The status must follow TRANSITIONS, and time must agree: a client is checked in on the day of their
    visit (in the clinic's zone), a no-show is recorded once the visit's time has come, and a visit is
    completed on its day or later, never ahead of it.
    """
    allowed_from = TRANSITIONS.get(status)
    if allowed_from is None:
        return ClinicError(f"“{status}” is not a status the front desk can set.", code="bad_status")
    if appointment.status not in allowed_from:
        return ClinicError(
            f"A {appointment.get_status_display().lower()} visit cannot become "
            f"{AppointmentStatus(status).label.lower()}.",
            code="bad_transition",
        )
    zone = appointment.clinic.zone
    start = timezone.localtime(appointment.start, zone)
    today = timezone.localdate(now, zone)
    on = f"{start:%A} {start.day} {start:%B}"
    if status == AppointmentStatus.ARRIVED and start.date() > today:
        return ClinicError(
            f"This visit is on {on}. Clients are checked in on the day of their visit.",
            code="not_today",
        )
    if status == AppointmentStatus.ARRIVED and start.date() < today:
        return ClinicError(
            f"This visit was on {on}. Mark it completed or a no-show instead.", code="not_today"
        )
    if status == AppointmentStatus.NOSHOW and appointment.start > now:
        return ClinicError(
            f"This visit starts at {start:%H:%M} on {on}. A no-show can be recorded once its time has come.",
            code="not_yet",
        )
    if status == AppointmentStatus.FULFILLED and start.date() > today:
        return ClinicError(
            f"This visit is on {on}. It can be marked completed once it has taken place.",
            code="not_yet",
        )
    return None


# A client checks themselves in from their visit's link once at the clinic: from this long before the
# visit (not from home the evening before) until it ends.
SELF_CHECK_IN_FROM = dt.timedelta(minutes=20)


def self_check_in_refusal(appointment: Appointment, *, now: dt.datetime) -> ClinicError | None:
    """Why the client cannot check themselves in now (None if they can), in words for the client."""
    if appointment.status != AppointmentStatus.BOOKED:
        return ClinicError(
            "You are checked in."
            if appointment.status == AppointmentStatus.ARRIVED
            else "This visit cannot be checked in: please speak to the desk.",
            code="not_booked",
        )
    opens = timezone.localtime(appointment.start - SELF_CHECK_IN_FROM, appointment.clinic.zone)
    if now < opens:
        return ClinicError(
            f"You can check in here when you arrive, from {opens:%H:%M} on {opens:%A} {opens.day} "
            f"{opens:%B}.",
            code="too_early",
        )
    if now >= appointment.end:
        return ClinicError("This visit's time has passed: please speak to the desk.", code="too_late")
    return status_refusal(appointment, AppointmentStatus.ARRIVED, now=now)


@transaction.atomic
def appointment_set_status(
    appointment: Appointment,
    *,
    status: str,
    actor=None,
    now: dt.datetime | None = None,
    by_client: bool = False,
) -> Appointment:
    """Check in (arrived), complete (fulfilled) or mark a no-show, if the status and the time allow it.

    `by_client`: the client checks themselves in from their link, within `self_check_in_refusal`'s
    window; the history says so.
    """
    current = _locked(appointment)
    now = now or timezone.now()
    if by_client and status != AppointmentStatus.ARRIVED:
        raise ClinicError("A client can only check themselves in.", code="bad_status")
    refusal = (
        self_check_in_refusal(current, now=now) if by_client else status_refusal(current, status, now=now)
    )
    if refusal is not None:
        raise refusal
    previous = current.status
    current.status = status
    current.save(update_fields=["status"])
    AppointmentEvent.objects.create(
        appointment=current,
        actor=acting_user(actor),
        action=f"status:{status}",
        details={"from": previous, "to": status, **({"by_client": True} if by_client else {})},
    )
    if status == AppointmentStatus.FULFILLED:
        notify_feedback_request(current, now=now)
    return current


# A check-in or a no-show recorded by mistake can be undone on the visit's day: the visit is booked again.
UNDOABLE = {AppointmentStatus.ARRIVED: "check-in", AppointmentStatus.NOSHOW: "no-show"}


def undo_refusal(appointment: Appointment, *, now: dt.datetime) -> ClinicError | None:
    """Why the visit's check-in or no-show cannot be undone now (None if it can)."""
    if appointment.status not in UNDOABLE:
        return ClinicError(
            f"This visit is {appointment.get_status_display().lower()}: there is no check-in or "
            "no-show to undo.",
            code="nothing_to_undo",
        )
    zone = appointment.clinic.zone
    if timezone.localdate(appointment.start, zone) != timezone.localdate(now, zone):
        return ClinicError(
            f"A {UNDOABLE[appointment.status]} can be undone on the day of the visit only.", code="not_today"
        )
    return None


def appointment_undo_status(appointment: Appointment, *, actor=None, now: dt.datetime | None = None):
    """Put a visit checked in or marked a no-show by mistake back to booked, on the visit's day.

    A no-show frees its time, so undoing one needs that time again: if another visit has taken the
    practitioner, room or device meanwhile, the undo is refused naming it (on PostgreSQL the exclusion
    constraints refuse a race as well).
    """
    now = now or timezone.now()

    def write(attempt):
        with transaction.atomic():
            current = _locked(appointment)
            refusal = undo_refusal(current, now=now)
            if refusal is not None:
                raise refusal
            if current.status == AppointmentStatus.NOSHOW:
                request = BookingRequest(
                    client=current.client,
                    service=current.service,
                    practitioner=current.practitioner,
                    start=current.start,
                    room=current.room,
                    device=current.device,
                    second_device=current.second_device,
                )
                _hold_resources(
                    request, current.blocked_start, current.blocked_end, ignore_id=current.pk
                ).assign_to(current)
            previous = current.status
            current.status = AppointmentStatus.BOOKED
            current.save(update_fields=["status", *HELD_COLUMNS])
            AppointmentEvent.objects.create(
                appointment=current,
                actor=acting_user(actor),
                action=f"status:{AppointmentStatus.BOOKED}",
                details={"from": previous, "to": AppointmentStatus.BOOKED, "undo": True},
            )
            return current

    return _write_with_retries(write)


def _course_requests(
    *,
    client: Client,
    service: Service,
    practitioner: StaffMember,
    starts: list[dt.datetime],
    relative_contraindication_reason: str = "",
    interval_override_reason: str = "",
) -> list[BookingRequest]:
    """Return one booking request per session, in time order, or raise for a course that cannot be."""
    if not starts:
        raise ClinicError("A course needs at least one session.", code="empty_course")
    if len(starts) > MAX_COURSE_SESSIONS:
        raise ClinicError(
            f"A course can have at most {MAX_COURSE_SESSIONS} sessions.", code="course_too_long"
        )
    return [
        BookingRequest(
            client=client,
            service=service,
            practitioner=practitioner,
            start=start,
            relative_contraindication_reason=relative_contraindication_reason,
            interval_override_reason=interval_override_reason,
            source="course",
        )
        for start in sorted(_aware_utc(s) for s in starts)
    ]


def _new_course(requests: list[BookingRequest]) -> Course:
    first = requests[0]
    return Course.objects.create(
        clinic=first.service.clinic,
        client=first.client,
        service=first.service,
        planned_sessions=len(requests),
    )


def course_book(*, actor=None, price_total=None, **course) -> Course:
    """Book every session of a course or none; the error names the session that could not be booked.

    `course`: client, service, practitioner, starts, and optionally relative_contraindication_reason
    and interval_override_reason (as for one visit). `price_total`: what the whole course costs (a
    course sold for less than its sessions one by one), shared between the sessions to the penny, the
    first ones taking any odd pennies; each session's history says so.
    """
    requests = _course_requests(**course)
    total = None if price_total in (None, "") else course_price_given(price_total)
    sessions: list[Appointment] = []
    with transaction.atomic():
        booked = _new_course(requests)
        for number, request in enumerate(requests, 1):
            try:
                sessions.append(appointment_book(request, actor=actor, course=booked))
            except ClinicError as error:
                when = _local_day(request.service.clinic, request.start)
                error.message = f"Session {number} of {len(requests)} ({when}): {error.message}"
                raise
        if total is not None:
            _share_course_price(sessions, total, actor=actor)
        notify_course_booked(booked, sessions)
    return booked


def course_price_given(text) -> Decimal:
    from treatments.payments import amount_given  # payments reads visits, not this

    return amount_given(text, may_be_nothing=True)


def _share_course_price(sessions: list[Appointment], total: Decimal, *, actor=None) -> None:
    clinic = sessions[0].clinic
    pennies = int(total * 100)
    each, odd = divmod(pennies, len(sessions))
    reason = f"The course's price: {clinic.price_text(total)} for {len(sessions)} sessions"
    for number, session in enumerate(sessions):
        price = (Decimal(each + (1 if number < odd else 0)) / 100).quantize(Decimal("0.01"))
        if price != session.price:
            _price_set(session, price, reason=reason, actor=actor)


def course_check(*, actor=None, price_total=None, **course) -> list[str]:
    """Say, for each session in time order, what would stop `course_book` booking it ('' when nothing).

    A dry run of the real thing: every session is booked as `course_book` would (each later one
    checked against the earlier ones), each in its own savepoint so one refusal does not hide the
    next, and then everything is rolled back. So the answer cannot drift from the booking rules.
    """
    requests = _course_requests(**course)
    if price_total not in (None, ""):
        course_price_given(price_total)  # a price that could not be read: said before the dates
    problems = []
    with transaction.atomic():
        checked = _new_course(requests)
        for request in requests:
            try:
                with transaction.atomic():
                    appointment_book(request, actor=actor, course=checked)
            except ClinicError as refusal:
                problems.append(refusal.message)
            else:
                problems.append("")
        transaction.set_rollback(True)
    return problems


# Sessions of a course that "cancel the rest" cancels: booked ahead and not begun (an arrived client's
# session today, a done or missed one, keep their status).
CANCELLABLE_AHEAD = (AppointmentStatus.BOOKED, AppointmentStatus.PENDING, AppointmentStatus.PROPOSED)


def is_ahead(session: Appointment, now: dt.datetime) -> bool:
    """Whether stopping its course would cancel this session: booked and not begun."""
    return session.status in CANCELLABLE_AHEAD and session.start > now


@transaction.atomic
def course_cancel_remaining(course: Course, *, actor=None, reason: str = "") -> list[Appointment]:
    """Cancel every session of a course still ahead; the client is told in one email. Return them.

    Each cancelled session frees its time, gets its own audit event and a higher SEQUENCE, and its
    pending reminders are cancelled, exactly as when it is cancelled alone.
    """
    locked = Course.objects.select_for_update().get(pk=course.pk)
    sessions = (
        Appointment.objects.select_for_update()
        .filter(course=locked)
        .select_related("clinic", "client", "service", "practitioner")
        .order_by("start", "id")
    )
    now = timezone.now()
    remaining = [session for session in sessions if is_ahead(session, now)]
    if not remaining:
        raise ClinicError("This course has no sessions ahead to cancel.", code="nothing_to_cancel")
    for session in remaining:
        _mark_cancelled(session, reason)
    Appointment.objects.bulk_update(remaining, CANCELLED_FIELDS)
    AppointmentEvent.objects.bulk_create(
        AppointmentEvent(
            appointment=session,
            actor=acting_user(actor),
            action="cancelled",
            details={"reason": reason, "by_client": False, "rest_of_course": locked.pk},
        )
        for session in remaining
    )
    notify_course_cancelled(locked, remaining)
    for session in remaining:
        waitlist_visit_cancelled(session)
    return remaining


def course_plan(service: Service) -> tuple[int | None, list[int] | None]:
    """Return the (sessions, day gaps) a service's protocol plans for a course, or None where it has none.

    Twice a week is 3 then 4 days apart, three times 2, 2, 3: the week's seven days spread evenly.
    """
    for protocol in service.protocols.all():
        if protocol.course_sessions_per_week:
            if protocol.course_sessions_per_week < 1:  # e.g. 0.5: every other week
                return protocol.course_sessions, [round(7 / protocol.course_sessions_per_week)]
            per_week = min(7, round(protocol.course_sessions_per_week))
            base, longer = divmod(7, per_week)
            gaps = [base] * (per_week - longer) + [base + 1] * longer
            return protocol.course_sessions, gaps
        if protocol.course_interval_days:
            return protocol.course_sessions, [protocol.course_interval_days]
        if protocol.course_sessions:
            return protocol.course_sessions, None
    return None, None


def course_starts(
    *, first_start: dt.datetime, sessions: int, weekdays_pattern_days: list[int], zone
) -> list[dt.datetime]:
    """Return session starts at the same local time, stepping through the day offsets in a repeating pattern.

    E.g. twice a week for five weeks from a Monday: pattern [3, 4] (Mon→Thu→Mon), sessions=10.
    """
    if sessions < 1 or not weekdays_pattern_days or any(d < 1 for d in weekdays_pattern_days):
        raise ClinicError(
            "Give a number of sessions and day gaps of at least one day.", code="bad_course_pattern"
        )
    local = timezone.localtime(first_start, zone)
    starts = [local]
    index = 0
    while len(starts) < sessions:
        # Wall-clock arithmetic on purpose: the same local time on each day, across DST changes.
        next_local = (
            starts[-1].replace(tzinfo=None) + dt.timedelta(days=weekdays_pattern_days[index])
        ).replace(tzinfo=zone)
        starts.append(next_local)
        index = (index + 1) % len(weekdays_pattern_days)
    return [s.astimezone(dt.UTC) for s in starts]


def course_progress(course: Course, sessions: list[Appointment] | None = None) -> dict:
    """Return how many sessions of a course are done, booked ahead, and missed or cancelled.

    `sessions`: the course's appointments when the caller has them already (else they are read).
    """
    if sessions is None:
        statuses = list(course.appointments.values_list("status", flat=True))
    else:
        statuses = [session.status for session in sessions]
    return {
        "planned": course.planned_sessions,
        **{name: sum(s in group for s in statuses) for name, group in COURSE_PROGRESS_STATUSES.items()},
    }


def same_clock_time_in(instant: dt.datetime, *, was_zone, zone) -> dt.datetime | None:
    """The instant showing in `zone` the clock time `instant` showed in `was_zone` (None if that clock
    time never happens in `zone` that day, the clocks going forward over it)."""
    wall = timezone.localtime(instant, was_zone).replace(tzinfo=None)
    moved = wall.replace(tzinfo=zone)
    if moved.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None) != wall:
        return None
    return moved.astimezone(dt.UTC)


def visits_keep_their_clock_times(
    clinic, *, was_zone_name: str, actor=None, now: dt.datetime | None = None
) -> tuple[list[Appointment], list[tuple[Appointment, str]]]:
    """After the clinic's time zone was corrected, move each booked visit ahead back to the clock time it
    was booked at (10:00 stays 10:00, now in the right zone); return (moved, [(visit, why not)]).

    For visits booked while the zone was wrong: the client was given the clock time. Each move is a
    reschedule: checked again, recorded, and the client sent the notice with a corrected invite. The
    moves go in the direction of the shift (latest first when visits move later), so no visit is
    refused for a neighbour that is about to move out of its way.
    """
    was_zone = zoneinfo.ZoneInfo(was_zone_name)
    now = now or timezone.now()
    ahead = list(
        Appointment.objects.filter(clinic=clinic, status=AppointmentStatus.BOOKED, start__gt=now)
        .select_related("clinic", "client", "service", "practitioner")
        .order_by("start", "id")
    )
    targets = {v.pk: same_clock_time_in(v.start, was_zone=was_zone, zone=clinic.zone) for v in ahead}
    if any(targets[v.pk] is not None and targets[v.pk] > v.start for v in ahead):
        ahead.reverse()  # moving later: the latest goes first, out of the way of the one before it
    moved, refused = [], []
    for visit in ahead:
        target = targets[visit.pk]
        shown = timezone.localtime(visit.start, was_zone)
        if target is None:
            gap = f"{shown:%H:%M} does not happen on {shown:%d %b} in {clinic.time_zone}"
            refused.append((visit, gap + ": the clocks go forward over it."))
            continue
        if target == visit.start:
            continue
        try:
            moved.append(
                appointment_reschedule(
                    visit,
                    start=target,
                    actor=actor,
                    reason=f"The clinic's time zone was corrected from {was_zone_name}: kept at "
                    f"{shown:%H:%M}.",
                )
            )
        except ClinicError as refusal:
            refused.append((visit, refusal.message))
    return moved, refused


def visits_after_undo(restored: Client, kept: Client) -> None:
    """A merge undone (`clients.merging.client_merge_undo`): what was added to the kept record since
    the merge but belongs to a course or a visit that moved back follows it: the course's later visits,
    the visits' treatment records, and the emails about them."""
    Appointment.objects.filter(course__client=restored).exclude(client=restored).update(client=restored)
    sessions = TreatmentSession.objects.filter(appointment__client=restored).exclude(client=restored)
    session_ids = list(sessions.values_list("pk", flat=True))
    TreatmentSession.objects.filter(pk__in=session_ids).update(client=restored)
    topics = [
        *(
            f"appointment:{pk}"
            for pk in Appointment.objects.filter(client=restored).values_list("pk", flat=True)
        ),
        *(f"course:{pk}" for pk in Course.objects.filter(client=restored).values_list("pk", flat=True)),
        *(f"session:{pk}" for pk in session_ids),
    ]
    OutboxMessage.objects.filter(client_id=kept.pk, topic__in=topics).update(client_id=restored.pk)


def merge_refusal(kept: Client, merged: Client) -> str:
    """Why two records of one client cannot be merged yet ('' when they can): visits of each at the
    same time would be one person booked twice, which the database refuses. Registered with
    `clients.merging` at start-up; the merge page lists the same pairs beforehand."""
    at_once = visits_at_once(kept, merged)
    if not at_once:
        return ""
    a, b = at_once[0]
    zone = kept.clinic.zone
    return (
        f"Both records have a visit at the same time: {a.service.name} {short_local(a.start, zone)} and "
        f"{b.service.name} {short_local(b.start, zone)}. Cancel the one not needed, then merge."
    )


def erasure_refusal_for_visits(client: Client) -> str:
    """Why a client's record cannot be erased yet for their visits ('' when it can): a visit still
    ahead, or under way, would be a booking nobody can call about. Registered with `clients.erasure`."""
    ahead = list(
        Appointment.objects.filter(client=client, end__gt=timezone.now())
        .exclude(status__in=(*INACTIVE_STATUSES, AppointmentStatus.FULFILLED))
        .select_related("service")
        .order_by("start")[:4]
    )
    if not ahead:
        return ""
    zone = client.clinic.zone
    said = ", ".join(f"{visit.service.name} {short_local(visit.start, zone)}" for visit in ahead[:3])
    return (
        f"{client.full_name} still has visits booked ({said}{', …' if len(ahead) > 3 else ''}): "
        "cancel them first, then erase the record."
    )


def visits_after_erasure(client: Client) -> None:
    """Wipe what the clinic wrote or the client said about their visits (notes, reasons, what each
    change said, feedback comments) and take their waitlist places off and empty: the visits stay as
    times, services and practitioners. Registered with `clients.erasure`, in its transaction."""
    visits = Appointment.objects.filter(client=client)
    visits.update(notes="", client_note="", cancellation_reason="")
    AppointmentEvent.objects.filter(appointment__client=client).update(details={})
    VisitFeedback.objects.filter(appointment__client=client).update(comment="")
    now = timezone.now()
    WaitlistEntry.objects.filter(client=client, ended_at=None).update(
        ended_at=now, ended_because=WaitlistEnded.REMOVED
    )
    WaitlistEntry.objects.filter(client=client).update(note="")
    # the sessions they had before (a line each: service, day), with what was noted of them
    EarlierSession.objects.filter(client=client).delete()
    # their treatment records, whose time to be kept has passed (the erasure refuses them before),
    # with their areas, addenda and photos; the photos' files once the erasure has committed
    records = TreatmentSession.objects.filter(client=client)
    files = list(SessionPhoto.objects.filter(session__in=records).values_list("image", flat=True))
    records.delete()
    if files:
        transaction.on_commit(lambda: [default_storage.delete(name) for name in files])


# This layer's health records and when each last happened: (model, its path to the client, moment).
# `treatments.keeping` reads the same moments for every client at once.
TREATMENT_RECORD_MOMENTS = (
    (TreatmentSession, "client", Greatest("started_at", Coalesce("signed_off_at", "started_at"))),
    (SessionAddendum, "session__client", "written_at"),
)


def latest_treatment_record(client: Client) -> dt.datetime | None:
    """When the client's latest treatment record was started, signed off or added to (None: they have
    none); for how long the clinic keeps it. Registered with `clients.erasure`; two queries."""
    found = [
        model.objects.filter(**{path: client}).aggregate(latest=Max(moment))["latest"]
        for model, path, moment in TREATMENT_RECORD_MOMENTS
    ]
    return max((moment for moment in found if moment), default=None)
