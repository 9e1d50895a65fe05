"""Signed, expiring links that act for a client without a sign-in: unsubscribe, fill forms."""

import datetime as dt

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from clients.merging import client_merged_into
from clients.models import Client

UNSUBSCRIBE = "clients.unsubscribe"
FORMS = "clients.forms"
# Unsubscribe links stay good for a year: an old aftercare email must still stop the next one.
UNSUBSCRIBE_VALID_FOR = dt.timedelta(days=365)
FORMS_VALID_FOR = dt.timedelta(days=30)


class LinkInvalid(Exception):
    """The link was altered, belongs to nothing, or has expired."""


def signed_token(payload: dict, *, purpose: str, valid_for: dt.timedelta) -> str:
    """Return `payload` signed with SECRET_KEY for one purpose, expiring after `valid_for`."""
    expires = timezone.now() + valid_for
    return signing.dumps({**payload, "exp": int(expires.timestamp())}, salt=purpose, compress=True)


def read_signed_token(token: str, *, purpose: str) -> dict:
    """Return the payload of a token made by `signed_token`, or raise LinkInvalid."""
    try:
        payload = signing.loads(token, salt=purpose)
    except signing.BadSignature as error:
        raise LinkInvalid("This link is not valid. Use the link from your most recent email.") from error
    if timezone.now().timestamp() > payload.get("exp", 0):
        raise LinkInvalid("This link has expired. Use the link from your most recent email.")
    return payload


def absolute_url(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def unsubscribe_url(client: Client) -> str:
    token = signed_token({"c": client.pk}, purpose=UNSUBSCRIBE, valid_for=UNSUBSCRIBE_VALID_FOR)
    return absolute_url(reverse("client-unsubscribe", args=[token]))


def forms_url(client: Client, *, modalities: list[str]) -> str:
    """Return the link to the page where the client fills intake and signs the consents named."""
    token = signed_token({"c": client.pk, "m": sorted(modalities)}, purpose=FORMS, valid_for=FORMS_VALID_FOR)
    return absolute_url(reverse("client-forms", args=[token]))


def client_from_token(token: str, *, purpose: str) -> tuple[Client, dict]:
    payload = read_signed_token(token, purpose=purpose)
    client = Client.objects.select_related("clinic").filter(pk=payload.get("c")).first()
    if client is None:  # a link sent before the record was merged acts for the record it became
        client = client_merged_into(payload.get("c"))
    if client is None or client.erased_at:  # erased at their request: nothing is held for it
        raise LinkInvalid("This link belongs to nothing we hold any more.")
    return client, payload
