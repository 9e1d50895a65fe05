"""Erasing a client's record at their request (the right to erasure, GDPR and UK GDPR article 17).

A clinic must keep health records (intake answers and the conditions they noted, signed consents and
their withdrawals, photo consents, treatment records) for years after the last treatment, so a record
holding any is not erased: the manager is told what it holds and what can be done instead. A record
without them (someone who booked online and never came, a caller added to the waitlist) is erased:
its name, contact details, date of birth, notes and emails go; the row stays as "Erased client", so
the schedule's past keeps its visits (times, services, practitioners) and the report its counts.

Higher layers say what else stops it (`treatments`: visits still ahead) and wipe their own words
about the client (visits' notes, feedback comments, waitlist places) in the erasure's transaction,
registered at start-up as the merge's checks and hooks are. A booking locks the client's row and
finds it erased (`refuse_if_erased`), so an erasure and a booking at once never leave a visit ahead.
"""

from collections.abc import Callable

from django.db import transaction
from django.utils import timezone

from clients.merging import held_said, rows_held
from clients.models import Client, ClientMerge
from clients.services import refuse_if_erased  # noqa: F401 (booking's guard, beside the erasure)
from clinic.errors import ClinicError
from clinic.models import OutboxMessage, OutboxStatus, StaffMember
from clinic.permissions import require_manager_of

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


def register_erasure_check(check: ErasureCheck) -> None:
    if check not in _erasure_checks:
        _erasure_checks.append(check)


def register_after_erasure(hook: AfterErasure) -> None:
    if hook not in _after_erasure:
        _after_erasure.append(hook)


def erasure_refusal(client: Client) -> str:
    """Why the client's record cannot be erased, in words a manager can act on ('' when it can).
    About ten queries (one per kind of row that refers to a client), for the page that asks."""
    if client.erased_at:
        return "This record was erased already."
    held = rows_held([client])[client.pk]
    health = {label: n for label, n in held.items() if label in HEALTH_RECORDS}
    if health:
        return (
            f"{client.full_name}'s record holds health records the clinic must keep "
            f"({held_said(health)}), so it cannot be erased. Instead, turn off their optional emails "
            "and remove the contact details they no longer want kept."
        )
    for check in _erasure_checks:
        if refusal := check(client):
            return refusal
    if OutboxMessage.objects.filter(client_id=client.pk, status=OutboxStatus.SENDING).exists():
        return "An email to them is being sent this moment: try again in a minute."
    return ""


@transaction.atomic
def client_erase(*, client: Client, by: StaffMember) -> Client:
    """Erase a client's record at their request, or raise ClinicError saying why not.

    Managers only. The row is locked first, so a booking at the same moment waits and is then refused,
    or goes first and refuses the erasure (a visit ahead).
    """
    require_manager_of(client.clinic, by, to="erase a client's record")
    client = Client.objects.select_for_update(no_key=True).select_related("clinic").get(pk=client.pk)
    if refusal := erasure_refusal(client):
        raise ClinicError(refusal, code="cannot_erase")
    for hook in _after_erasure:
        hook(client)
    # the emails they were sent or were to be sent: addresses, names and what they said
    OutboxMessage.objects.filter(clinic_id=client.clinic_id, client_id=client.pk).delete()
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
    client.erased_at, client.erased_by = timezone.now(), by
    client.unsubscribed_at = client.unsubscribed_at or client.erased_at
    client.save()
    return client
