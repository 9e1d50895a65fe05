"""A manufacturer recalls a product lot: the clinic stops giving it and tells every client given it.

A manager records the recall on the lot's page (`/records/lots/?lot=<id>`) with what the manufacturer
said (`lot_recall_record`); from then on no treatment record takes the lot (`treatments.sessions`
refuses it, `selectors.usable_lots` no longer offers it). Then the manager writes to the clients given
it (`lot_recall_notify`): one email each, in the outbox in the same transaction, naming the product,
the lot, the days they were given it and the clinic's words; essential mail, so a client who
unsubscribed from aftercare still gets it. Written once per client and lot (its dedupe key), however
often the button is pressed: clients given the lot after a first notice (before the recall was
recorded) are written to by the next. Clients without an email address are listed to phone.
"""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from clients.models import Client
from clinic.errors import ClinicError
from clinic.models import OutboxMessage, StaffMember
from clinic.outbox import outbox_message, outbox_write
from clinic.permissions import require_manager_of
from clinic.wording import day_said
from treatments.models import RECALL_NOTE_MAX_CHARACTERS, ProductLot
from treatments.selectors import lot_recipients

RECALL_NOTICE = "lot_recall_notice"
NOTICE_WORDS_MAX_CHARACTERS = 2000


def recall_dedupe_key(lot: ProductLot, client_id: int) -> str:
    return f"lot-recall:{lot.pk}:{client_id}"


@transaction.atomic
def lot_recall_record(*, lot: ProductLot, by: StaffMember, note: str) -> ProductLot:
    """Record that the manufacturer recalled the lot, with what they said, or raise ClinicError."""
    require_manager_of(lot.product.clinic, by, to="record a product recall")
    lot = ProductLot.objects.select_for_update().select_related("product").get(pk=lot.pk)
    note = note.strip()
    if lot.recalled_on:
        raise ClinicError(f"This lot was recalled already, on {day_said(lot.recalled_on)}.")
    if not note:
        raise ClinicError("Say what the manufacturer said (the reason, and what they ask clinics to do).")
    if len(note) > RECALL_NOTE_MAX_CHARACTERS:
        raise ClinicError(f"Keep the manufacturer's words to {RECALL_NOTE_MAX_CHARACTERS} characters.")
    lot.recalled_on = timezone.localdate(timezone=lot.product.clinic.zone)
    lot.recall_note, lot.recalled_by = note, by
    lot.save(update_fields=["recalled_on", "recall_note", "recalled_by"])
    return lot


@dataclass(frozen=True)
class RecallNotices:
    """What telling a lot's clients did: emails written now, clients written to before, and the
    clients to phone (no email address)."""

    written: int
    already: int
    to_phone: list[Client]


def _day_with_weekday(day) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


@transaction.atomic
def lot_recall_notify(*, lot: ProductLot, by: StaffMember, words: str) -> RecallNotices:
    """Email each client given the recalled lot the clinic's words, once; or raise ClinicError."""
    clinic = lot.product.clinic
    require_manager_of(clinic, by, to="write to the clients given a recalled lot")
    lot = ProductLot.objects.select_related("product__clinic").get(pk=lot.pk)
    words = words.strip()
    if not lot.recalled_on:
        raise ClinicError("Record the recall first: then write to the clients given the lot.")
    if not words:
        raise ClinicError("Write what the clients should know and do: the email says it in your words.")
    if len(words) > NOTICE_WORDS_MAX_CHARACTERS:
        raise ClinicError(f"Keep the email to {NOTICE_WORDS_MAX_CHARACTERS} characters: call about the rest.")
    given_days: dict[int, list] = {}
    clients: dict[int, Client] = {}
    for record in lot_recipients(clinic, lot):
        client = record.session.client
        clients[client.pk] = client
        day = timezone.localdate(record.session.started_at, clinic.zone)
        if day not in given_days.setdefault(client.pk, []):
            given_days[client.pk].append(day)
    told = recall_notified(lot)
    to_write = [c for c in clients.values() if c.email and c.pk not in told and not c.erased_at]
    outbox_write(
        [
            outbox_message(
                clinic=clinic,
                recipient_email=client.email,
                recipient_name=client.full_name,
                template_key=RECALL_NOTICE,
                dedupe_key=recall_dedupe_key(lot, client.pk),
                context={
                    "client_first_name": client.first_name,
                    "product_name": lot.product.name,
                    "lot_number": lot.lot_number,
                    "given_on": [_day_with_weekday(day) for day in sorted(given_days[client.pk])],
                    "clinic_words": words,
                },
                topic=f"lot-recall:{lot.pk}",
                client_id=client.pk,
            )
            for client in to_write
        ]
    )
    return RecallNotices(
        written=len(to_write),
        already=len([pk for pk in clients if pk in told]),
        to_phone=[c for c in clients.values() if not c.email and not c.erased_at],
    )


def recall_notified(lot: ProductLot) -> set[int]:
    """The clients already written to about the lot's recall (one query)."""
    return set(
        OutboxMessage.objects.filter(topic=f"lot-recall:{lot.pk}", template_key=RECALL_NOTICE)
        .exclude(client_id=None)
        .values_list("client_id", flat=True)
    )
