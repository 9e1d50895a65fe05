"""Recording a practitioner's time off (a sick day, a training course), the clinic closed (a bank
holiday: everyone off), and extra hours (a Saturday covered, a late evening), and taking any back.

The visits already booked in time off, or in extra hours taken back, stay booked: the front desk moves
them (the treatments layer finds and flags them, `treatments.selectors.time_off_clashes` and
`outside_working_hours`).
"""

import datetime as dt

from django.db import transaction
from django.utils import timezone

from clinic.errors import ClinicError
from clinic.models import (
    LONGEST_EXTRA_HOURS,
    LONGEST_TIME_OFF,
    Clinic,
    ClinicClosure,
    ExtraHours,
    StaffMember,
    StaffRole,
    TimeOff,
)
from clinic.wording import clinic_local


@transaction.atomic
def time_off_record(
    *, clinic, practitioner: StaffMember, start: dt.datetime, end: dt.datetime, reason: str = ""
) -> TimeOff:
    """Record that the practitioner is away from `start` to `end` (aware times)."""
    if practitioner.clinic_id != clinic.pk or practitioner.role != StaffRole.PRACTITIONER:
        raise ClinicError("Pick one of the clinic's practitioners.", code="not_a_practitioner")
    if end <= start:
        raise ClinicError("The time off must end after it starts.", code="ends_before_start")
    if end - start > LONGEST_TIME_OFF:
        raise ClinicError("That is more than a year of time off. Check the dates.", code="too_long")
    return TimeOff.objects.create(
        staff_member=practitioner, start=start, end=end, reason=reason.strip()[:200]
    )


CLOSED = "Clinic closed"


def _closure_share(closure: ClinicClosure, practitioner: StaffMember) -> TimeOff:
    return TimeOff(
        staff_member=practitioner,
        start=closure.start,
        end=closure.end,
        reason=closure.reason or CLOSED,
        closure=closure,
    )


@transaction.atomic
def clinic_closure_record(*, clinic, start: dt.datetime, end: dt.datetime, reason: str = "") -> ClinicClosure:
    """The clinic is closed from `start` to `end` (a bank holiday): every active practitioner is off.

    One time off row each, pointing at the closure (so each can be taken back alone: someone comes in
    after all); practitioners who start later get theirs from `closures_apply_to`. Refused as time off
    is, and when it overlaps a closure already recorded (the clinic's row is locked, so two clicks make
    one).
    """
    if end <= start:
        raise ClinicError("The closure must end after it starts.", code="ends_before_start")
    if end - start > LONGEST_TIME_OFF:
        raise ClinicError("That is more than a year of closure. Check the dates.", code="too_long")
    Clinic.objects.select_for_update().filter(pk=clinic.pk).first()
    overlapping = ClinicClosure.objects.filter(clinic=clinic, start__lt=end, end__gt=start).first()
    if overlapping is not None:
        span = f"{clinic_local(clinic, overlapping.start)} – {clinic_local(clinic, overlapping.end)}"
        raise ClinicError(
            f"The clinic is already closed {span}"
            f"{f' ({overlapping.reason})' if overlapping.reason else ''}. Take that back first to change it.",
            code="overlapping",
        )
    closure = ClinicClosure.objects.create(clinic=clinic, start=start, end=end, reason=reason.strip()[:200])
    practitioners = StaffMember.objects.filter(clinic=clinic, role=StaffRole.PRACTITIONER, is_active=True)
    TimeOff.objects.bulk_create([_closure_share(closure, p) for p in practitioners.order_by("id")])
    return closure


def closures_apply_to(practitioner: StaffMember, *, now: dt.datetime | None = None) -> int:
    """Give a practitioner who starts (or starts again) their share of the clinic's closures still to
    come, those they do not have; return how many. Nothing for someone not an active practitioner."""
    if practitioner.role != StaffRole.PRACTITIONER or not practitioner.is_active:
        return 0
    missing = ClinicClosure.objects.filter(
        clinic_id=practitioner.clinic_id, end__gt=now or timezone.now()
    ).exclude(time_off__staff_member=practitioner)
    shares = [_closure_share(closure, practitioner) for closure in missing]
    TimeOff.objects.bulk_create(shares, ignore_conflicts=True)
    return len(shares)


def closures_during(clinic, start: dt.datetime, end: dt.datetime) -> list[ClinicClosure]:
    """The clinic's closures that overlap [start, end), earliest first."""
    return list(ClinicClosure.objects.filter(clinic=clinic, start__lt=end, end__gt=start).order_by("start"))


def closure_said(closure: ClinicClosure, zone) -> str:
    """The closure as a client reads it: "closed on Friday 25 December (Christmas Day)", "closed from
    Thursday 24 December at 13:00 to Saturday 26 December"; a closure ending at midnight is said to
    last to the end of the day before."""
    start, end = timezone.localtime(closure.start, zone), timezone.localtime(closure.end, zone)
    midnight = dt.time(0)

    def day(moment) -> str:
        return f"{moment:%A} {moment.day} {moment:%B}"

    last = end - dt.timedelta(days=1) if end.time() == midnight else end
    if start.time() == midnight and end.time() == midnight:
        said = (
            f"closed on {day(start)}"
            if last.date() == start.date()
            else f"closed from {day(start)} to {day(last)}"
        )
    elif start.date() == end.date():
        said = f"closed on {day(start)} from {start:%H:%M} to {end:%H:%M}"
    else:
        starts = day(start) if start.time() == midnight else f"{day(start)} at {start:%H:%M}"
        ends = day(last) if end.time() == midnight else f"{day(end)} at {end:%H:%M}"
        said = f"closed from {starts} to {ends}"
    return f"{said} ({closure.reason})" if closure.reason else said


def closures_said(clinic, start: dt.datetime, end: dt.datetime) -> list[str]:
    """The clinic's closures overlapping [start, end) as `closure_said` says them, earliest first."""
    return [closure_said(closure, clinic.zone) for closure in closures_during(clinic, start, end)]


def clinic_closure_remove(*, clinic, closure_id: int) -> ClinicClosure | None:
    """Open the clinic again: take back the closure and every practitioner's time off it made; return it
    (None if it was not the clinic's)."""
    closure = ClinicClosure.objects.filter(pk=closure_id, clinic=clinic).first()
    if closure is not None:
        closure.delete()
    return closure


def time_off_remove(*, clinic, time_off_id: int) -> TimeOff | None:
    """Take back time off entered by mistake; return it (None if it was not the clinic's)."""
    time_off = (
        TimeOff.objects.filter(pk=time_off_id, staff_member__clinic=clinic)
        .select_related("staff_member")
        .first()
    )
    if time_off is not None:
        time_off.delete()
    return time_off


@transaction.atomic
def extra_hours_record(
    *, clinic, practitioner: StaffMember, start: dt.datetime, end: dt.datetime, reason: str = ""
) -> ExtraHours:
    """Record that the practitioner works from `start` to `end` (aware times) besides their weekly hours.

    Refused: someone not a practitioner of the clinic or no longer working there, an end not after the
    start, more than one shift (LONGEST_EXTRA_HOURS), hours already over, or extra hours of theirs that
    overlap these (the practitioner's row is locked, so two clicks make one).
    """
    if (
        practitioner.clinic_id != clinic.pk
        or practitioner.role != StaffRole.PRACTITIONER
        or not practitioner.is_active
    ):
        raise ClinicError("Pick one of the clinic's practitioners.", code="not_a_practitioner")
    if end <= start:
        raise ClinicError("The extra hours must end after they start.", code="ends_before_start")
    if end - start > LONGEST_EXTRA_HOURS:
        raise ClinicError(
            "That is more than 16 hours: enter each day's extra hours on their own.", code="too_long"
        )
    if end <= timezone.now():
        raise ClinicError("Those hours are over. Enter hours still to come.", code="in_the_past")
    StaffMember.objects.select_for_update().filter(pk=practitioner.pk).first()
    overlapping = ExtraHours.objects.filter(staff_member=practitioner, start__lt=end, end__gt=start).first()
    if overlapping is not None:
        raise ClinicError(
            f"{practitioner.display_name} already has extra hours {clinic_local(clinic, overlapping.start)}–"
            f"{timezone.localtime(overlapping.end, clinic.zone):%H:%M}. Take those back first to change "
            "them.",
            code="overlapping",
        )
    return ExtraHours.objects.create(
        staff_member=practitioner, start=start, end=end, reason=reason.strip()[:200]
    )


def extra_hours_remove(*, clinic, extra_hours_id: int) -> ExtraHours | None:
    """Take back extra hours; return them (None if they were not the clinic's)."""
    extra = (
        ExtraHours.objects.filter(pk=extra_hours_id, staff_member__clinic=clinic)
        .select_related("staff_member")
        .first()
    )
    if extra is not None:
        extra.delete()
    return extra
