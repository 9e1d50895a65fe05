"""A client's page for staff: details, visits, courses and messages.

It lives in the treatments layer, the lowest one that knows both clients and their visits; the
URL stays under /clients/.
"""

from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from clients.models import Client
from clients.selectors import client_forms, refused_address, standing_photo_consents
from clinic.models import OutboxMessage
from clinic.outbox import with_resend_refusals
from clinic.permissions import staff_required
from treatments.selectors import (
    client_attendance,
    client_courses,
    client_treatment_records,
    client_visits,
)
from treatments.sessions import may_record
from treatments.views.flags import flag_visits

TIMELINE_LENGTH = 100


@staff_required
def client_detail(request, pk):
    """A client's details, email preferences, visits and courses, and every message sent or scheduled."""
    client = get_object_or_404(Client, pk=pk, clinic=request.staff_member.clinic)
    now = timezone.now()
    upcoming, past = client_visits(client, now=now)
    flag_visits(upcoming, client.clinic)
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
            "email_refused": refused_address(client),
            "photo_consents": list(standing_photo_consents(client).order_by("scope")),
            "timeline": timeline,
            "resend_next": request.get_full_path(),
            # health data: for the practitioners and managers, not the front desk
            "records": client_treatment_records(client) if may_record(request.staff_member) else None,
        },
    )
