"""One person, two records: finding them, and making them one.

Duplicates come from a client booking online under another email, a new phone, a married name, or the
desk typing someone in anew. Their visits, forms and messages are then split across two records: a
practitioner reading one misses the intake or the contraindication on the other.

- `clients_like` finds the records a new client's details may be (the desk asks before registering);
- `likely_duplicates` lists the clinic's pairs (the duplicates page);
- `client_merge` moves everything one record holds onto the other, keeps what it said, deletes it;
- `clients_distinct` records that a pair are two people, so they are not offered again;
- `client_merge_undo` takes a merge back when the two were two people after all: the merged record
  returns with its id, and every row that moved moves back.
"""

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.db.models.functions import Right
from django.utils import timezone

from clients.access_log import accesses_write
from clients.models import Client, ClientMerge, DistinctClients, HealthDataAccess
from clients.selectors import phone_digits
from clients.services import CLIENT_DETAIL_FIELDS, client_accepts_non_essential_mail
from clinic.errors import ClinicError
from clinic.models import Clinic, OutboxMessage, OutboxStatus, StaffMember
from clinic.outbox import outbox_cancel_non_essential, outbox_readdress
from clinic.wording import listed

# A phone number is compared by its last nine digits: "07700 900123" and "+44 7700 900123", or
# "06 12 34 56 78" and "+33 6 12 34 56 78", are one number written nationally and internationally.
PHONE_KEY_DIGITS = 9
# The duplicates page lists at most this many pairs (the first, by the most recently registered).
LIKELY_DUPLICATES_SHOWN = 200
# An email, phone, or name and birthday that more records than this share is a placeholder typed for
# clients without one ("none@none.com", the clinic's own number), not a sign of one person: not paired.
LARGEST_SHARED_GROUP = 12

SAME_EMAIL = "the same email"
SAME_PHONE = "the same phone"
SAME_NAME_AND_BIRTHDAY = "the same name and date of birth"

# What a merge page lets staff choose between, and the one detail the merge keeps from both.
MERGEABLE_DETAILS = CLIENT_DETAIL_FIELDS


def phone_key(phone: str) -> str:
    """The part of a phone number two spellings of it share ('' for none: under six digits)."""
    digits = re.sub(r"\D", "", phone or "")
    return digits[-PHONE_KEY_DIGITS:] if len(digits) >= 6 else ""


def _name_key(first_name: str, last_name: str, date_of_birth) -> tuple | None:
    if not date_of_birth:
        return None
    return (first_name.strip().casefold(), last_name.strip().casefold(), date_of_birth)


def identity_keys(first_name: str, last_name: str, email: str, phone: str, date_of_birth) -> list[tuple]:
    """What two records of one person would share: ("email", …), ("phone", last digits), ("name", …)."""
    keys = []
    if email:
        keys.append(("email", email.lower()))
    if key := phone_key(phone):
        keys.append(("phone", key))
    if key := _name_key(first_name, last_name, date_of_birth):
        keys.append(("name", key))
    return keys


@dataclass(frozen=True)
class LikelyMatch:
    """A record that may be the same person, and what the two share ("the same email", …)."""

    client: Client
    reasons: tuple[str, ...]

    @property
    def said(self) -> str:
        return listed(list(self.reasons))


def match_reasons(a, b) -> tuple[str, ...]:
    """What two clients' details share that says they may be one person (empty: nothing)."""
    reasons = []
    if a.email and a.email.lower() == (b.email or "").lower():
        reasons.append(SAME_EMAIL)
    if phone_key(a.phone) and phone_key(a.phone) == phone_key(b.phone):
        reasons.append(SAME_PHONE)
    key = _name_key(a.first_name, a.last_name, a.date_of_birth)
    if key and key == _name_key(b.first_name, b.last_name, b.date_of_birth):
        reasons.append(SAME_NAME_AND_BIRTHDAY)
    return tuple(reasons)


def clients_like(
    *,
    clinic: Clinic,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    phone: str = "",
    date_of_birth: dt.date | None = None,
    exclude: Client | None = None,
    **_other_details,
) -> list[LikelyMatch]:
    """The clinic's clients these details may belong to (one query), best matches first.

    The same email, the same phone (however written), or the same first name, last name and date of
    birth. Two people who staff said are different are not matched again.
    """
    probe = Client(
        first_name=first_name, last_name=last_name, email=email, phone=phone, date_of_birth=date_of_birth
    )
    wanted = Q(pk__in=[])
    if email:
        wanted |= Q(email__iexact=email.strip())
    if key := phone_key(phone):
        wanted |= Q(phone_key=key)
    if date_of_birth and first_name.strip() and last_name.strip():
        wanted |= Q(
            first_name__iexact=first_name.strip(),
            last_name__iexact=last_name.strip(),
            date_of_birth=date_of_birth,
        )
    candidates = (
        Client.objects.filter(clinic=clinic)
        .alias(phone_key=Right(phone_digits(), PHONE_KEY_DIGITS))
        .filter(wanted)
    )
    if exclude is not None:
        candidates = (
            candidates.exclude(pk=exclude.pk)
            .exclude(pk__in=DistinctClients.objects.filter(first=exclude).values("second_id"))
            .exclude(pk__in=DistinctClients.objects.filter(second=exclude).values("first_id"))
        )
    matches = [
        LikelyMatch(c, match_reasons(probe, c)) for c in candidates.order_by("-created_at", "-id")[:10]
    ]
    # the SQL phone key takes the last nine characters of any phone; the Python one needs six digits
    matches = [m for m in matches if m.reasons]
    return sorted(matches, key=lambda m: -len(m.reasons))


@dataclass(frozen=True)
class OtherRecord:
    """Another record a client's may be: what they share, and the two in the order a merge page takes
    them by default (the one registered first is kept)."""

    match: LikelyMatch
    older: Client
    newer: Client


def other_records_of(client: Client) -> list[OtherRecord]:
    """The client's other records, by what they share (one query; none said to be another person)."""
    return [
        OtherRecord(match, *sorted((client, match.client), key=lambda c: (c.created_at, c.pk)))
        for match in clients_like(exclude=client, **client_details(client))
    ]


def client_details(client: Client) -> dict:
    """A client's clinic and the details `clients_like` compares, to find their other records."""
    return {
        "clinic": client.clinic,
        "first_name": client.first_name,
        "last_name": client.last_name,
        "email": client.email,
        "phone": client.phone,
        "date_of_birth": client.date_of_birth,
    }


@dataclass(frozen=True)
class DuplicatePair:
    """Two of the clinic's records that look like one person; `newer` is the later registered."""

    older: Client
    newer: Client
    reasons: tuple[str, ...]

    @property
    def said(self) -> str:
        return listed(list(self.reasons))


def likely_duplicates(clinic: Clinic, *, limit: int = LIKELY_DUPLICATES_SHOWN) -> list[DuplicatePair]:
    """The clinic's pairs of records that share an email, a phone, or a name and birthday.

    Three queries whatever the clinic's size: the details of every client (compared in Python, by
    keys, so the pairs come from groups rather than comparing every two), the pairs said to be two
    people, and the records of the pairs listed. The most recently registered duplicate comes first.
    """
    rows = Client.objects.filter(clinic=clinic).values_list(
        "id", "first_name", "last_name", "email", "phone", "date_of_birth"
    )
    groups: dict[tuple, list[int]] = defaultdict(list)
    for client_id, first_name, last_name, email, phone, date_of_birth in rows:
        for key in identity_keys(first_name, last_name, email, phone, date_of_birth):
            groups[key].append(client_id)
    reasons_by_pair: dict[tuple[int, int], list[str]] = defaultdict(list)
    said = {"email": SAME_EMAIL, "phone": SAME_PHONE, "name": SAME_NAME_AND_BIRTHDAY}
    for (kind, _), ids in groups.items():
        if len(ids) > LARGEST_SHARED_GROUP:
            continue
        ids = sorted(ids)
        for i, first in enumerate(ids):
            for second in ids[i + 1 :]:
                reasons_by_pair[(first, second)].append(said[kind])
    if not reasons_by_pair:
        return []
    distinct = set(DistinctClients.objects.filter(clinic=clinic).values_list("first_id", "second_id"))
    pairs = sorted((pair for pair in reasons_by_pair if pair not in distinct), key=lambda p: (-p[1], -p[0]))
    pairs = pairs[:limit]
    clients = Client.objects.in_bulk({client_id for pair in pairs for client_id in pair})
    order = (SAME_EMAIL, SAME_PHONE, SAME_NAME_AND_BIRTHDAY)
    return [
        DuplicatePair(
            older=clients[first],
            newer=clients[second],
            reasons=tuple(sorted(reasons_by_pair[(first, second)], key=order.index)),
        )
        for first, second in pairs
    ]


@transaction.atomic
def clients_distinct(*, first: Client, second: Client, by: StaffMember | None) -> bool:
    """Record that two look-alike records are two people; False if that was already said."""
    if first.pk == second.pk or first.clinic_id != second.clinic_id:
        raise ClinicError("Those are not two records of one clinic.", code="not_a_pair")
    low, high = sorted((first.pk, second.pk))
    _, created = DistinctClients.objects.get_or_create(
        first_id=low, second_id=high, defaults={"clinic_id": first.clinic_id, "noted_by": by}
    )
    return created


def _details_of(client: Client) -> dict:
    """A client's details as they are, to keep once the record is gone (JSON: dates as ISO text)."""
    details = {name: getattr(client, name) for name in (*MERGEABLE_DETAILS, "notes")}
    details["date_of_birth"] = client.date_of_birth.isoformat() if client.date_of_birth else None
    details["created_at"] = client.created_at.isoformat()
    details["unsubscribed_at"] = client.unsubscribed_at.isoformat() if client.unsubscribed_at else None
    details["accepts_aftercare_email"] = client.accepts_aftercare_email
    details["accepts_marketing_email"] = client.accepts_marketing_email
    return details


def _references_to_clients() -> list[tuple[type, str]]:
    """Every (model, field) that refers to a client by foreign key, hidden relations included."""
    return [
        (model, field.name)
        for model in apps.get_models()
        if model is not DistinctClients
        for field in model._meta.concrete_fields
        if field.many_to_one and field.related_model is Client
    ]


def _row_key(model: type, field: str) -> str:
    """How a merge names a kind of reference to a client it moved: "app_label.Model.field"."""
    return f"{model._meta.label}.{field}"


OUTBOX_ROWS = _row_key(OutboxMessage, "client_id")
# The merged record's accesses folded into the kept one's (`_move_rows`): [reader's id, what, at].
FOLDED_ACCESSES = "folded:clients.HealthDataAccess"


def _move_rows(merged: Client, kept: Client) -> tuple[dict[str, int], dict[str, list[int]]]:
    """Point every row that refers to `merged` at `kept`; return how many moved, by kind of row, and
    which rows moved, by reference (`_row_key`), for an undo to move back.

    Found through the model registry, so a model added later that refers to clients is moved too,
    in whichever layer it lives (this layer does not import them). The pairs said to be two people
    are redone rather than moved: a pair stays in id order, and one with the kept record goes.
    """
    moved, rows = {}, {}
    # Both records read by one person in one half hour: one access once they are one client's (and
    # the access log's unique constraint would refuse the second). Which were folded is kept, for an
    # undo to give the restored record its own again.
    folded = HealthDataAccess.objects.filter(
        Exists(
            HealthDataAccess.objects.filter(
                client=kept,
                staff_member=OuterRef("staff_member"),
                what=OuterRef("what"),
                period=OuterRef("period"),
            )
        ),
        client=merged,
    )
    if folded_said := [
        [staff_member_id, what, at.isoformat()]
        for staff_member_id, what, at in folded.values_list("staff_member_id", "what", "at")
    ]:
        rows[FOLDED_ACCESSES] = folded_said
        folded.delete()
    for model, field in _references_to_clients():
        ids = list(model._base_manager.filter(**{field: merged}).values_list("pk", flat=True))
        count = model._base_manager.filter(pk__in=ids).update(**{field: kept})
        if count:
            label = model._meta.verbose_name_plural
            moved[str(label)] = moved.get(str(label), 0) + count
            rows[_row_key(model, field)] = ids
    for pair in DistinctClients.objects.filter(Q(first=merged) | Q(second=merged)):
        other = pair.second_id if pair.first_id == merged.pk else pair.first_id
        if other != kept.pk:
            low, high = sorted((other, kept.pk))
            DistinctClients.objects.get_or_create(
                first_id=low,
                second_id=high,
                defaults={
                    "clinic_id": pair.clinic_id,
                    "noted_by_id": pair.noted_by_id,
                    "noted_at": pair.noted_at,
                },
            )
        pair.delete()
    # The outbox is the clinic layer's: it names clients by id, not by a foreign key.
    ids = list(
        OutboxMessage.objects.filter(clinic_id=kept.clinic_id, client_id=merged.pk).values_list(
            "pk", flat=True
        )
    )
    if messages := OutboxMessage.objects.filter(pk__in=ids).update(client_id=kept.pk):
        moved["emails"] = messages
        rows[OUTBOX_ROWS] = ids
    return moved, rows


# Checks that tell, from what a higher layer knows of two records (their visits), why they cannot be
# one yet: registered at start-up (`treatments.apps`), as the outbox's out-of-date checks are. Each
# returns '' when the records may be merged, else why not, in words.
MergeCheck = Callable[[Client, Client], str]
_merge_checks: list[MergeCheck] = []


def register_merge_check(check: MergeCheck) -> None:
    if check not in _merge_checks:
        _merge_checks.append(check)


# What a higher layer redoes once the rows have moved, in the merge's transaction: given the kept
# record and the merged one's old id (`treatments.aftercare`: rebooking invitations keyed by client).
AfterMerge = Callable[[Client, int], None]
_after_merge: list[AfterMerge] = []


def register_after_merge(hook: AfterMerge) -> None:
    if hook not in _after_merge:
        _after_merge.append(hook)


# What a higher layer redoes once an undone merge moved the rows back, in the undo's transaction: given
# the record restored and the one it had been merged into (`treatments`: rebooking invitations keyed by
# client; visits and records added since the merge to a course or a visit that moved back follow it).
AfterUndo = Callable[[Client, Client], None]
_after_undo: list[AfterUndo] = []


def register_after_undo(hook: AfterUndo) -> None:
    if hook not in _after_undo:
        _after_undo.append(hook)


@transaction.atomic
def client_merge(
    *, kept: Client, merged: Client, by: StaffMember | None, take_from_merged: frozenset[str] = frozenset()
) -> ClientMerge:
    """Make two records of one person one: `merged`'s visits, courses, forms, consents, treatment
    records, waitlist places and emails move to `kept`, and `merged` is deleted.

    `take_from_merged` names the details (of `MERGEABLE_DETAILS`) to take from `merged` rather than
    keep; a detail `kept` lacks is taken from `merged` anyway. Notes are joined. Mail preferences take
    the stricter of the two: a client who unsubscribed on either record stays unsubscribed, and their
    optional mail still to go is cancelled. Scheduled emails go to the merged record's final address.
    The merged record's details are kept on the returned `ClientMerge`. Both rows are locked first (in
    id order), so two staff merging the same pair, or a booking at the same moment, wait their turn.
    """
    unknown = set(take_from_merged) - set(MERGEABLE_DETAILS)
    if unknown:
        raise ValueError(f"Not a client detail: {', '.join(sorted(unknown))}")
    if kept.pk == merged.pk:
        raise ClinicError("A record cannot be merged into itself.", code="same_record")
    locked = {
        c.pk: c for c in Client.objects.select_for_update().filter(pk__in=[kept.pk, merged.pk]).order_by("pk")
    }
    if len(locked) < 2:
        raise ClinicError(
            "One of the two records is no longer there: it was merged or removed meanwhile. "
            "Open the client's page again.",
            code="record_gone",
        )
    kept, merged = locked[kept.pk], locked[merged.pk]
    if kept.clinic_id != merged.clinic_id:
        raise ClinicError("Those records belong to two clinics.", code="not_a_pair")
    for check in _merge_checks:
        if refusal := check(kept, merged):
            raise ClinicError(refusal, code="cannot_merge_yet")

    record = ClientMerge(
        clinic_id=kept.clinic_id,
        kept=kept,
        merged_client_id=merged.pk,
        merged_name=merged.full_name,
        merged_details=_details_of(merged),
        kept_details={"id": kept.pk, "before": _details_of(kept)},
        merged_by=by,
    )
    for name in MERGEABLE_DETAILS:
        wanted = name in take_from_merged or getattr(kept, name) in ("", None)
        if wanted and getattr(merged, name) not in ("", None):
            setattr(kept, name, getattr(merged, name))
    if merged.notes.strip():
        today = timezone.localdate(timezone=kept.clinic.zone)
        heading = f"From {merged.full_name}'s record (merged {today:%d %b %Y}):"
        kept.notes = "\n\n".join(
            part for part in (kept.notes.strip(), f"{heading}\n{merged.notes.strip()}") if part
        )
    unsubscribed = [at for at in (kept.unsubscribed_at, merged.unsubscribed_at) if at]
    kept.unsubscribed_at = min(unsubscribed) if unsubscribed else None
    kept.accepts_aftercare_email = kept.accepts_aftercare_email and merged.accepts_aftercare_email
    kept.accepts_marketing_email = kept.accepts_marketing_email and merged.accepts_marketing_email
    kept.created_at = min(kept.created_at, merged.created_at)  # a client of the clinic since then
    try:
        kept.full_clean()
    except ValidationError as invalid:
        raise ClinicError(" ".join(invalid.messages), code="invalid") from invalid

    # Saved first: the database lets signed consents and signed-off records change client only to
    # the record a merge says the old one became (clients 0013, treatments 0016).
    record.save()
    record.moved, record.moved_rows = _move_rows(merged, kept)
    merged.delete()  # nothing refers to it now; a reference left would refuse this (PROTECT)
    kept.save()
    record.kept_details["after"] = _details_of(kept)
    pending = _pending_messages(kept.pk)
    for hook in _after_merge:
        hook(kept, record.merged_client_id)
    _mail_follows(kept)
    record.cancelled_messages = sorted(pending - _pending_messages(kept.pk))
    record.save(update_fields=["moved", "moved_rows", "kept_details", "cancelled_messages"])
    return record


def _pending_messages(client_id: int) -> set[int]:
    return set(
        OutboxMessage.objects.filter(client_id=client_id, status=OutboxStatus.PENDING).values_list(
            "pk", flat=True
        )
    )


def _mail_follows(client: Client) -> None:
    """A client's scheduled emails go to their address and name as the record now has them, and their
    optional ones are cancelled if they unsubscribed."""
    outbox_readdress(
        client_id=client.pk,
        recipient_email=client.email,
        recipient_name=client.full_name,
        first_name=client.first_name,
    )
    if not client_accepts_non_essential_mail(client):
        outbox_cancel_non_essential(client_id=client.pk)


def client_merged_into(client_id) -> Client | None:
    """The record a merged one became (None if `client_id` was never merged, or the merge was undone)."""
    merge = (
        ClientMerge.objects.select_related("kept__clinic")
        .filter(merged_client_id=client_id, undone_at__isnull=True)
        .first()
    )
    return merge.kept if merge else None


# --- taking a merge back ------------------------------------------------------------------------


def merge_undo_refusal(merge: ClientMerge) -> str:
    """Why a merge cannot be undone, in words ('' when it can)."""
    if merge.kept.erased_at:
        return "The client's record was erased at their request: nothing of the merge is left to undo."
    if merge.undone_at:
        undone_on = timezone.localtime(merge.undone_at, merge.clinic.zone)
        return f"That merge was already undone, on {undone_on:%d %b %Y}."
    if not merge.kept_details:
        return (
            f"{merge.merged_name}'s record was merged before merges could be undone, so which rows were "
            "theirs was not kept. Move their visits by hand, and register them again."
        )
    if merge.kept_id != merge.kept_details["id"]:
        later = ClientMerge.objects.filter(
            merged_client_id=merge.kept_details["id"], undone_at__isnull=True
        ).first()
        if later is not None:
            return (
                f"The record {merge.merged_name}'s went into was itself merged later, into "
                f"{later.kept.full_name}'s: undo that merge first."
            )
    return ""


def _still_on_kept(merge: ClientMerge):
    """For each kind of row the merge moved: its label (as `held_said` names it), the rows of it that
    still refer to the kept record, and the column naming the client."""
    for key, ids in merge.moved_rows.items():
        if key == FOLDED_ACCESSES:  # not moved but folded: the undo writes them again
            continue
        if key == OUTBOX_ROWS:  # the outbox names clients by id, not by a foreign key
            yield "emails", OutboxMessage.objects.filter(pk__in=ids, client_id=merge.kept_id), "client_id"
        else:
            app_label_model, field = key.rsplit(".", 1)
            model = apps.get_model(app_label_model)
            column = f"{field}_id"
            rows = model._base_manager.filter(pk__in=ids, **{column: merge.kept_id})
            yield str(model._meta.verbose_name_plural), rows, column


def _by_label(counts) -> dict[str, int]:
    """{label: n} of (label, n) pairs, the same labels added up and none of 0 kept."""
    said: dict[str, int] = {}
    for label, n in counts:
        if n:
            said[label] = said.get(label, 0) + n
    return said


def rows_to_move_back(merge: ClientMerge) -> dict[str, int]:
    """How many of the rows a merge moved still refer to the kept record, by kind of row (one query a
    kind): what undoing it would move back, for the page that asks."""
    return _by_label((label, rows.count()) for label, rows, _ in _still_on_kept(merge))


@dataclass(frozen=True)
class MergeUndone:
    """What undoing a merge did: the record restored, what moved back to it, the kept record's details
    that stayed as staff changed them since, and the emails put back on their way."""

    restored: Client
    kept: Client
    moved_back: dict[str, int]
    details_kept_as_changed: tuple[str, ...]
    emails_back_on_their_way: int


def _client_from_details(client: Client, details: dict) -> None:
    for name in (*MERGEABLE_DETAILS, "notes", "accepts_aftercare_email", "accepts_marketing_email"):
        setattr(client, name, details[name])
    client.date_of_birth = (
        dt.date.fromisoformat(details["date_of_birth"]) if details["date_of_birth"] else None
    )
    client.created_at = dt.datetime.fromisoformat(details["created_at"])
    client.unsubscribed_at = (
        dt.datetime.fromisoformat(details["unsubscribed_at"]) if details["unsubscribed_at"] else None
    )


@transaction.atomic
def client_merge_undo(*, merge: ClientMerge, by: StaffMember | None) -> MergeUndone:
    """Take back a merge of two people taken for one: the merged record is restored with its id and
    details, and every row the merge moved (visits, courses, forms, consents, treatment records,
    waitlist places, emails) that still refers to the kept record moves back to it.

    What was added to the kept record since the merge stays there, but for what follows a row that
    moved back (a higher layer's hooks: a visit added to a course that moved back goes with it). The
    kept record's details go back to what they were before the merge, each unless staff changed it
    since; its notes lose the merged record's. The emails the merge cancelled go again if still ahead.
    The pair is noted as two people, so it is not offered as a duplicate again. The merge's row stays,
    marked undone, for the audit trail. Kept record and merge are locked first: two undoing at once, or
    a merge of the kept record meanwhile, wait their turn and are refused in words.
    """
    kept = Client.objects.select_for_update().filter(pk=merge.kept_id).first()
    merge = ClientMerge.objects.select_for_update().select_related("clinic").get(pk=merge.pk)
    if kept is None or kept.pk != merge.kept_id:
        raise ClinicError("The records changed meanwhile: open the client's page again.", code="record_gone")
    if refusal := merge_undo_refusal(merge):
        raise ClinicError(refusal, code="cannot_undo")
    if Client.objects.filter(pk=merge.merged_client_id).exists():
        raise ClinicError("A record with that id exists already: it cannot be restored.", code="cannot_undo")

    restored = Client(pk=merge.merged_client_id, clinic_id=merge.clinic_id)
    _client_from_details(restored, merge.merged_details)
    restored.save(force_insert=True)
    # Saved before the rows move: the database lets signed consents and signed-off records move back
    # only from the record an undone merge kept to the one it restores (clients 0015, treatments 0021).
    merge.undone_at, merge.undone_by = timezone.now(), by
    merge.save(update_fields=["undone_at", "undone_by"])

    moved_back = _by_label(
        (label, rows.update(**{column: restored.pk})) for label, rows, column in _still_on_kept(merge)
    )
    accesses_write(  # the reads the merge folded into the kept record's, each the restored one's again
        merge.clinic_id,
        [
            (restored.pk, staff_member_id, what, dt.datetime.fromisoformat(at))
            for staff_member_id, what, at in merge.moved_rows.get(FOLDED_ACCESSES, [])
        ],
    )

    # Each detail the merge set and nobody changed since goes back to what it was before the merge.
    before, after = merge.kept_details["before"], merge.kept_details.get("after", {})
    now_said = _details_of(kept)
    changed_since = tuple(
        name for name in MERGEABLE_DETAILS if name in after and now_said[name] != after[name]
    )
    for name, was in before.items():
        if name in after and now_said[name] == after[name]:
            now_said[name] = was
    _client_from_details(kept, now_said)
    kept.save()

    DistinctClients.objects.get_or_create(
        first_id=min(kept.pk, restored.pk),
        second_id=max(kept.pk, restored.pk),
        defaults={"clinic_id": merge.clinic_id, "noted_by": by},
    )
    back_on_their_way = 0
    for client in (restored, kept):
        cancelled = OutboxMessage.objects.filter(
            pk__in=merge.cancelled_messages,
            client_id=client.pk,
            status=OutboxStatus.CANCELLED,
            due_at__gt=timezone.now(),
        )
        if not client_accepts_non_essential_mail(client):
            cancelled = cancelled.filter(is_essential=True)
        if client.email:
            back_on_their_way += cancelled.update(status=OutboxStatus.PENDING, last_error="")
    for hook in _after_undo:
        hook(restored, kept)
    _mail_follows(restored)
    _mail_follows(kept)
    return MergeUndone(
        restored=restored,
        kept=kept,
        moved_back=moved_back,
        details_kept_as_changed=tuple(
            str(Client._meta.get_field(name).verbose_name) for name in changed_since
        ),
        emails_back_on_their_way=back_on_their_way,
    )


# How a merge page and its note name the rows a record holds (by the models' plural names);
# the conditions an intake noted go with their intake, and are not counted apart.
HELD_SAID = {
    "appointments": ("visit", "visits"),
    "courses": ("course", "courses"),
    "intake responses": ("intake form", "intake forms"),
    "signed consents": ("signed consent", "signed consents"),
    "consent withdrawals": ("consent withdrawal", "consent withdrawals"),
    "photo consents": ("photo consent", "photo consents"),
    "treatment sessions": ("treatment record", "treatment records"),
    "sessions had before": ("session had before", "sessions had before"),
    "waitlist entries": ("waitlist place", "waitlist places"),
    "client merges": ("earlier merge", "earlier merges"),
    "emails": ("email", "emails"),
}


def held_said(held: dict[str, int]) -> str:
    """'3 visits, 1 intake form and 4 emails' for a record's (or a merge's) rows; 'nothing' for none."""
    parts = [
        f"{held[label]} {one if held[label] == 1 else many}"
        for label, (one, many) in HELD_SAID.items()
        if held.get(label)
    ]
    return listed(parts) or "nothing"


def rows_held(clients: list[Client]) -> dict[int, dict[str, int]]:
    """How many rows of each kind refer to each client: {client id: {plural name: count}}.

    One grouped query per kind of row (about ten, whatever the records hold): for the merge page.
    """
    ids = [c.pk for c in clients]
    held: dict[int, dict[str, int]] = {client_id: {} for client_id in ids}
    for model, field in _references_to_clients():
        label = str(model._meta.verbose_name_plural)
        counts = (
            model._base_manager.filter(**{f"{field}__in": ids})
            .values_list(field)
            .annotate(n=Count("pk"))
            .order_by()
        )
        for client_id, n in counts:
            held[client_id][label] = held[client_id].get(label, 0) + n
    emails = (
        OutboxMessage.objects.filter(client_id__in=ids)
        .values_list("client_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for client_id, n in emails:
        held[client_id]["emails"] = n
    return held
