"""The manager's page to download the clinic's clients and visits as CSV files (`treatments.exports`)."""

import csv

from django.http import Http404, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from clinic.account_events import account_event_record
from clinic.models import AccountAction
from clinic.permissions import manager_required
from treatments.exports import client_rows, earlier_session_rows, payment_rows, visit_rows

FILES = {
    "clients": (client_rows, AccountAction.EXPORTED_CLIENTS),
    "visits": (visit_rows, AccountAction.EXPORTED_VISITS),
    "payments": (payment_rows, AccountAction.EXPORTED_PAYMENTS),
    "had-before": (earlier_session_rows, AccountAction.EXPORTED_EARLIER_SESSIONS),
}


class _Line:
    """What csv.writer writes to: hands each line back instead of keeping it."""

    def write(self, line: str) -> str:
        return line


ONLY_MANAGERS = "Downloading the clinic's data is for its managers."


@manager_required(ONLY_MANAGERS)
def export_page(request):
    """Managers: what can be downloaded, and how each client's health records are exported."""
    return render(request, "treatments/export.html", {})


@manager_required(ONLY_MANAGERS)
def export_file(request, name):
    """One file, streamed as it is read; the download is noted in the manager's sign-in activity."""
    member = request.staff_member
    if name not in FILES:
        raise Http404("There is no such file: choose clients, visits, payments or had-before.")
    rows, action = FILES[name]
    clinic = member.clinic
    account_event_record(request.user, action)
    writer = csv.writer(_Line())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in rows(clinic)), content_type="text/csv; charset=utf-8"
    )
    today = timezone.localdate(timezone=clinic.zone)
    response["Content-Disposition"] = f'attachment; filename="{clinic.slug}-{name}-{today:%Y-%m-%d}.csv"'
    return response
