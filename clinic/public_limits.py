"""How often one address may send the clinic's public pages a booking or a waitlist request.

Anyone may book online, and each booking emails the address typed: without a limit, a script could
fill the calendar with made-up clients or send the clinic's emails to addresses by the hundred.
Each such request from an address is noted (`PublicWrite`); past PUBLIC_WRITES_PER_HOUR in the last
hour it is refused in words, with the clinic's phone, before anything is written. A real client books
a few times at most; a clinic's own reception shares one address with the desk, which signs in and is
not counted.
"""

import datetime as dt
from typing import NamedTuple

from django.utils import timezone

from clinic.models import Clinic, PublicWrite
from clinic.sign_in import client_address

PUBLIC_WRITES_PER_HOUR = 20
# A field the public forms carry out of sight (`public/_leave_empty.html`): people leave it empty,
# scripts that fill every field do not.
LEAVE_EMPTY_FIELD = "website"
WINDOW = dt.timedelta(hours=1)
KEPT_FOR = dt.timedelta(days=1)


class PublicRefusal(NamedTuple):
    """Why a public form's request was not taken, in words for the person who sent it, and its status."""

    words: str
    status: int


def public_write_refusal(request, clinic: Clinic, *, now: dt.datetime | None = None) -> PublicRefusal | None:
    """Note this request, or say why it may not go ahead (None when it may): the field people cannot
    see was filled in (400, not noted), or the address sent too many in the last hour (429). Three
    queries (the notes older than a day go)."""
    if request.POST.get(LEAVE_EMPTY_FIELD, "").strip():
        return PublicRefusal(
            "This request looks automatic, so it was not sent. If you filled in a field called "
            "“Leave this empty”, empty it and send again.",
            400,
        )
    now = now or timezone.now()
    address = client_address(request)
    recent = PublicWrite.objects.filter(clinic=clinic, ip_address=address, at__gt=now - WINDOW).count()
    if recent >= PUBLIC_WRITES_PER_HOUR:
        return PublicRefusal(
            "We have had many requests from your connection in the last hour, so this one was not "
            f"sent. Please try again later, or call us{' on ' + clinic.phone if clinic.phone else ''}.",
            429,
        )
    PublicWrite.objects.create(clinic=clinic, ip_address=address, at=now)
    PublicWrite.objects.filter(clinic=clinic, at__lt=now - KEPT_FOR).delete()  # a day's at most
    return None
