"""Aftercare: the protocol's plan of messages after a session, chosen by what was recorded.

Written to the outbox in the sign-off transaction, one row per due time with its dedupe key (the
steps of a visit's several treatments due together are one email); nothing waits in the broker.
Aftercare is non-essential mail: it carries one-click unsubscribe, and nothing is written for a
client who unsubscribed.
"""

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.db.models import Value
from django.db.models.functions import Replace
from django.urls import reverse
from django.utils import timezone

from clients.links import absolute_url, unsubscribe_url
from clients.models import Client
from clients.services import client_accepts_non_essential_mail
from clinic.models import OutboxMessage, OutboxStatus
from clinic.outbox import outbox_message, outbox_write
from treatments.models import (
    COURSE_PROGRESS_STATUSES,
    AftercareCondition,
    AftercareStep,
    Protocol,
    TreatmentSession,
)

# The plan a new protocol starts with, per modality: (day, template key, condition, rebooking?).
# Microneedling deeper than the protocol's threshold (1.0 mm by default) gets the longer sequence.
DEFAULT_PLANS = {
    "microneedling": [
        (0, "aftercare_microneedling_day0", AftercareCondition.ALWAYS, False),
        (1, "aftercare_microneedling_day1", AftercareCondition.ALWAYS, False),
        (3, "aftercare_microneedling_day3", AftercareCondition.ALWAYS, False),
        (5, "aftercare_microneedling_deep_day5", AftercareCondition.DEEP, False),
        (7, "aftercare_microneedling_deep_day7", AftercareCondition.DEEP, False),
        (28, "aftercare_rebook", AftercareCondition.ALWAYS, True),
    ],
    "microcurrent": [
        (0, "aftercare_microcurrent_day0", AftercareCondition.ALWAYS, False),
    ],
    "mesotherapy": [
        (0, "aftercare_mesotherapy_day0", AftercareCondition.ALWAYS, False),
        (3, "aftercare_mesotherapy_day3", AftercareCondition.ALWAYS, False),
        (14, "aftercare_rebook", AftercareCondition.ALWAYS, True),
    ],
}


def aftercare_install_default_plan(protocol: Protocol) -> int:
    """Give a protocol its modality's default plan if it has no steps yet; return steps added."""
    if protocol.aftercare_steps.exists():
        return 0
    steps = [
        AftercareStep(
            protocol=protocol,
            offset_days=day,
            template_key=key,
            condition=condition,
            is_rebooking_invitation=is_rebook,
        )
        for day, key, condition, is_rebook in DEFAULT_PLANS.get(protocol.modality, [])
    ]
    AftercareStep.objects.bulk_create(steps)
    return len(steps)


def _rebook_prefix(client_id: int) -> str:
    """What the topics of a client's rebooking invitations begin with."""
    return f"rebook:client:{client_id}:"


def rebook_topic(client_id: int, protocol_id: int) -> str:
    """Topic of a client's pending rebooking invitation for a protocol (a new booking cancels it)."""
    return f"{_rebook_prefix(client_id)}protocol:{protocol_id}"


def _rebook_topics_to(messages, *, from_client_id: int, to_client_id: int) -> None:
    """Key these invitations (among `messages`) by another client: booking again then cancels them."""
    old, new = _rebook_prefix(from_client_id), _rebook_prefix(to_client_id)
    messages.filter(topic__startswith=old).update(topic=Replace("topic", Value(old), Value(new)))


def rebooking_after_merge(kept: Client, merged_client_id: int) -> None:
    """Two records of a client made one (`clients.merging`): the merged record's rebooking invitations
    become the kept one's, so that booking again cancels them. Of two pending for one protocol the
    later goes (it follows the later session); none goes for a protocol the client is booked ahead for."""
    _rebook_topics_to(OutboxMessage.objects.all(), from_client_id=merged_client_id, to_client_id=kept.pk)
    _rebooking_invitations_settle(kept)


def rebooking_after_undo(restored: Client, kept: Client) -> None:
    """A merge undone (`clients.merging.client_merge_undo`): the invitations that moved back to the
    restored record are keyed by it again, and each record keeps one a protocol, none where booked."""
    _rebook_topics_to(
        OutboxMessage.objects.filter(client_id=restored.pk), from_client_id=kept.pk, to_client_id=restored.pk
    )
    _rebooking_invitations_settle(restored)
    _rebooking_invitations_settle(kept)


def _rebooking_invitations_settle(client: Client) -> None:
    """Of a client's pending rebooking invitations, one a protocol goes (the one following the later
    session), and none for a protocol they are booked ahead for."""
    pending = OutboxMessage.objects.filter(
        topic__startswith=_rebook_prefix(client.pk), status=OutboxStatus.PENDING
    ).order_by("topic", "-due_at", "-id")
    booked_ahead = {
        rebook_topic(client.pk, protocol_id)
        for protocol_id in Protocol.objects.filter(
            services__appointments__client=client,
            services__appointments__status__in=COURSE_PROGRESS_STATUSES["upcoming"],
            services__appointments__start__gt=timezone.now(),
        ).values_list("pk", flat=True)
    }
    kept_one, cancelled = set(), defaultdict(list)
    for message in pending:
        if message.topic in booked_ahead:
            cancelled["The client booked again."].append(message.pk)
        elif message.topic in kept_one:
            cancelled["A later invitation, of the client's other record, goes instead."].append(message.pk)
        else:
            kept_one.add(message.topic)
    for why, pks in cancelled.items():
        OutboxMessage.objects.filter(pk__in=pks).update(status=OutboxStatus.CANCELLED, last_error=why)


def session_protocols(session: TreatmentSession) -> list[Protocol]:
    """Return the protocols the session followed: its service's, else the recorded modalities'."""
    if session.appointment_id:
        return list(session.appointment.service.protocols.all())
    recorded = {
        modality
        for modality, records in (
            ("microneedling", session.microneedling),
            ("microcurrent", session.microcurrent),
            ("mesotherapy", session.mesotherapy),
        )
        if records.exists()
    }
    return list(Protocol.objects.filter(clinic=session.clinic, modality__in=recorded, is_active=True))


def deepest_needle_mm(session: TreatmentSession) -> Decimal | None:
    depths = [record.depth_mm for record in session.microneedling.all()]
    return max(depths) if depths else None


def step_applies(step: AftercareStep, *, deepest: Decimal | None) -> bool:
    """Say whether a step is part of this session's plan."""
    is_deep = deepest is not None and deepest > step.protocol.aftercare_deep_threshold_mm
    if step.condition == AftercareCondition.DEEP:
        return is_deep
    if step.condition == AftercareCondition.STANDARD:
        return not is_deep
    return True


def step_day(step: AftercareStep, *, treated_at: dt.datetime, zone) -> dt.date:
    """The local day a step is for: day N after the treatment's own day (the rebooking invitation after
    the protocol's interval)."""
    days = step.protocol.min_interval_days if step.is_rebooking_invitation else step.offset_days
    days = days if days is not None else step.offset_days
    return timezone.localtime(treated_at, zone).date() + dt.timedelta(days=days)


def step_due_at(step: AftercareStep, *, treated_at: dt.datetime, signed_off_at: dt.datetime, zone):
    """When a step's email goes, or None when its day had passed before the record was signed off.

    Days count from the treatment, not from the sign-off: a record signed off the next morning does
    not move the client's day 3 to day 4. Day 0 goes at sign-off (the treatment's day); day N at the
    step's local time on its day (DST-safe), or at sign-off if that time has passed the same day. A
    day already over ("for the next 24 hours" a day late) is not sent.
    """
    day = step_day(step, treated_at=treated_at, zone=zone)
    if day < timezone.localtime(signed_off_at, zone).date():
        return None
    if day == timezone.localtime(treated_at, zone).date():
        return signed_off_at
    return max(dt.datetime.combine(day, step.send_at, tzinfo=zone), signed_off_at)


def _session_context(session: TreatmentSession) -> dict:
    """What every aftercare message of the session says: who, when, and the links."""
    clinic = session.clinic
    treated_local = timezone.localtime(session.started_at, clinic.zone)
    return {
        "session_id": session.pk,
        "client_first_name": session.client.first_name,
        "practitioner_name": session.practitioner.display_name,
        "session_date": f"{treated_local:%A} {treated_local.day} {treated_local:%B %Y}",
        "zone_name": clinic.time_zone,
        # the times with the practitioner who treated them, first
        "rebook_url": absolute_url(
            f"{reverse('public-services', args=[clinic.slug])}?with={session.practitioner_id}"
        ),
        "unsubscribe_url": unsubscribe_url(session.client),
    }


def _protocol_context(session: TreatmentSession, protocol: Protocol, deepest: Decimal | None) -> dict:
    """What one protocol's messages say of the session: its areas, depth and products."""
    records = {
        "microneedling": session.microneedling.all(),
        "microcurrent": session.microcurrent.all(),
        "mesotherapy": session.mesotherapy.all(),
    }
    areas = {r.area.name for r in records.get(protocol.modality, [])} or {
        r.area.name for rows in records.values() for r in rows
    }
    return {
        "protocol_name": protocol.name,
        "modality": protocol.modality,
        "deepest_needle_mm": format(deepest.normalize(), "f") if deepest is not None else "",
        "areas": sorted(areas),
        "products": [
            {
                "name": r.product_name,
                "lot_number": r.lot_number,
                "volume_ml": str(r.volume_ml),
                "area": r.area.name,
            }
            for r in records["mesotherapy"]
        ],
    }


def _aftercare_message(
    session: TreatmentSession, due_at: dt.datetime, planned: list, common: dict, *, topic: str
) -> OutboxMessage:
    """One email for the steps due at the same time: the step's own, or one made of their sections.

    A visit with two treatments (microneedling with microcurrent) gets one aftercare email a day,
    each treatment's advice under its name, not two emails at the same moment.
    """
    client = session.client
    if len(planned) == 1:
        step, protocol_context = planned[0]
        key, dedupe, context = step.template_key, str(step.pk), {**common, **protocol_context}
    else:
        key = "aftercare_several_treatments"
        dedupe = "+".join(str(step.pk) for step, _ in planned)
        context = {
            **common,
            "offset_days": planned[0][0].offset_days,
            "protocol_names": [protocol_context["protocol_name"] for _, protocol_context in planned],
            "parts": [
                {
                    "key": step.template_key,
                    "title": protocol_context["protocol_name"],
                    "context": protocol_context,
                }
                for step, protocol_context in planned
            ],
        }
    return outbox_message(
        clinic=session.clinic,
        recipient_email=client.email,
        recipient_name=client.full_name,
        template_key=key,
        dedupe_key=f"session:{session.pk}:aftercare:{dedupe}",
        due_at=due_at,
        context=context,
        topic=topic,
        is_essential=False,
        client_id=client.pk,
    )


def _day_was_over(message: OutboxMessage, day: dt.date) -> OutboxMessage:
    """Write the message as not sent: its day was over before the record was signed off."""
    message.status = OutboxStatus.CANCELLED
    message.last_error = (
        f"Not sent: its day ({day:%a} {day.day} {day:%b}) was over when the record was signed off."
    )
    return message


def aftercare_schedule(session: TreatmentSession) -> int:
    """Write the session's aftercare messages to the outbox; return how many will go (call in sign-off).

    Steps due at the same time are one email; each protocol's rebooking invitation is its own (a new
    booking of that protocol cancels it). A step whose day was over before the record was signed off
    is written as not sent, with the reason, so the timeline shows what the client did not get.
    """
    client = session.client
    if not client_accepts_non_essential_mail(client):
        return 0
    deepest = deepest_needle_mm(session)
    zone = session.clinic.zone
    common = _session_context(session)
    when = {"treated_at": session.started_at, "zone": zone}
    # (due time, or the day that was over) → the steps that go then
    by_due_time: dict[tuple[dt.datetime, dt.date | None], list] = defaultdict(list)
    messages = []
    for protocol in session_protocols(session):
        protocol_context = _protocol_context(session, protocol, deepest)
        steps = AftercareStep.objects.filter(protocol=protocol).select_related("protocol")
        for step in steps:
            if not step_applies(step, deepest=deepest):
                continue
            due_at = step_due_at(step, signed_off_at=session.signed_off_at, **when)
            over = None
            if due_at is None:
                over = step_day(step, **when)
                due_at = dt.datetime.combine(over, step.send_at, tzinfo=zone)
            if not step.is_rebooking_invitation:
                by_due_time[(due_at, over)].append((step, protocol_context))
                continue
            invitation = _aftercare_message(
                session,
                due_at,
                [(step, protocol_context)],
                common,
                topic=rebook_topic(client.pk, protocol.pk),
            )
            messages.append(_day_was_over(invitation, over) if over else invitation)
    for (due_at, over), planned in sorted(by_due_time.items(), key=lambda item: item[0][0]):
        message = _aftercare_message(session, due_at, planned, common, topic=f"session:{session.pk}")
        messages.append(_day_was_over(message, over) if over else message)
    outbox_write(messages)
    return sum(1 for message in messages if message.status == OutboxStatus.PENDING)
