"""A client's page for staff: details, visits, courses and messages.

It lives in the treatments layer, the lowest one that knows both clients and their visits; the
URL stays under /clients/.
"""

import datetime as dt
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from clients.access_log import health_data_accesses, health_data_read
from clients.merging import client_merged_into, other_records_of
from clients.models import TOLD_THE_CLINIC, Client, HealthDataRead
from clients.selectors import (
    client_forms,
    refused_address,
    standing_consent_modalities,
    standing_photo_consents,
)
from clients.services import consent_withdraw
from clinic.errors import ClinicError
from clinic.models import Modality, OutboxMessage
from clinic.outbox import with_resend_refusals
from clinic.parsing import parse_id
from clinic.permissions import may_read_health_data, staff_required
from treatments.consents import consent_plan_change
from treatments.earlier_sessions import (
    client_earlier_sessions,
    earlier_session_record,
    earlier_session_remove,
)
from treatments.models import EarlierSession, Service
from treatments.payments import client_owing
from treatments.selectors import (
    client_attendance,
    client_courses,
    client_treatment_records,
    client_visits,
    client_visits_ahead_for,
)
from treatments.sessions import may_record
from treatments.views.flags import flag_visits
from treatments.waitlist import ENTRY_RELATED, open_entries, waiting_for_said

TIMELINE_LENGTH = 100


@staff_required
def client_detail(request, pk):
    """A client's details, email preferences, visits and courses, and every message sent or scheduled."""
    client = Client.objects.filter(pk=pk, clinic=request.staff_member.clinic).first()
    if client is None:
        became = client_merged_into(pk)
        if became is None or became.clinic_id != request.staff_member.clinic.pk:
            raise Http404("No such client.")
        messages.info(request, f"That record was merged into {became.full_name}'s.")
        return redirect("client-detail", pk=became.pk)
    now = timezone.now()
    upcoming, past = client_visits(client, now=now)
    if client.erased_at:  # nothing of theirs is left to show but the schedule's times
        return render(request, "clients/client_erased.html", {"client": client, "visits": upcoming + past})
    flag_visits(upcoming, client.clinic)
    owing = client_owing(client)
    timeline = with_resend_refusals(
        OutboxMessage.objects.filter(clinic=client.clinic, client_id=client.pk).order_by("-due_at", "-id")[
            :TIMELINE_LENGTH
        ]
    )
    records = None
    if may_record(request.staff_member):
        records = client_treatment_records(client)
        if records:
            health_data_read(request.staff_member, client.pk, HealthDataRead.TREATMENT_HISTORY)
    return render(
        request,
        "clients/client_detail.html",
        {
            "client": client,
            "upcoming": upcoming,
            "past": past,
            # sessions had before this calendar held them: the interval between sessions counts them
            "earlier_sessions": client_earlier_sessions(client),
            "services": Service.objects.filter(clinic=client.clinic, is_active=True).order_by("name"),
            "courses": client_courses(client, now=now),
            "waiting": [
                waiting_for_said(entry)
                for entry in open_entries(client.clinic).filter(client=client).select_related(*ENTRY_RELATED)
            ],
            "attendance": client_attendance(client, now=now),
            # visits had and not paid for in full: said at the top, where the desk looks first
            "owing": owing,
            "owing_total": sum((v.owed for v in owing), Decimal("0")),
            "forms": client_forms(client, now=now),
            "email_refused": refused_address(client),
            "photo_consents": list(standing_photo_consents(client).order_by("scope")),
            # the treatments the client may withdraw their consent to, and how they may have said so
            "withdrawable": [(m, Modality(m).label) for m in sorted(standing_consent_modalities(client))],
            "withdrawal_channels": TOLD_THE_CLINIC,
            "timeline": timeline,
            "resend_next": request.get_full_path(),
            # who opened their health data: for the managers, who answer the client's "who looked?"
            "accesses": health_data_accesses(client.pk) if request.staff_member.is_manager else None,
            # health data: for the practitioners and managers, not the front desk
            "records": records,
            # one person, two records: who this record may also be, and what was merged into it
            "same_as": other_records_of(client),
            "merges": list(client.merged_records.select_related("merged_by", "undone_by")),
        },
    )


@staff_required
@require_POST
def consent_withdrawal(request, pk):
    """Record that the client withdrew their consent to a treatment, as they told the desk; say which
    visits ahead now lack it."""
    client = get_object_or_404(Client, pk=pk, clinic=request.staff_member.clinic)
    modality = request.POST.get("modality", "")
    try:
        consent_withdraw(
            client=client,
            modality=modality,
            by=request.staff_member,
            told=request.POST.get("told", ""),
            note=request.POST.get("note", ""),
        )
    except ClinicError as refusal:
        messages.error(request, refusal.message)
        return redirect("client-detail", pk=client.pk)
    treatment = Modality(modality).label.lower()
    ahead = client_visits_ahead_for(client, modality, now=timezone.now())
    note = f"Recorded: {client.full_name} withdrew their consent to {treatment}."
    if ahead:
        visits = f"{len(ahead)} visit{'' if len(ahead) == 1 else 's'}"
        note += (
            f" {visits} ahead for it now show{'s' if len(ahead) == 1 else ''} the consent missing: cancel "
            f"{'it' if len(ahead) == 1 else 'them'}, or {client.first_name} signs again before being treated."
        )
    messages.success(request, note)
    return redirect("client-detail", pk=client.pk)


@staff_required
@require_POST
def consent_plan_changed(request, pk):
    """The practitioner changed the client's plan for a treatment: the client consents again before
    their next visit for it, and is sent the link when they have an address. Back to their forms."""
    client = get_object_or_404(Client, pk=pk, clinic=request.staff_member.clinic)
    if not may_read_health_data(request.staff_member):
        raise PermissionDenied("A client's treatment plan is for the clinic's practitioners and managers.")
    modality = request.POST.get("modality", "")
    try:
        change = consent_plan_change(
            client=client,
            modality=modality,
            by=request.staff_member,
            what_changed=request.POST.get("what_changed", ""),
        )
    except ClinicError as refusal:
        messages.error(request, refusal.message)
        return redirect("client-intake-and-consent", pk=client.pk)
    treatment = Modality(modality).label.lower()
    note = f"{client.full_name} is asked to consent to {treatment} again, as the plan changed."
    ahead = change.visits_ahead
    if ahead:
        visits = f"{len(ahead)} visit{'' if len(ahead) == 1 else 's'}"
        note += f" {visits} ahead for it wait{'s' if len(ahead) == 1 else ''} for the new signature."
    if change.link_sent_for is not None:
        note += f" The link to sign is on its way to {client.email}."
    elif ahead and not client.email:
        note += f" {client.full_name} has no email address: have them sign at the desk before the visit."
    messages.success(request, note)
    return redirect("client-intake-and-consent", pk=client.pk)


@staff_required
@require_POST
def earlier_session_add(request, pk):
    """Note a session the client says they had before coming here (another clinic, last month): the
    interval between sessions counts it. Back to the client's page."""
    client = get_object_or_404(Client, pk=pk, clinic=request.staff_member.clinic)
    service = Service.objects.filter(clinic=client.clinic, pk=parse_id(request.POST.get("service"))).first()
    try:
        given_on = dt.date.fromisoformat(request.POST.get("given_on", "").strip())
    except ValueError:
        given_on = None
    try:
        earlier = earlier_session_record(
            client=client,
            service=service,
            given_on=given_on,
            given_by=request.POST.get("given_by", ""),
            notes=request.POST.get("notes", ""),
            by=request.staff_member,
        )
    except ClinicError as refusal:
        messages.error(request, refusal.message)
        return redirect(reverse("client-detail", args=[client.pk]) + "#earlier-sessions")
    messages.success(
        request,
        f"Noted: {client.full_name} had {earlier.service.name} on {earlier.given_on:%a %d %b %Y}. "
        "Booking counts it for the time between sessions.",
    )
    return redirect(reverse("client-detail", args=[client.pk]) + "#earlier-sessions")


@staff_required
@require_POST
def earlier_session_delete(request, pk, earlier_id):
    """Take off a session noted by mistake."""
    client = get_object_or_404(Client, pk=pk, clinic=request.staff_member.clinic)
    noted = EarlierSession.objects.filter(removed_at=None).select_related("service")
    earlier = get_object_or_404(noted, pk=earlier_id, client=client)
    earlier_session_remove(earlier=earlier, by=request.staff_member)
    messages.success(
        request, f"Taken off: {earlier.service.name} on {earlier.given_on:%a %d %b %Y} (noted by mistake)."
    )
    return redirect(reverse("client-detail", args=[client.pk]) + "#earlier-sessions")
