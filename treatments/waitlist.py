"""The waitlist: clients waiting for a time of a service, told when one comes free.

A front-desk person puts a client on it when nothing suits them ("any Thursday afternoon in the next
two weeks, with Olivia"). The entry stays open until the client is booked for that service on one of
its days, whichever page books it (`waitlist_close_for`, in the booking's transaction), or is taken
off. When a visit is cancelled or moved, the time it held is free: in the same transaction, each
waiting client for whom a time that fits their days and hours came free is written an email with a
signed link to their own waitlist page, where they book one of the times free at that moment (the
first to book has it; the booking's own checks keep it to one). Staff see the same free times on the
waitlist page and book them from there.
"""

import datetime as dt
from collections import defaultdict

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from clients.links import LinkInvalid, read_signed_token, signed_token
from clients.models import Client
from clients.services import refuse_if_erased
from clinic.errors import ClinicError
from clinic.models import OutboxMessage, OutboxStatus, StaffMember
from clinic.outbox import outbox_message, outbox_write
from clinic.permissions import acting_user
from treatments.availability import Slot, available_slots, qualified_practitioners
from treatments.contraindications import absolute, contraindication_findings
from treatments.models import (
    INACTIVE_STATUSES,
    Appointment,
    AppointmentStatus,
    Service,
    WaitlistEnded,
    WaitlistEntry,
)

OFFER = "waitlist_offer"
JOINED = "waitlist_joined"
LINK_PURPOSE = "treatments.waitlist"
# A wait longer than this is better booked ahead now and moved later.
MAX_WAITING_DAYS = 92
# An offer names this many of the times that came free; the page lists every one.
TIMES_IN_AN_OFFER = 5
# What a page or a message about an entry reads of it: load these with it (`select_related`).
ENTRY_RELATED = ("clinic", "client", "service__clinic", "practitioner", "visit_to_move")


def _days_said(entry: WaitlistEntry) -> str:
    if entry.first_day == entry.last_day:
        return f"{entry.first_day:%A} {entry.first_day.day} {entry.first_day:%B}"
    return (
        f"{entry.first_day:%a} {entry.first_day.day} {entry.first_day:%b} to "
        f"{entry.last_day:%a} {entry.last_day.day} {entry.last_day:%b}"
    )


def hours_said(entry: WaitlistEntry) -> str:
    """The hours a visit may start at, as the desk and the client read them: "starting 14:00–17:00"."""
    if entry.from_time and entry.from_time == entry.until_time:
        return f"starting at {entry.from_time:%H:%M}"
    if entry.from_time and entry.until_time:
        return f"starting {entry.from_time:%H:%M}–{entry.until_time:%H:%M}"
    if entry.from_time:
        return f"starting at {entry.from_time:%H:%M} or later"
    if entry.until_time:
        return f"starting by {entry.until_time:%H:%M}"
    return "at any time of day"


def waiting_for_said(entry: WaitlistEntry) -> str:
    """One line: "Microneedling, Thu 3 Dec to Fri 11 Dec, starting 14:00–17:00, with Olivia", and for
    a visit to move, ", instead of Mon 14 Dec 10:00" (load ENTRY_RELATED)."""
    who = f", with {entry.practitioner.display_name}" if entry.practitioner_id else ""
    instead = ""
    if entry.visit_to_move_id:
        local = timezone.localtime(entry.visit_to_move.start, entry.clinic.zone)
        instead = f", instead of {local:%a} {local.day} {local:%b %H:%M}"
    return f"{entry.service.name}, {_days_said(entry)}, {hours_said(entry)}{who}{instead}"


@transaction.atomic
def waitlist_add(
    *,
    client: Client,
    service: Service,
    first_day: dt.date,
    last_day: dt.date,
    practitioner: StaffMember | None = None,
    from_time: dt.time | None = None,
    until_time: dt.time | None = None,
    note: str = "",
    visit_to_move: Appointment | None = None,
    actor=None,
) -> WaitlistEntry:
    """Put a client on the waitlist for a service, or raise ClinicError saying why not.

    Refused: days in the past or out of order, a wait longer than MAX_WAITING_DAYS, hours out of
    order, a practitioner not qualified for the service, an absolute contraindication (booking would
    refuse every time offered), or an open entry of the client's for the service on any of those days
    (the client's row is locked, so two clicks make one entry). With `visit_to_move` (the client's
    visit of the service, still ahead), a time that suits them moves that visit.

    A client with an email address is written, in the same transaction, that they are on it, with the
    link to their place (to book a time free then, or to leave).
    """
    clinic = service.clinic
    if client.clinic_id != clinic.pk or (practitioner is not None and practitioner.clinic_id != clinic.pk):
        raise ClinicError(
            "That client, service or practitioner belongs to another clinic.", code="other_clinic"
        )
    today = timezone.localdate(timezone=clinic.zone)
    if first_day < today:
        raise ClinicError("The first day has passed. Choose today or a later day.", code="in_the_past")
    if last_day < first_day:
        raise ClinicError("The last day comes before the first. Check the dates.", code="days_out_of_order")
    if (last_day - first_day).days >= MAX_WAITING_DAYS:
        raise ClinicError(
            f"That is more than {MAX_WAITING_DAYS} days of waiting. Book a visit ahead instead, "
            "and move it if a time comes free.",
            code="too_long",
        )
    if visit_to_move is not None:  # as it stands now, held until this commits
        visit_to_move = Appointment.objects.select_for_update().get(pk=visit_to_move.pk)
        _check_visit_to_move(visit_to_move, client=client, service=service)
    if from_time and until_time and until_time < from_time:
        raise ClinicError(
            "“Starting by” comes before “starting from”. Check the hours.", code="hours_out_of_order"
        )
    if practitioner is not None and not qualified_practitioners(service, practitioner.pk):
        raise ClinicError(
            f"{practitioner.display_name} is not qualified for {service.name}, or not working. "
            "Choose someone else, or anyone qualified.",
            code="not_qualified",
        )
    blocking = absolute(contraindication_findings(client=client, service=service, on=first_day))
    if blocking:
        raise ClinicError(
            f"{client.full_name} cannot have {service.name}: "
            + "; ".join(f.describe() for f in blocking)
            + ". Booking would refuse every time offered.",
            code="contraindicated",
        )
    refuse_if_erased(client)  # and its row held, so two clicks make one entry
    already = (
        WaitlistEntry.objects.filter(
            client=client, service=service, ended_at=None, first_day__lte=last_day, last_day__gte=first_day
        )
        .select_related(*ENTRY_RELATED)
        .first()
    )
    if already is not None:
        raise ClinicError(
            f"{client.full_name} is already waiting for {waiting_for_said(already)}. "
            "Take that off first to change it.",
            code="already_waiting",
        )
    entry = WaitlistEntry.objects.create(
        clinic=clinic,
        client=client,
        service=service,
        practitioner=practitioner,
        first_day=first_day,
        last_day=last_day,
        from_time=from_time,
        until_time=until_time,
        note=note.strip()[:300],
        visit_to_move=visit_to_move,
        added_by=acting_user(actor),
    )
    if client.email:
        outbox_write(
            [
                outbox_message(
                    clinic=clinic,
                    recipient_email=client.email,
                    recipient_name=client.full_name,
                    template_key=JOINED,
                    dedupe_key=f"{_topic(entry.pk)}:joined",
                    context={
                        "client_first_name": client.first_name,
                        "service_name": service.name,
                        "waiting_for": waiting_for_said(entry),
                        "zone_name": clinic.time_zone,
                        "waitlist_url": waitlist_url(entry),
                        "moving_from": _local_said(visit_to_move.start, clinic.zone) if visit_to_move else "",
                    },
                    topic=_topic(entry.pk),
                    client_id=client.pk,
                )
            ]
        )
    return entry


def sooner_days(visit: Appointment) -> tuple[dt.date, dt.date] | None:
    """The days a client may wait on for a time sooner than their visit: today to the day before it.

    None when there are none: the visit is not a booked one after today.
    """
    today = timezone.localdate(timezone=visit.clinic.zone)
    visit_day = timezone.localtime(visit.start, visit.clinic.zone).date()
    if visit.status != AppointmentStatus.BOOKED or visit_day <= today:
        return None
    return today, visit_day - dt.timedelta(days=1)


def _check_visit_to_move(visit: Appointment, *, client: Client, service: Service) -> None:
    if visit.client_id != client.pk or visit.service_id != service.pk:
        raise ClinicError("That visit is another client's, or of another service.", code="other_visit")
    if visit.status != AppointmentStatus.BOOKED or visit.start <= timezone.now():
        raise ClinicError(
            "Only a booked visit still ahead can wait for another time. Book a new one instead.",
            code="not_movable",
        )


@transaction.atomic
def waitlist_end(entry: WaitlistEntry, *, because: str, actor=None) -> WaitlistEntry:
    """Take an entry off the waitlist (the clinic did, or the client left); refused once it has ended.

    Offers still to be sent for it are cancelled with it.
    """
    current = WaitlistEntry.objects.select_for_update().get(pk=entry.pk)
    if current.ended_at is not None:
        raise ClinicError(
            f"This is no longer on the waitlist ({current.get_ended_because_display().lower()}).",
            code="already_ended",
        )
    current.ended_at, current.ended_because, current.ended_by = timezone.now(), because, acting_user(actor)
    current.save(update_fields=["ended_at", "ended_because", "ended_by"])
    _cancel_what_is_to_go([current.pk], "Taken off the waitlist.")
    return current


def _cancel_what_is_to_go(entry_ids, why: str) -> None:
    """The entries ended: their messages not sent yet are cancelled, saying why."""
    OutboxMessage.objects.filter(
        topic__in=[_topic(pk) for pk in entry_ids], status=OutboxStatus.PENDING
    ).update(status=OutboxStatus.CANCELLED, last_error=why)


def waitlist_close_for(appointment: Appointment) -> int:
    """The client is booked: end their open entries for the service whose days hold the visit's.

    Call in the booking's (or the move's) transaction; one statement. Returns how many ended.
    """
    day = timezone.localtime(appointment.start, appointment.clinic.zone).date()
    return WaitlistEntry.objects.filter(
        client_id=appointment.client_id,
        service_id=appointment.service_id,
        ended_at=None,
        first_day__lte=day,
        last_day__gte=day,
    ).update(ended_at=timezone.now(), ended_because=WaitlistEnded.BOOKED, appointment=appointment)


def waitlist_visit_cancelled(appointment: Appointment) -> None:
    """The visit is cancelled (call in the cancellation's transaction, after its write).

    The entries waiting for a time to move it to wait for nothing: they end, with their messages still
    to go. The time it held is offered to the others waiting (`waitlist_offer_freed`).
    """
    ending = list(
        WaitlistEntry.objects.filter(visit_to_move_id=appointment.pk, ended_at=None).values_list(
            "pk", flat=True
        )
    )
    if ending:
        WaitlistEntry.objects.filter(pk__in=ending).update(
            ended_at=timezone.now(), ended_because=WaitlistEnded.VISIT_CANCELLED
        )
        _cancel_what_is_to_go(ending, "The visit to move was cancelled.")
    waitlist_offer_freed(
        appointment, blocked_start=appointment.blocked_start, blocked_end=appointment.blocked_end
    )


def _topic(entry_id: int) -> str:
    return f"waitlist:{entry_id}"


def open_entries(clinic):
    """The clinic's entries still waiting and not past their last day."""
    today = timezone.localdate(timezone=clinic.zone)
    return WaitlistEntry.objects.filter(clinic=clinic, ended_at=None, last_day__gte=today)


def free_times_for(
    entries: list[WaitlistEntry], *, days: tuple[dt.date, dt.date] | None = None
) -> dict[int, list[Slot]]:
    """The free starts that fit each entry (its days, hours and practitioner), by entry id.

    One availability computation per service and practitioner asked for, over the days of all their
    entries (or only `days`, first and last), and one query for the clients' own visits (a time that
    overlaps one of them would be refused): the count does not grow with the number of entries.
    Entries must come with their service (and its clinic) loaded.
    """
    if not entries:
        return {}
    today = timezone.localdate(timezone=entries[0].service.clinic.zone)
    groups: dict[tuple[int, int | None], list[WaitlistEntry]] = defaultdict(list)
    for entry in entries:
        groups[entry.service_id, entry.practitioner_id].append(entry)
    first = max(min(e.first_day for e in entries), today, days[0] if days else today)
    last = min(max(e.last_day for e in entries), days[1] if days else dt.date.max)
    if last < first:
        return {entry.pk: [] for entry in entries}
    zone = entries[0].service.clinic.zone
    margin = dt.timedelta(days=1)
    own_visits: dict[int, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
    for client_id, start, end in (
        Appointment.objects.filter(
            client_id__in={e.client_id for e in entries},
            start__lt=dt.datetime.combine(last + margin, dt.time.min, tzinfo=zone),
            end__gt=dt.datetime.combine(first - margin, dt.time.min, tzinfo=zone),
        )
        .exclude(status__in=INACTIVE_STATUSES)
        .exclude(pk__in=[e.visit_to_move_id for e in entries if e.visit_to_move_id])
        .values_list("client_id", "start", "end")
    ):
        own_visits[client_id].append((start, end))
    found: dict[int, list[Slot]] = {}
    for (_, practitioner_id), waiting in groups.items():
        start_date = max(first, min(e.first_day for e in waiting))
        end_date = min(last, max(e.last_day for e in waiting))
        slots = (
            available_slots(
                service=waiting[0].service,
                start_date=start_date,
                end_date=end_date,
                practitioner_id=practitioner_id,
            )
            if start_date <= end_date
            else []
        )
        for entry in waiting:
            visits = own_visits.get(entry.client_id, [])
            found[entry.pk] = [
                slot
                for slot in slots
                if entry.fits(timezone.localtime(slot.start, zone))
                and not any(start < slot.end and end > slot.start for start, end in visits)
            ]
    return found


def waitlist_token(entry: WaitlistEntry) -> str:
    """A token naming the entry, good until the day after its last day (then it waits for nothing)."""
    zone = entry.clinic.zone
    until = dt.datetime.combine(entry.last_day + dt.timedelta(days=2), dt.time.min, tzinfo=zone)
    return signed_token({"w": entry.pk}, purpose=LINK_PURPOSE, valid_for=until - timezone.now())


def waitlist_url(entry: WaitlistEntry) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("public-waitlist", args=[waitlist_token(entry)])


def entry_from_token(token: str) -> WaitlistEntry:
    """The entry a link names, or raise LinkInvalid."""
    payload = read_signed_token(token, purpose=LINK_PURPOSE)
    entry = (
        WaitlistEntry.objects.select_related(*ENTRY_RELATED, "appointment")
        .filter(pk=payload.get("w"))
        .first()
    )
    if entry is None or entry.client.erased_at:
        raise LinkInvalid("This waitlist place no longer exists.")
    return entry


def _local_said(instant: dt.datetime, zone) -> str:
    local = timezone.localtime(instant, zone)
    return f"{local:%A} {local.day} {local:%B at %H:%M}"


def offer_context(entry: WaitlistEntry, slots: list[Slot], names: dict[int, str]) -> dict:
    """What an offer says: the first few free times, each with whom, in the clinic's local time."""
    zone = entry.clinic.zone
    times = []
    for slot in slots:
        said = f"{_local_said(slot.start, zone)} with {names.get(slot.practitioner_id, '')}".strip()
        if said not in times:
            times.append(said)
    return {
        "client_first_name": entry.client.first_name,
        "service_name": entry.service.name,
        "waiting_for": waiting_for_said(entry),
        "times": times[:TIMES_IN_AN_OFFER],
        "more_times": max(0, len(times) - TIMES_IN_AN_OFFER),
        "zone_name": entry.clinic.time_zone,
        "zone_abbreviation": timezone.localtime(slots[0].start, zone).tzname() if slots else "",
        "waitlist_url": waitlist_url(entry),
        "moving_from": _local_said(entry.visit_to_move.start, zone) if entry.visit_to_move_id else "",
    }


def staff_names(clinic) -> dict[int, str]:
    """The clinic's staff by id: who each free time is with (one query)."""
    return dict(StaffMember.objects.filter(clinic=clinic).values_list("id", "display_name"))


def waitlist_offer_freed(
    appointment: Appointment, *, blocked_start: dt.datetime, blocked_end: dt.datetime
) -> int:
    """A visit no longer holds [blocked_start, blocked_end): offer what came free (see below).

    Call in the transaction of the cancellation or move, after its write. Its client is not offered
    the time they gave up. Keyed to this change of this visit (its SEQUENCE).
    """
    return waitlist_offer_free_time(
        appointment.clinic,
        start=blocked_start,
        end=blocked_end,
        because=_changed(appointment),
        not_to_client_id=appointment.client_id,
    )


def _changed(appointment: Appointment) -> str:
    """What an offer is keyed to when a visit's change freed the time: this change of this visit."""
    return f"visit:{appointment.pk}:{appointment.sequence}"


def _offer_key(entry_id: int, because: str) -> str:
    return f"{_topic(entry_id)}:freed:{because}"


def waitlist_offer_free_time(
    clinic, *, start: dt.datetime, end: dt.datetime, because: str, not_to_client_id: int | None = None
) -> int:
    """Time in [start, end) came free (a visit cancelled or moved, time off taken back): tell each
    waiting client for whom a time that suits them came free.

    Call in the transaction of the change, after its write. For each open entry whose days hold the
    freed time, the free starts that fit it and whose held time overlaps the freed time are what came
    free; a client with an email address and such a start is written one offer, keyed to `because`
    (written once, however the change is retried), unless an offer to them is still to go (it lists
    the times free when it goes, this one with them). A client with two places for the same wish (two
    records of them merged) is written once. One query when nobody waits on those days.
    Returns how many were written.
    """
    zone = clinic.zone
    first_day = timezone.localtime(start, zone).date()
    last_day = timezone.localtime(end, zone).date()
    waiting = _not_offered_yet(
        open_entries(clinic)
        .filter(first_day__lte=last_day, last_day__gte=first_day)
        .exclude(client_id=not_to_client_id)
    )
    if not waiting:
        return 0
    found = free_times_for(waiting, days=(first_day, last_day))
    came_free = {}
    for entry in waiting:
        service = entry.service
        before = dt.timedelta(minutes=service.buffer_before_minutes)
        after = dt.timedelta(minutes=service.buffer_after_minutes)
        came_free[entry.pk] = [
            s for s in found.get(entry.pk, []) if s.start - before < end and s.end + after > start
        ]
    return _offer(clinic, waiting, came_free, because)


def _not_offered_yet(entries) -> list[WaitlistEntry]:
    """The entries (open, of clients with an email address) with no offer still to go: one that is
    lists the times free when it goes, so it tells of any that come free meanwhile. Two queries."""
    waiting = list(entries.exclude(client__email="").select_related(*ENTRY_RELATED))
    told = set(
        OutboxMessage.objects.filter(
            topic__in=[_topic(e.pk) for e in waiting], template_key=OFFER, status=OutboxStatus.PENDING
        ).values_list("topic", flat=True)
    )
    # One wish is one offer: a client waiting twice for the same (two records of them merged, with a
    # place each) is told once, of the times that suit either place, on the first place's topic.
    told_wishes = {wish(e) for e in waiting if _topic(e.pk) in told}
    return [e for e in waiting if wish(e) not in told_wishes]


def waitlist_free_times_now(clinic) -> dict[int, set[tuple[dt.datetime, int]]]:
    """The free times (start, practitioner) that suit each waiting client now, by entry: taken before
    a change to a practitioner's hours or qualifications, for `waitlist_offer_came_free` after it."""
    found = free_times_for(_not_offered_yet(open_entries(clinic)))
    return {pk: {(s.start, s.practitioner_id) for s in slots} for pk, slots in found.items()}


def waitlist_offer_came_free(clinic, before: dict[int, set[tuple[dt.datetime, int]]], *, because: str) -> int:
    """A practitioner's hours or qualifications changed (a new rota, a Saturday added, a new
    treatment learnt): offer each waiting client the free times that suit them now and did not
    `before` (`waitlist_free_times_now`), keyed to `because`. Call in the change's transaction, after
    its write. Nothing for a change that opened no time (times it closed are not offers)."""
    waiting = _not_offered_yet(open_entries(clinic))
    if not waiting:
        return 0
    found = free_times_for(waiting)
    came_free = {
        entry.pk: [
            s for s in found.get(entry.pk, []) if (s.start, s.practitioner_id) not in before.get(entry.pk, ())
        ]
        for entry in waiting
    }
    return _offer(clinic, waiting, came_free, because)


def _offer(clinic, waiting: list[WaitlistEntry], came_free: dict[int, list[Slot]], because: str) -> int:
    """Write one offer per wish whose places have times that came free, keyed to `because`."""
    names = staff_names(clinic)
    wishes: dict[tuple, tuple[WaitlistEntry, set]] = {}
    for entry in sorted(waiting, key=lambda e: e.pk):
        if came_free.get(entry.pk):
            wishes.setdefault(wish(entry), (entry, set()))[1].update(came_free[entry.pk])
    offers = []
    for entry, times in wishes.values():
        came_free = sorted(times, key=lambda s: (s.start, s.practitioner_id))
        offers.append(
            outbox_message(
                clinic=clinic,
                recipient_email=entry.client.email,
                recipient_name=entry.client.full_name,
                template_key=OFFER,
                dedupe_key=_offer_key(entry.pk, because),
                context=offer_context(entry, came_free, names),
                topic=_topic(entry.pk),
                client_id=entry.client_id,
            )
        )
    outbox_write(offers)
    return len(offers)


def wish(entry: WaitlistEntry) -> tuple:
    """What a place on the waitlist asks for: this client, this service, a new visit or moving one."""
    return (entry.client_id, entry.service_id, entry.visit_to_move_id)


def waitlist_told_of(appointment: Appointment) -> list[str]:
    """The clients on the waitlist written an offer by the visit's latest change (cancelled or moved).

    For the desk's "Cancelled." message; two queries (the clinic's open entries, then their offers by
    dedupe key, which is unique).
    """
    because = _changed(appointment)
    keys = [
        _offer_key(pk, because)
        for pk in WaitlistEntry.objects.filter(clinic_id=appointment.clinic_id, ended_at=None).values_list(
            "pk", flat=True
        )
    ]
    return sorted(
        OutboxMessage.objects.filter(dedupe_key__in=keys, template_key=OFFER).values_list(
            "recipient_name", flat=True
        )
    )


def waitlist_offer_extra_hours(extra) -> int:
    """Extra hours recorded (`clinic.models.ExtraHours`): offer the time, keyed to the hours as they are
    (changed in the admin, they are offered again)."""
    return waitlist_offer_free_time(
        extra.staff_member.clinic,
        start=extra.start,
        end=extra.end,
        because=f"extra-hours:{extra.pk}:{extra.start:%Y%m%d%H%M}-{extra.end:%Y%m%d%H%M}",
    )


def _entry_id(topic: str) -> int | None:
    prefix, _, rest = topic.partition(":")
    return int(rest) if prefix == "waitlist" and rest.isdigit() else None


# What the check found free for an offer, kept on the row object for the refresh that follows it.
FOUND_FREE = "_waitlist_free_found"


def out_of_date_waitlist_messages(
    messages: list[OutboxMessage], now: dt.datetime, delivering: bool = False
) -> dict[int, str]:
    """Say which waitlist messages would be untrue if sent now: the client was booked or left, the days
    passed, or (an offer) every time that fits was taken again. Registered with
    `register_out_of_date_check`.

    One query for the entries, then `free_times_for` over the open ones (none without offers).
    """
    about = {m.pk: _entry_id(m.topic) for m in messages if m.template_key in (OFFER, JOINED)}
    about = {pk: entry_id for pk, entry_id in about.items() if entry_id is not None}
    if not about:
        return {}
    entries = WaitlistEntry.objects.select_related(*ENTRY_RELATED).in_bulk(set(about.values()))
    still_waiting = [
        e
        for e in entries.values()
        if e.ended_at is None and e.last_day >= timezone.localdate(now, e.clinic.zone)
    ]
    by_clinic: dict[int, list[WaitlistEntry]] = defaultdict(list)
    for entry in still_waiting:
        by_clinic[entry.clinic_id].append(entry)
    free = {}
    for waiting in by_clinic.values():
        free.update(free_times_for(waiting))
    kinds = {m.pk: m.template_key for m in messages}
    reasons = {}
    for message in messages:
        if message.pk in about and about[message.pk] in free:  # for the refresh, right after this check
            setattr(message, FOUND_FREE, (entries[about[message.pk]], free[about[message.pk]]))
    for pk, entry_id in about.items():
        entry = entries.get(entry_id)
        if entry is None:
            reasons[pk] = "the waitlist place is gone"
        elif entry.ended_because == WaitlistEnded.BOOKED:
            reasons[pk] = "the client was booked"
        elif entry.ended_at is not None:
            reasons[pk] = "the client is off the waitlist"
        elif entry_id not in free:
            reasons[pk] = "the days they waited for have passed"
        elif not free[entry_id] and kinds[pk] == OFFER:
            reasons[pk] = "the times that came free were taken again"
    return reasons


def waitlist_offers_as_they_stand(messages: list[OutboxMessage]) -> dict[int, dict]:
    """The times an offer about to go lists, as free now (some may have gone since it was written).

    Registered with `register_context_refresh`; reads what the out-of-date check just found.
    """
    refreshed = {}
    names: dict[int, dict[int, str]] = {}  # by clinic: one query a clinic, not one an offer
    for message in messages:
        found = getattr(message, FOUND_FREE, None)
        if message.template_key != OFFER or not found or not found[1]:
            continue
        entry, slots = found
        if entry.clinic_id not in names:
            names[entry.clinic_id] = staff_names(entry.clinic)
        context = offer_context(entry, slots, names[entry.clinic_id])
        refreshed[message.pk] = {key: context[key] for key in ("times", "more_times", "zone_abbreviation")}
    return refreshed
