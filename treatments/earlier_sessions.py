"""Sessions a client had before this clinic's calendar held them (`EarlierSession`).

A client treated a week ago, in the software the clinic used before or at another clinic, must not be
booked again for the same treatment before its protocol's interval has passed: the booking's interval
rule (`treatments.booking.too_soon_after`) counts these as it counts the visits here. A visits' import
keeps the visits already over from the old software's file (`treatments.visit_imports`); the desk notes
one the client tells them of on the client's page (`earlier_session_record`), and takes off one noted
by mistake (`earlier_session_remove`).
"""

import datetime as dt

from django.db import transaction
from django.utils import timezone

from clients.models import Client
from clients.services import refuse_if_erased
from clinic.errors import ClinicError
from clinic.models import StaffMember
from clinic.parsing import text_typed
from treatments.models import (
    EARLIER_SESSION_NOTE_MAX_CHARACTERS,
    EarlierSession,
    EarlierSessionSource,
    Service,
)

# A session noted as had earlier is at most this long ago: older ones no interval reaches.
EARLIEST_NOTED_YEARS = 10
GIVEN_BY_MAX_CHARACTERS = 200


def earliest_noted(today: dt.date) -> dt.date:
    """The first day a session had before may be noted on: `EARLIEST_NOTED_YEARS` before today."""
    return today.replace(year=today.year - EARLIEST_NOTED_YEARS, day=min(today.day, 28))


def earlier_session_record(
    *,
    client: Client,
    service: Service | None,
    given_on: dt.date | None,
    given_by: str = "",
    notes: str = "",
    by: StaffMember,
) -> EarlierSession:
    """Note a session the client had before coming here (or before this calendar), by its day."""
    if service is None or service.clinic_id != client.clinic_id:
        raise ClinicError("Choose the treatment they had from the list.", code="bad_service")
    today = timezone.localdate(timezone=client.clinic.zone)
    if given_on is None:
        raise ClinicError("Give the day they had it, as 20/11/2026 or 2026-11-20.", code="bad_day")
    if given_on > today:
        raise ClinicError(
            f"{given_on:%d %b %Y} is still ahead: note a session they had already; book one ahead.",
            code="day_ahead",
        )
    if given_on < earliest_noted(today):
        raise ClinicError(
            f"{given_on:%d %b %Y} is more than {EARLIEST_NOTED_YEARS} years ago: no interval reaches it.",
            code="day_long_ago",
        )
    given_by, notes = text_typed(given_by), text_typed(notes)
    for what, text, most in (
        ("Who gave it", given_by, GIVEN_BY_MAX_CHARACTERS),
        ("The note", notes, EARLIER_SESSION_NOTE_MAX_CHARACTERS),
    ):
        if len(text) > most:
            raise ClinicError(
                f"{what} is {len(text):,} characters long: please keep it to {most:,}.", code="too_long"
            )
    with transaction.atomic():
        refuse_if_erased(client)
        return EarlierSession.objects.create(
            clinic_id=client.clinic_id,
            client=client,
            service=service,
            given_on=given_on,
            given_by=given_by,
            notes=notes,
            source=EarlierSessionSource.ELSEWHERE,
            recorded_by=by,
        )


def earlier_session_remove(*, earlier: EarlierSession, by: StaffMember) -> EarlierSession:
    """Take off a session noted by mistake (the wrong client, the wrong day): the interval no longer
    counts it. Kept, with who took it off and when, as the client's page says (it may have let a
    booking through); once: a second time finds it taken off already."""
    now = timezone.now()
    with transaction.atomic():
        EarlierSession.objects.filter(pk=earlier.pk, removed_at=None).update(removed_at=now, removed_by=by)
    earlier.refresh_from_db()
    return earlier


def client_earlier_sessions(client: Client) -> list[EarlierSession]:
    """The sessions the client had before, the latest first, those taken off too (one query)."""
    return list(
        EarlierSession.objects.filter(client=client)
        .select_related("service", "recorded_by", "removed_by")
        .order_by("-given_on", "-id")
    )
