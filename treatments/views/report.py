"""The manager's report page: four weeks (or the days asked) of hours, outcomes and rebooking."""

import csv

from django.http import HttpResponse
from django.shortcuts import render

from clinic.permissions import manager_required
from treatments.feedback import feedback_between
from treatments.forms import parse_local_date
from treatments.report import LONGEST_REPORT_DAYS, clinic_report, default_span
from treatments.selectors import local_day_bounds


@manager_required("The report is for the clinic's managers.")
def report(request):
    """Managers: each practitioner's hours open and booked, what became of the visits, rebooking."""
    clinic = request.staff_member.clinic
    first_default, last_default = default_span(clinic)
    first_day, first_error = parse_local_date(request.GET.get("start"), first_default)
    last_day, last_error = parse_local_date(request.GET.get("end"), last_default)
    error = first_error or last_error
    if not error and last_day < first_day:
        error = "The last day comes on or after the first."
    elif not error and (last_day - first_day).days + 1 > LONGEST_REPORT_DAYS:
        error = f"A report covers at most {LONGEST_REPORT_DAYS} days: choose a shorter span."
    if error:
        first_day, last_day = first_default, last_default
    if request.GET.get("format") == "csv" and not error:
        return _as_csv(clinic_report(clinic, first_day=first_day, last_day=last_day))
    return render(
        request,
        "treatments/report.html",
        {
            "report": clinic_report(clinic, first_day=first_day, last_day=last_day),
            # what clients said of the visits of these days, lowest rating first
            "feedback": feedback_between(
                clinic, local_day_bounds(clinic, first_day)[0], local_day_bounds(clinic, last_day)[1]
            ),
            "error": error,
        },
        status=400 if error else 200,
    )


CSV_COLUMNS = [
    "Practitioner",
    "Hours open",
    "Hours booked",
    "Utilisation %",
    "Completed",
    "No-shows",
    "Cancelled",
    "Cancelled late",
    "Booked online",
    "Completed value",
    "No-shows and late cancellations value",
]


def _as_csv(report) -> HttpResponse:
    """The report's table as a CSV file for a spreadsheet: a line per practitioner, then the clinic."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="report-{report.first_day:%Y-%m-%d}-to-{report.last_day:%Y-%m-%d}.csv"'
    )
    writer = csv.writer(response)
    writer.writerow(CSV_COLUMNS)
    for line in [*report.lines, report.total]:
        writer.writerow(
            [
                line.name,
                f"{line.open_hours:.1f}",
                f"{line.booked_hours:.1f}",
                "" if line.utilisation is None else line.utilisation,
                line.completed,
                line.no_shows,
                line.cancelled,
                line.cancelled_late,
                line.booked_online,
                f"{line.completed_value:.2f}",
                f"{line.missed_value:.2f}",
            ]
        )
    return response
