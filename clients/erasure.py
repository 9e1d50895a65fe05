"""Erasing a client's record at their request (the right to erasure, GDPR and UK GDPR article 17), or
once the clinic no longer has to keep it (storage limitation, article 5(1)(e); `treatments.keeping`
lists those records for a manager to review).

A clinic must keep health records (intake answers and the conditions they noted, signed consents and
their withdrawals, photo consents, treatment records) for years after the last of them: the clinic's
`health_records_kept_years` (8 in the UK for adults), and for a client who was a child then, at least
until their `minor_records_until_age` birthday (25). Until then a record holding any is not erased: the
manager is told what it holds, until when, and what can be done instead. A record without them
(someone who booked online and never came, a caller added to the waitlist), or whose health records'
time has passed, is erased: its name, contact details, date of birth, notes and emails go, and its
health records with them; the row stays as "Erased client", so the schedule's past keeps its visits
(times, services, practitioners) and the report its counts.

Higher layers say what else stops it (`treatments`: visits still ahead), when their latest health
record was (`treatments`: treatment records), and wipe their own rows about the client (visits' notes,
feedback comments, waitlist places, their name and email on gift vouchers; treatment records and their
photos once their time has passed) in the erasure's transaction, registered at start-up as the merge's
checks and hooks are. A booking locks
the client's row and finds it erased (`refuse_if_erased`), so an erasure and a booking at once never
leave a visit ahead.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Max
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from clients.imports import imports_forget_client, imports_pending_locked
from clients.merging import held_said, rows_held
from clients.models import (
    Client,
    ClientCondition,
    ClientMerge,
    ConsentCountersignature,
    ConsentWithdrawal,
    ErasureReason,
    IntakeResponse,
    PhotoConsent,
    SignedConsent,
)
from clinic.errors import ClinicError
from clinic.models import OutboxMessage, OutboxStatus, StaffMember
from clinic.permissions import require_manager_of
from clinic.wording import day_said

ERASED_FIRST_NAME, ERASED_LAST_NAME = "Erased", "client"
# Emptied, with the date of birth (the database refuses an erased record that keeps any of them).
ERASED_DETAILS = (
    "email",
    "phone",
    "emergency_contact_name",
    "emergency_contact_phone",
    "gp_details",
    "notes",
)

# The kinds of rows (by the models' plural names, as `rows_held` counts them) that are health records.
HEALTH_RECORDS = (
    "intake responses",
    "client conditions",
    "signed consents",
    "consent withdrawals",
    "photo consents",
    "treatment sessions",
)

# Why a higher layer cannot let the record go yet, in words ('' when it can).
ErasureCheck = Callable[[Client], str]
_erasure_checks: list[ErasureCheck] = []
# What a higher layer wipes of the client's, in the erasure's transaction, before the row is emptied.
AfterErasure = Callable[[Client], None]
_after_erasure: list[AfterErasure] = []


# When a higher layer's latest health record of the client was (None: it holds none).
LatestHealthRecord = Callable[[Client], dt.datetime | None]
_latest_health_records: list[LatestHealthRecord] = []


def register_latest_health_record(latest: LatestHealthRecord) -> None:
    if latest not in _latest_health_records:
        _latest_health_records.append(latest)


# This layer's health records and when each last happened, for how long they are kept: (model, moment).
# `treatments.keeping` reads the same moments for every client at once.
HEALTH_RECORD_MOMENTS = (
    (IntakeResponse, "submitted_at"),
    (SignedConsent, "signed_at"),
    (ConsentWithdrawal, "withdrawn_at"),
    (PhotoConsent, Greatest("granted_at", Coalesce("revoked_at", "granted_at"))),
)


def _latest_of_this_layer(client: Client) -> dt.datetime | None:
    """The latest intake, signed consent, withdrawal or photo consent (given or withdrawn); four queries."""
    moments = [
        model.objects.filter(client=client).aggregate(latest=Max(moment))["latest"]
        for model, moment in HEALTH_RECORD_MOMENTS
    ]
    return max((m for m in moments if m), default=None)


def years_after(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February, in a year without one
        return day.replace(year=day.year + years, day=28)


def health_records_kept_until(client: Client) -> dt.date | None:
    """The last day the clinic must keep the client's health records (None: it holds none): its
    `health_records_kept_years` after the latest of them, and for a client who was a child then, at
    least until their `minor_records_until_age` birthday."""
    latest = max(
        [m for m in [_latest_of_this_layer(client), *(f(client) for f in _latest_health_records)] if m],
        default=None,
    )
    return kept_until_after(client, latest) if latest else None


def kept_until_after(client: Client, latest: dt.datetime) -> dt.date:
    """The last day the clinic must keep a client's health records whose latest is `latest`."""
    clinic = client.clinic
    last_day = timezone.localdate(latest, clinic.zone)
    until = years_after(last_day, clinic.health_records_kept_years)
    if client.is_minor_on(last_day):
        until = max(until, years_after(client.date_of_birth, clinic.minor_records_until_age))
    return until


def register_erasure_check(check: ErasureCheck) -> None:
    if check not in _erasure_checks:
        _erasure_checks.append(check)


def register_after_erasure(hook: AfterErasure) -> None:
    if hook not in _after_erasure:
        _after_erasure.append(hook)


def health_records_held(client: Client) -> dict[str, int]:
    """How many health records of each kind the client holds, by plural name (about ten queries)."""
    held = rows_held([client])[client.pk]
    return {label: n for label, n in held.items() if label in HEALTH_RECORDS}


@dataclass(frozen=True)
class ErasureOutlook:
    """What erasing a client's record would meet: why not, in words ('' when it may go ahead), the
    health records it holds (by plural name) and the last day they must be kept (None: none held)."""

    refusal: str
    health: dict[str, int]
    kept_until: dt.date | None


def erasure_outlook(client: Client) -> ErasureOutlook:
    """Whether the client's record can be erased and what it holds, for the page that asks and the
    erasure itself. About fifteen queries (one per kind of row that refers to a client, and the latest
    of each kind of health record)."""
    health = health_records_held(client) if not client.erased_at else {}
    kept_until = health_records_kept_until(client) if health else None
    return ErasureOutlook(_refusal(client, health, kept_until), health, kept_until)


def erasure_refusal(client: Client) -> str:
    """Why the client's record cannot be erased, in words a manager can act on ('' when it can)."""
    return erasure_outlook(client).refusal


def _refusal(client: Client, health: dict[str, int], kept_until: dt.date | None) -> str:
    if client.erased_at:
        return "This record was erased already."
    if kept_until and kept_until >= timezone.localdate(timezone=client.clinic.zone):
        return (
            f"{client.full_name}'s record holds health records the clinic must keep until "
            f"{day_said(kept_until)} ({held_said(health)}), so it cannot be erased yet. "
            "Instead, turn off their optional emails and remove the contact details they no longer want "
            "kept."
        )
    for check in _erasure_checks:
        if refusal := check(client):
            return refusal
    if OutboxMessage.objects.filter(client_id=client.pk, status=OutboxStatus.SENDING).exists():
        return "An email to them is being sent this moment: try again in a minute."
    return ""


@transaction.atomic
def client_erase(*, client: Client, by: StaffMember, because: str = ErasureReason.ASKED) -> Client:
    """Erase a client's record, or raise ClinicError saying why not: at their request, or `because`
    the clinic no longer has to keep it (`treatments.keeping.client_erase_past_keeping` checks that
    first, and calls this in its transaction).

    Managers only. The row is locked first, so a booking at the same moment waits and is then refused,
    or goes first and refuses the erasure (a visit ahead).
    """
    require_manager_of(client.clinic, by, to="erase a client's record")
    # the files still to import first, as a worker booking one locks it before the clients it books:
    # the same order, so the two wait for each other (a batch at most) and never deadlock
    imports_pending_locked(client.clinic_id)
    client = Client.objects.select_for_update(no_key=True).select_related("clinic").get(pk=client.pk)
    if refusal := erasure_refusal(client):
        raise ClinicError(refusal, code="cannot_erase")
    for hook in _after_erasure:
        hook(client)
    # their health records, whose time has passed (erasure_refusal said so): with what hangs on them
    ConsentCountersignature.objects.filter(consent__client=client).delete()
    for model in (ClientCondition, IntakeResponse, SignedConsent, ConsentWithdrawal, PhotoConsent):
        model.objects.filter(client=client).delete()
    # the emails they were sent or were to be sent: addresses, names and what they said
    OutboxMessage.objects.filter(clinic_id=client.clinic_id, client_id=client.pk).delete()
    # a file imported that held them kept their row, left out: gone too; and a file still to import
    # (or being booked) loses the rows naming them, or importing it would register them again
    imports_forget_client(client)
    # merges of their records kept the details each record had, to undo them: gone with the rest
    ClientMerge.objects.filter(clinic_id=client.clinic_id, kept=client).update(
        merged_name=f"{ERASED_FIRST_NAME} {ERASED_LAST_NAME}", merged_details={}, kept_details={}
    )
    ClientMerge.objects.filter(clinic_id=client.clinic_id, merged_client_id=client.pk).update(
        merged_name=f"{ERASED_FIRST_NAME} {ERASED_LAST_NAME}", merged_details={}, kept_details={}
    )
    client.first_name, client.last_name = ERASED_FIRST_NAME, ERASED_LAST_NAME
    client.date_of_birth = None
    for name in ERASED_DETAILS:
        setattr(client, name, "")
    client.accepts_aftercare_email = client.accepts_marketing_email = False
    client.erased_at, client.erased_by, client.erased_because = timezone.now(), by, ErasureReason(because)
    client.unsubscribed_at = client.unsubscribed_at or client.erased_at
    client.save()
    return client
