"""Messages a booking change sends the client, written to the outbox in the change's transaction."""

from django.utils import timezone

from clinic.outbox import outbox_cancel, outbox_enqueue
from treatments.links import manage_url
from treatments.models import Appointment


def _context(appointment: Appointment) -> dict:
    clinic = appointment.clinic
    local_start = timezone.localtime(appointment.start, clinic.zone)
    return {
        "appointment_id": appointment.pk,
        "client_first_name": appointment.client.first_name,
        "service_name": appointment.service.name,
        "practitioner_name": appointment.practitioner.display_name,
        "local_start": local_start.strftime("%A %d %B %Y at %H:%M"),
        "zone_name": clinic.time_zone,
        "zone_abbreviation": local_start.tzname(),
        "manage_url": manage_url(appointment),
        "cancellation_window_hours": clinic.cancellation_window_hours,
        "sequence": appointment.sequence,
    }


def _enqueue(appointment: Appointment, template_key: str, dedupe_key: str) -> None:
    client = appointment.client
    if not client.email:
        return
    outbox_enqueue(
        clinic=appointment.clinic,
        recipient_email=client.email,
        recipient_name=client.full_name,
        template_key=template_key,
        dedupe_key=dedupe_key,
        context=_context(appointment),
        topic=f"appointment:{appointment.pk}",
    )


def notify_booked(appointment: Appointment) -> None:
    """Queue the booking confirmation (call inside the booking transaction)."""
    _enqueue(appointment, "booking_confirmation", f"appointment:{appointment.pk}:booked")


def notify_rescheduled(appointment: Appointment) -> None:
    """Queue the reschedule notice for this version of the appointment."""
    key = f"appointment:{appointment.pk}:rescheduled:{appointment.sequence}"
    _enqueue(appointment, "booking_rescheduled", key)


def notify_cancelled(appointment: Appointment) -> None:
    """Stop whatever was still to be sent about the visit, then queue the cancellation notice."""
    outbox_cancel(topic=f"appointment:{appointment.pk}")
    _enqueue(appointment, "booking_cancelled", f"appointment:{appointment.pk}:cancelled")
