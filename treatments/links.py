"""Signed, expiring links that let a client manage their own appointment without signing in."""

import datetime as dt

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from treatments.models import Appointment

SALT = "treatments.appointment-manage"
# The link keeps working until a day after the visit ends (then there is nothing left to manage).
VALID_AFTER_END = dt.timedelta(days=1)


def manage_token(appointment: Appointment) -> str:
    """Return a token naming the appointment, signed with SECRET_KEY, that expires after the visit."""
    expires = appointment.end + VALID_AFTER_END
    return signing.dumps({"a": appointment.pk, "exp": int(expires.timestamp())}, salt=SALT, compress=True)


def manage_url(appointment: Appointment) -> str:
    """Return the absolute address of the appointment's manage page, for emails."""
    return settings.SITE_URL.rstrip("/") + reverse("public-manage", args=[manage_token(appointment)])


class LinkInvalid(Exception):
    """The link was altered, belongs to nothing, or has expired."""


def appointment_from_token(token: str) -> Appointment:
    """Return the appointment a token names, or raise LinkInvalid."""
    try:
        payload = signing.loads(token, salt=SALT)
    except signing.BadSignature as error:
        raise LinkInvalid("This link is not valid. Use the link from your most recent email.") from error
    if timezone.now().timestamp() > payload.get("exp", 0):
        raise LinkInvalid("This link has expired.")
    appointment = (
        Appointment.objects.select_related("clinic", "client", "service", "practitioner")
        .filter(pk=payload.get("a"))
        .first()
    )
    if appointment is None:
        raise LinkInvalid("This appointment no longer exists.")
    return appointment
