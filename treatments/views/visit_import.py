"""The manager's pages to import the clinic's visits still ahead from a CSV file
(`treatments.visit_imports`); the file's upload, storage and rows left out are the clients' import's."""

import csv

from django.contrib import messages
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from clients.import_views import ROWS_SHOWN, import_of_clinic, import_start_page
from clients.imports import KEEP_LEFT_OUT_DAYS, client_import_discard, column_samples, row_said
from clients.models import ClientImportStatus, DateOrder, ImportKind
from clinic.errors import ClinicError
from clinic.permissions import manager_required
from clinic.spreadsheets import cell
from treatments.models import EarlierSession
from treatments.visit_imports import (
    ALREADY,
    BOOK,
    HISTORY,
    MAX_VISIT_ROWS,
    NOT_COMING,
    PAST,
    REFUSED,
    VISIT_FIELDS,
    bookable_practitioners,
    offered_services,
    sample_rows,
    visit_import_preview,
    visit_import_queue,
    visit_import_settings,
)

ONLY_MANAGERS = "Importing visits is for the clinic's managers."
NAME_KINDS = ("service", "practitioner")
# the names a page lists to say (a file names at most this many services and practitioners)
MOST_NAMES = 500


@manager_required(ONLY_MANAGERS)
def visit_import_start(request):
    """Upload a CSV of the visits booked ahead in other software; the files read before."""
    return import_start_page(
        request,
        kind=ImportKind.VISITS,
        template="treatments/visit_import_start.html",
        detail_url="visit-import",
        context={"max_rows": MAX_VISIT_ROWS},
    )


def _names_said(request) -> dict[str, dict[str, int | None]]:
    """Which service and practitioner here each name in the file is, as the page's choices say."""
    said: dict[str, dict[str, int | None]] = {}
    for kind in NAME_KINDS:
        said[kind] = {}
        for index in range(min(int(request.POST.get(f"{kind}-names", 0) or 0), MOST_NAMES)):
            name = request.POST.get(f"{kind}-name-{index}", "")
            choice = request.POST.get(f"{kind}-choice-{index}", "")
            if name:
                said[kind][name] = int(choice) if choice.isdigit() else None
    return said


def _settings(request, client_import) -> None:
    try:
        names = _names_said(request)
    except ValueError:
        raise ClinicError("Choose from the lists.", code="bad_choice") from None
    visit_import_settings(
        client_import,
        mapping=[request.POST.get(f"column-{i}", "") for i in range(len(client_import.columns))],
        date_order=request.POST.get("date_order", ""),
        names_chosen=names,
        confirmations_sent=request.POST.get("confirmations_sent") == "on",
    )


@manager_required(ONLY_MANAGERS)
def visit_import_detail(request, pk):
    """What the file holds and what importing it books; the columns, dates and names to say; import."""
    client_import = import_of_clinic(request, pk, kind=ImportKind.VISITS)
    if request.GET.get("status"):  # the page asking, while a worker books, whether it is done
        return JsonResponse({"status": client_import.status})
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "settings":
                _settings(request, client_import)
                messages.success(request, "Checked again with what you chose.")
            elif action == "apply":
                visit_import_queue(client_import, actor=request.staff_member)
                messages.success(request, "Booking the visits: this page says when they are booked.")
            elif action == "discard":
                client_import_discard(client_import, actor=request.staff_member)
                messages.success(request, "Put aside: nothing was booked, and the file is not kept.")
            else:
                raise Http404("No such action.")
        except ClinicError as refusal:
            messages.error(request, refusal.message)
        return redirect("visit-import", pk)
    context = {"client_import": client_import, "keep_left_out_days": KEEP_LEFT_OUT_DAYS}
    if client_import.status == ClientImportStatus.READ:
        clinic = client_import.clinic
        preview = visit_import_preview(client_import)
        samples = column_samples(client_import)
        chosen = client_import.names_chosen
        choices = {
            "service": list(offered_services(clinic)),
            "practitioner": list(bookable_practitioners(clinic)),
        }
        # each name in the file not found here, and each said before, with the choices to say it by
        names = [
            {
                "kind": kind,
                "choices": choices[kind],
                "items": [
                    {"name": name, "rows": rows, "chosen": None}
                    for name, rows in sorted(preview.unknown.get(kind, {}).items())
                ]
                + [
                    {"name": name, "rows": None, "chosen": pk}
                    for name, pk in sorted(chosen.get(kind, {}).items())
                ],
            }
            for kind in NAME_KINDS
        ]
        context.update(
            preview=preview,
            counts=preview.counts,
            fields=VISIT_FIELDS,
            date_orders=DateOrder.choices,
            columns=[
                {"index": i, "name": name, "detail": client_import.mapping[i], "samples": samples[i]}
                for i, name in enumerate(client_import.columns)
            ],
            names=names,
            choices=choices,
            to_book=preview.of(BOOK)[:ROWS_SHOWN],
            refused=preview.of(REFUSED)[:ROWS_SHOWN],
            already=preview.of(ALREADY)[:ROWS_SHOWN],
            not_coming=preview.of(NOT_COMING)[:ROWS_SHOWN],
            history=preview.of(HISTORY)[:ROWS_SHOWN],
            past=preview.of(PAST)[:ROWS_SHOWN],
            rows_shown=ROWS_SHOWN,
            zone=clinic.zone,
        )
    else:
        # the visits over already it kept in clients' histories (an erasure since takes theirs off)
        context["history_kept"] = EarlierSession.objects.filter(
            client_import=client_import, removed_at=None
        ).count()
        context["left_out"] = [
            {**row, "said": row_said(row["cells"])} for row in client_import.left_out[:ROWS_SHOWN]
        ]
    return render(request, "treatments/visit_import_detail.html", context)


@manager_required(ONLY_MANAGERS)
def visit_import_sample(request):
    """A sample file of visits for this clinic's own services and practitioners, on days ahead."""
    clinic = request.staff_member.clinic
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    writer = csv.writer(response)
    for row in sample_rows(clinic, today=timezone.localdate(timezone=clinic.zone)):
        writer.writerow([cell(value) for value in row])
    response["Content-Disposition"] = 'attachment; filename="visits-to-import.csv"'
    return response
