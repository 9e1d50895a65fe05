"""Reads of the treatments layer, planned so their query count does not grow with the rows."""

import datetime as dt

from django.db.models import Q, QuerySet

from clinic.models import Clinic, OutboxMessage
from treatments.models import Appointment, TreatmentSession


def local_day_bounds(clinic: Clinic, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """Return the aware start and end of a local calendar day (23 or 25 hours on DST change days)."""
    zone = clinic.zone
    start = dt.datetime.combine(day, dt.time.min, tzinfo=zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    return start, end


def appointments_between(*, clinic: Clinic, first_day: dt.date, last_day: dt.date) -> QuerySet[Appointment]:
    """Return the clinic's appointments starting on local days first_day..last_day (inclusive)."""
    start, _ = local_day_bounds(clinic, first_day)
    _, end = local_day_bounds(clinic, last_day)
    return (
        Appointment.objects.filter(clinic=clinic, start__gte=start, start__lt=end)
        .select_related("practitioner", "room", "device", "client", "service")
        .order_by("start", "practitioner__display_name", "id")
    )


def appointment_messages(appointment: Appointment) -> QuerySet[OutboxMessage]:
    """Return the mail about a visit: its booking mail and its session's aftercare, newest first."""
    about = Q(topic=f"appointment:{appointment.pk}")
    session_id = TreatmentSession.objects.filter(appointment=appointment).values_list("pk", flat=True).first()
    if session_id:
        # aftercare keys start with the session (rebooking invitations have a topic of their own)
        about |= Q(dedupe_key__startswith=f"session:{session_id}:")
    return OutboxMessage.objects.filter(about, clinic_id=appointment.clinic_id).order_by("-due_at", "-id")
