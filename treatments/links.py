"""Signed, expiring links that let a client manage their own appointment without signing in."""

import datetime as dt

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from clients.links import LinkInvalid, read_signed_token, signed_token
from treatments.models import Appointment

SALT = "treatments.appointment-manage"
# The link keeps working until a day after the visit ends (then there is nothing left to manage).
VALID_AFTER_END = dt.timedelta(days=1)


def manage_token(appointment: Appointment) -> str:
    """Return a token naming the appointment, signed with SECRET_KEY, that expires after the visit."""
    valid_for = appointment.end + VALID_AFTER_END - timezone.now()
    return signed_token({"a": appointment.pk}, purpose=SALT, valid_for=valid_for)


def manage_url(appointment: Appointment) -> str:
    """Return the absolute address of the appointment's manage page, for emails."""
    return settings.SITE_URL.rstrip("/") + reverse("public-manage", args=[manage_token(appointment)])


def appointment_from_token(token: str) -> Appointment:
    """Return the appointment a token names, or raise LinkInvalid."""
    payload = read_signed_token(token, purpose=SALT)
    appointment = (
        Appointment.objects.select_related("clinic", "client", "service", "practitioner")
        .filter(pk=payload.get("a"))
        .first()
    )
    if appointment is None:
        raise LinkInvalid("This appointment no longer exists.")
    return appointment
