"""A client's page for staff: details, visits, courses and messages.

It lives in the treatments layer, the lowest one that knows both clients and their visits; the
URL stays under /clients/.
"""

from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from clients.models import Client
from clients.selectors import client_forms
from clinic.models import OutboxMessage
from clinic.outbox import with_resend_refusals
from clinic.permissions import staff_required
from treatments.selectors import (
    client_attendance,
    client_courses,
    client_visits,
    forms_missing,
    not_qualified_for,
    outside_working_hours,
    time_off_clashes,
)

TIMELINE_LENGTH = 100


@staff_required
def client_detail(request, pk):
    """A client's details, email preferences, visits and courses, and every message sent or scheduled."""
    client = get_object_or_404(Client, pk=pk, clinic=request.staff_member.clinic)
    now = timezone.now()
    upcoming, past = client_visits(client, now=now)
    clashes = time_off_clashes(upcoming)
    off_hours = outside_working_hours(upcoming, client.clinic.zone)
    unqualified = not_qualified_for(upcoming)
    missing = forms_missing(upcoming, client.clinic)
    for visit in upcoming:
        visit.time_off = clashes.get(visit.pk)
        visit.off_hours = visit.pk in off_hours
        visit.unqualified = visit.pk in unqualified
        visit.forms_missing = missing.get(visit.pk, [])
    timeline = with_resend_refusals(
        OutboxMessage.objects.filter(clinic=client.clinic, client_id=client.pk).order_by("-due_at", "-id")[
            :TIMELINE_LENGTH
        ]
    )
    return render(
        request,
        "clients/client_detail.html",
        {
            "client": client,
            "upcoming": upcoming,
            "past": past,
            "courses": client_courses(client, now=now),
            "attendance": client_attendance(client, now=now),
            "forms": client_forms(client, now=now),
            "timeline": timeline,
            "resend_next": request.get_full_path(),
        },
    )
