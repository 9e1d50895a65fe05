"""The waitlist page: who waits for what, the times free now that suit each, and adding someone."""

import datetime as dt

from django.contrib import messages
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from clients.models import Client
from clients.services import client_register
from clinic.errors import ClinicError
from clinic.models import StaffMember, StaffRole
from clinic.parsing import parse_id
from clinic.permissions import staff_required
from treatments.forms import NewClientForm, WaitlistDaysForm, WaitlistForm, parse_local_date
from treatments.models import Service, WaitlistEnded, WaitlistEntry
from treatments.views.booking import client_problem, visit_of_this_clinic
from treatments.waitlist import (
    ENTRY_RELATED,
    free_times_for,
    open_entries,
    waiting_for_said,
    waitlist_add,
    waitlist_end,
    wish,
)

# Free times shown under each entry; the finder shows the rest.
TIMES_SHOWN = 6
# Entries that ended this recently are listed under the open ones, so the desk sees what became of them.
ENDED_SHOWN_DAYS = 14
ENDED_SHOWN = 20
DEFAULT_WAIT_DAYS = 14


def _rows(entries, zone, names: dict[int, str]) -> list[dict]:
    """One row per wish (client, service, new visit or the visit to move), in the entries' order.

    A client is waiting twice for the same only after two records of theirs were merged: their places
    are listed together, with the times free now that suit either, as one email offers them.
    """
    found = free_times_for(entries)
    wishes: dict[tuple, list[WaitlistEntry]] = {}
    for entry in entries:
        wishes.setdefault(wish(entry), []).append(entry)
    rows = []
    for places in wishes.values():
        free = sorted(
            {(slot.start, slot.practitioner_id) for place in places for slot in found.get(place.pk, [])}
        )
        rows.append(
            {
                "entry": places[0],
                "places": [{"entry": place, "said": waiting_for_said(place)} for place in places],
                "free": [
                    {
                        "local": timezone.localtime(start, zone),
                        "practitioner_id": practitioner_id,
                        "practitioner": names.get(practitioner_id, ""),
                    }
                    for start, practitioner_id in free[:TIMES_SHOWN]
                ],
                "more": max(0, len(free) - TIMES_SHOWN),
            }
        )
    return rows


@staff_required
@require_http_methods(["GET", "POST"])
def waitlist(request):
    """List the open entries with the times free now that suit each; add a client to the waitlist."""
    clinic = request.staff_member.clinic
    zone = clinic.zone
    today = timezone.localdate(timezone=zone)
    services = Service.objects.filter(clinic=clinic, is_active=True).order_by("name")
    practitioners = StaffMember.objects.filter(
        clinic=clinic, role=StaffRole.PRACTITIONER, is_active=True
    ).order_by("display_name", "id")
    first_day, _ = parse_local_date(request.GET.get("date"), today)
    first_day = max(first_day, today)
    initial = {
        "service": parse_id(request.GET.get("service")),
        "practitioner": parse_id(request.GET.get("practitioner")),
        "first_day": first_day,
        "last_day": first_day + dt.timedelta(days=DEFAULT_WAIT_DAYS - 1),
    }
    form = WaitlistForm(request.POST or None, services=services, practitioners=practitioners, initial=initial)
    params = request.POST if request.method == "POST" else request.GET
    chosen_client = Client.objects.filter(clinic=clinic, pk=parse_id(params.get("client"))).first()
    new_client_form = NewClientForm(
        request.POST or None, prefix="new", use_required_attribute=False, clinic=clinic
    )
    error, status = "", 200
    if request.method == "POST":
        if problem := client_problem(request, chosen_client, new_client_form):
            error, status = problem, 400
        elif not form.is_valid():
            error, status = "Check the details below.", 400
        else:
            try:
                with transaction.atomic():  # a client typed in is kept only with their entry
                    client = chosen_client or client_register(clinic=clinic, **new_client_form.cleaned_data)
                    entry = waitlist_add(client=client, actor=request.user, **form.cleaned_data)
            except ClinicError as refusal:
                error, status = refusal.message, 400
            else:
                messages.success(
                    request, f"{client.full_name} is on the waitlist for {waiting_for_said(entry)}."
                )
                return redirect(f"{request.path}#waiting-{entry.pk}")
    entries = list(
        open_entries(clinic)
        .select_related(*ENTRY_RELATED, "added_by")
        .order_by("first_day", "added_at", "id")
    )
    recently = timezone.now() - dt.timedelta(days=ENDED_SHOWN_DAYS)
    ended = [
        {
            "entry": e,
            "said": waiting_for_said(e),
            "outcome": e.get_ended_because_display().lower(),
            "at": e.ended_at,
        }
        for e in WaitlistEntry.objects.filter(clinic=clinic, ended_at__gte=recently)
        .select_related(*ENTRY_RELATED, "appointment")
        .order_by("-ended_at", "-id")[:ENDED_SHOWN]
    ]
    # nobody booked them, nor took them off, before their last day went by
    lapsed = WaitlistEntry.objects.filter(
        clinic=clinic, ended_at=None, last_day__lt=today, last_day__gte=recently.date()
    ).select_related(*ENTRY_RELATED)
    ended += [
        {
            "entry": e,
            "said": waiting_for_said(e),
            "outcome": "their days passed",
            "at": dt.datetime.combine(e.last_day + dt.timedelta(days=1), dt.time.min, tzinfo=zone),
        }
        for e in lapsed.order_by("-last_day", "-id")[:ENDED_SHOWN]
    ]
    ended.sort(key=lambda row: row["at"], reverse=True)
    return render(
        request,
        "treatments/waitlist.html",
        {
            "form": form,
            "chosen_client": chosen_client,
            "new_client_form": new_client_form,
            "error": error,
            "rows": _rows(entries, zone, {p.pk: p.display_name for p in practitioners}),
            "ended": ended[:ENDED_SHOWN],
            "booked": WaitlistEnded.BOOKED,
        },
        status=status,
    )


@staff_required
@require_POST
def waitlist_remove(request, pk):
    """Take a client off the waitlist (they found another time, or no longer want it)."""
    entry = get_object_or_404(
        WaitlistEntry.objects.select_related(*ENTRY_RELATED),
        pk=pk,
        clinic=request.staff_member.clinic,
    )
    try:
        waitlist_end(entry, because=WaitlistEnded.REMOVED, actor=request.user)
    except ClinicError as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, f"{entry.client.full_name} is off the waitlist for {entry.service.name}.")
    return redirect("waitlist")


@staff_required
@require_POST
def waitlist_move(request, pk):
    """Put the client of a visit on the waitlist to move it: a time that suits them moves the visit."""
    visit = visit_of_this_clinic(request, pk)
    days = WaitlistDaysForm(request.POST)
    practitioner = StaffMember.objects.filter(
        clinic=visit.clinic, pk=parse_id(request.POST.get("practitioner"))
    ).first()
    if not days.is_valid():
        messages.error(request, "Give the days the client can come, each as a date.")
        return redirect(reverse("appointment-detail", args=[pk]) + "#wait-earlier")
    try:
        entry = waitlist_add(
            client=visit.client,
            service=visit.service,
            practitioner=practitioner,
            visit_to_move=visit,
            actor=request.user,
            **days.cleaned_data,
        )
    except ClinicError as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(
            request,
            f"{visit.client.full_name} is on the waitlist to move this visit: {waiting_for_said(entry)}.",
        )
    return redirect(reverse("appointment-detail", args=[pk]) + "#reschedule")
