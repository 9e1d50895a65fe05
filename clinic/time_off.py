"""Recording a practitioner's time off (a sick day, a training course) and taking it back.

The visits already booked in it stay booked: the front desk moves them (the treatments layer finds and
flags them, `treatments.selectors.time_off_clashes`).
"""

import datetime as dt

from django.db import transaction

from clinic.errors import ClinicError
from clinic.models import LONGEST_TIME_OFF, StaffMember, StaffRole, TimeOff


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
