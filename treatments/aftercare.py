"""Aftercare: the protocol's plan of messages after a session, chosen by what was recorded.

Written to the outbox in the sign-off transaction, one row per step with its own due time and
dedupe key; nothing waits in the broker. Aftercare is non-essential mail: it carries one-click
unsubscribe, and nothing is written for a client who unsubscribed.
"""

import datetime as dt
from decimal import Decimal

from django.urls import reverse
from django.utils import timezone

from clients.links import absolute_url, unsubscribe_url
from clients.services import client_accepts_non_essential_mail
from clinic.outbox import outbox_message, outbox_write
from treatments.models import AftercareCondition, AftercareStep, Protocol, TreatmentSession

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


def rebook_topic(client_id: int, protocol_id: int) -> str:
    """Topic of a client's pending rebooking invitation for a protocol (a new booking cancels it)."""
    return f"rebook:client:{client_id}:protocol:{protocol_id}"


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


def step_due_at(step: AftercareStep, *, signed_off_at: dt.datetime, zone) -> dt.datetime:
    """Day 0 is due at sign-off; day N at `send_at` local time N calendar days later (DST-safe)."""
    days = step.protocol.min_interval_days if step.is_rebooking_invitation else step.offset_days
    days = days if days is not None else step.offset_days
    if days == 0:
        return signed_off_at
    local_day = timezone.localtime(signed_off_at, zone).date() + dt.timedelta(days=days)
    return dt.datetime.combine(local_day, step.send_at, tzinfo=zone)


def _context(session: TreatmentSession, protocol: Protocol, deepest: Decimal | None) -> dict:
    clinic = session.clinic
    client = session.client
    signed_off_local = timezone.localtime(session.signed_off_at, clinic.zone)
    return {
        "session_id": session.pk,
        "client_first_name": client.first_name,
        "protocol_name": protocol.name,
        "modality": protocol.modality,
        "practitioner_name": session.practitioner.display_name,
        "session_date": f"{signed_off_local:%A} {signed_off_local.day} {signed_off_local:%B %Y}",
        "zone_name": clinic.time_zone,
        "deepest_needle_mm": format(deepest.normalize(), "f") if deepest is not None else "",
        "areas": sorted(
            {r.area.name for r in session.microneedling.all()}
            | {r.area.name for r in session.microcurrent.all()}
            | {r.area.name for r in session.mesotherapy.all()}
        ),
        "products": [
            {
                "name": r.product_name,
                "lot_number": r.lot_number,
                "volume_ml": str(r.volume_ml),
                "area": r.area.name,
            }
            for r in session.mesotherapy.all()
        ],
        "rebook_url": absolute_url(reverse("public-services", args=[clinic.slug])),
        "unsubscribe_url": unsubscribe_url(client),
    }


def aftercare_schedule(session: TreatmentSession) -> int:
    """Write the session's aftercare messages to the outbox; return how many (call in sign-off)."""
    client = session.client
    if not client_accepts_non_essential_mail(client):
        return 0
    deepest = deepest_needle_mm(session)
    messages = []
    for protocol in session_protocols(session):
        context = _context(session, protocol, deepest)
        steps = AftercareStep.objects.filter(protocol=protocol).select_related("protocol")
        for step in steps:
            if not step_applies(step, deepest=deepest):
                continue
            topic = (
                rebook_topic(client.pk, protocol.pk)
                if step.is_rebooking_invitation
                else f"session:{session.pk}"
            )
            messages.append(
                outbox_message(
                    clinic=session.clinic,
                    recipient_email=client.email,
                    recipient_name=client.full_name,
                    template_key=step.template_key,
                    dedupe_key=f"session:{session.pk}:aftercare:{step.pk}",
                    due_at=step_due_at(step, signed_off_at=session.signed_off_at, zone=session.clinic.zone),
                    context=context,
                    topic=topic,
                    is_essential=False,
                    client_id=client.pk,
                )
            )
    outbox_write(messages)
    return len(messages)
