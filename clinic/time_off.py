"""Recording a practitioner's time off (a sick day, a training course) and extra hours (a Saturday
covered, a late evening), and taking either back.

The visits already booked in time off, or in extra hours taken back, stay booked: the front desk moves
them (the treatments layer finds and flags them, `treatments.selectors.time_off_clashes` and
`outside_working_hours`).
"""

import datetime as dt

from django.db import transaction
from django.utils import timezone

from clinic.errors import ClinicError
from clinic.models import LONGEST_EXTRA_HOURS, LONGEST_TIME_OFF, ExtraHours, StaffMember, StaffRole, TimeOff


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


@transaction.atomic
def time_off_record_for_everyone(
    *, clinic, start: dt.datetime, end: dt.datetime, reason: str = ""
) -> list[TimeOff]:
    """The clinic is closed from `start` to `end` (a bank holiday): every active practitioner is off.

    One row each, as `time_off_record` writes it (so each can be taken back alone: someone comes in
    after all); refused as it refuses.
    """
    practitioners = list(
        StaffMember.objects.filter(clinic=clinic, role=StaffRole.PRACTITIONER, is_active=True).order_by("id")
    )
    if not practitioners:
        raise ClinicError("The clinic has no practitioners to be off.", code="no_practitioners")
    return [
        time_off_record(clinic=clinic, practitioner=p, start=start, end=end, reason=reason or "Clinic closed")
        for p in practitioners
    ]


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


def _local(clinic, instant: dt.datetime) -> str:
    return f"{timezone.localtime(instant, clinic.zone):%a %d %b %H:%M}"


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
            f"{practitioner.display_name} already has extra hours {_local(clinic, overlapping.start)}–"
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
