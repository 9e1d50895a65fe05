"""Taking a room or a device out of service for a while (a pen away for servicing, a room being painted),
and putting it back.

Visits already booked with it then stay booked: the treatments layer flags them
(`treatments.selectors.out_of_use`) and gives each another room or device at its time
(`treatments.booking.appointment_change_room_and_device`).
"""

import datetime as dt

from django.db import transaction

from clinic.errors import ClinicError
from clinic.models import LONGEST_TIME_OFF, Clinic, Device, OutOfService, Room
from clinic.wording import clinic_local


@transaction.atomic
def out_of_service_record(
    *,
    clinic: Clinic,
    start: dt.datetime,
    end: dt.datetime,
    room: Room | None = None,
    device: Device | None = None,
    reason: str = "",
) -> OutOfService:
    """Take a room or a device (one of them) out of service from `start` to `end` (aware times).

    Refused: neither or both, one of another clinic, an end not after the start, more than a year, or a
    period of the same room or device that overlaps this one (the clinic's row is locked, so two clicks
    make one).
    """
    what = room or device
    if (room is None) == (device is None):
        raise ClinicError("Choose a room or a device.", code="room_or_device")
    if what.clinic_id != clinic.pk:
        raise ClinicError("That room or device is not in this clinic.", code="wrong_clinic")
    if end <= start:
        raise ClinicError("It must be back after it goes out of service.", code="ends_before_start")
    if end - start > LONGEST_TIME_OFF:
        raise ClinicError(
            f"That is more than a year. If {what.name} is gone for good, mark it as no longer in use.",
            code="too_long",
        )
    Clinic.objects.select_for_update().filter(pk=clinic.pk).first()
    same = OutOfService.objects.filter(room=room) if room else OutOfService.objects.filter(device=device)
    overlapping = same.filter(start__lt=end, end__gt=start).first()
    if overlapping is not None:
        raise ClinicError(
            f"{what.name} is already out of service {clinic_local(clinic, overlapping.start)} – "
            f"{clinic_local(clinic, overlapping.end)}. Take that back first to change it.",
            code="overlapping",
        )
    return OutOfService.objects.create(
        clinic=clinic, room=room, device=device, start=start, end=end, reason=reason.strip()[:200]
    )


def out_of_service_remove(*, clinic: Clinic, period_id: int) -> OutOfService | None:
    """Put a room or device back in service (the period taken back); return it, None if not the clinic's."""
    period = OutOfService.objects.filter(pk=period_id, clinic=clinic).select_related("room", "device").first()
    if period is not None:
        period.delete()
    return period


def out_of_service_said(name: str, reason: str) -> str:
    """ "Pen A is out of service then (Servicing)": what booking refuses and the flag on a visit say."""
    return f"{name} is out of service then" + (f" ({reason})" if reason else "")
