"""Signed, expiring links that let a client manage their own appointments without signing in: one visit
(`manage_url`), or every visit still ahead (`client_visits_url`)."""

import datetime as dt

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from clients.links import (
    LinkInvalid,
    absolute_url,
    client_from_token,
    forms_url,
    read_signed_token,
    signed_token,
)
from clients.models import Client
from treatments.models import Appointment

SALT = "treatments.appointment-manage"
VISITS = "treatments.client-visits"
# The link to all of a client's visits works at least this long, and until a day after the visit the
# email is about: a reminder months after the booking still opens it.
VISITS_VALID_AT_LEAST = dt.timedelta(days=90)
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
    return _visit_named(read_signed_token(token, purpose=SALT), gone="This appointment no longer exists.")


def _visit_named(payload: dict, *, gone: str) -> Appointment:
    appointment = (
        Appointment.objects.select_related("clinic", "client", "service", "practitioner")
        .filter(pk=payload.get("a"))
        .first()
    )
    if appointment is None or appointment.client.erased_at:
        raise LinkInvalid(gone)
    return appointment


def client_visits_url(client: Client, *, until: dt.datetime | None = None) -> str:
    """Return the absolute address of the page listing the client's visits still ahead, for emails;
    it works for VISITS_VALID_AT_LEAST, or until a day after `until` when that is later."""
    now = timezone.now()
    expires = max(now + VISITS_VALID_AT_LEAST, (until or now) + VALID_AFTER_END)
    token = signed_token({"c": client.pk}, purpose=VISITS, valid_for=expires - now)
    return absolute_url(reverse("public-visits", args=[token]))


def client_from_visits_token(token: str) -> Client:
    """Return the client a visits link names (the record kept, if theirs was merged), or raise LinkInvalid."""
    client, _ = client_from_token(token, purpose=VISITS)
    return client


def visit_forms_url(visit: Appointment) -> str:
    """The client's link to the intake and the consents of the visit's treatments."""
    return forms_url(visit.client, modalities=sorted({p.modality for p in visit.service.protocols.all()}))


FEEDBACK = "treatments.visit-feedback"
# How long the link asking a client how their visit went keeps working.
FEEDBACK_VALID_FOR = dt.timedelta(days=30)


def feedback_url(appointment: Appointment) -> str:
    """Return the absolute address of the page asking how the visit went, for the email; 30 days."""
    token = signed_token({"a": appointment.pk}, purpose=FEEDBACK, valid_for=FEEDBACK_VALID_FOR)
    return absolute_url(reverse("public-feedback", args=[token]))


def appointment_from_feedback_token(token: str) -> Appointment:
    """Return the visit a feedback link names, or raise LinkInvalid."""
    return _visit_named(read_signed_token(token, purpose=FEEDBACK), gone="This visit no longer exists.")
