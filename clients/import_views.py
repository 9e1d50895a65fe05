"""The manager's pages to import the clinic's clients from a CSV file (`clients.imports`)."""

import csv
import re

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from clients.imports import (
    ALREADY,
    IMPORT_FIELDS,
    KEEP_LEFT_OUT_DAYS,
    MAX_IMPORT_ROWS,
    NEW,
    REFUSED,
    TWICE,
    client_import_apply,
    client_import_discard,
    client_import_read,
    client_import_settings,
    column_samples,
    import_preview,
    left_out_rows,
    refuse_if_too_big,
    row_said,
)
from clients.models import ClientImport, ClientImportStatus, DateOrder
from clinic.errors import ClinicError
from clinic.permissions import manager_required
from clinic.spreadsheets import cell

ONLY_MANAGERS = "Importing clients is for the clinic's managers."
# rows of each kind the preview lists (all are counted; all are imported)
ROWS_SHOWN = 200


@manager_required(ONLY_MANAGERS)
def client_import_start(request):
    """Upload a CSV of clients; the imports made or put aside before."""
    member = request.staff_member
    error = ""
    if request.method == "POST":
        upload = request.FILES.get("file")
        try:
            if upload is None:
                raise ClinicError("Choose the CSV file to import.", code="no_file")
            refuse_if_too_big(upload.size)
            client_import = client_import_read(
                clinic=member.clinic, uploaded_by=member, file_name=upload.name, data=upload.read()
            )
        except ClinicError as refusal:
            error = refusal.message
        else:
            return redirect("client-import", client_import.pk)
    imports = (
        ClientImport.objects.filter(clinic=member.clinic)
        .select_related("uploaded_by", "done_by")
        .defer("text", "left_out")[:20]
    )
    return render(
        request,
        "clients/client_import_start.html",
        {"error": error, "imports": imports, "max_rows": MAX_IMPORT_ROWS},
        status=400 if error else 200,
    )


def _import_of_clinic(request, pk) -> ClientImport:
    return get_object_or_404(
        ClientImport.objects.select_related("clinic", "uploaded_by", "done_by"),
        pk=pk,
        clinic=request.staff_member.clinic,
    )


@manager_required(ONLY_MANAGERS)
def client_import_detail(request, pk):
    """What the file holds and what importing it does; the columns and date order to change; import."""
    client_import = _import_of_clinic(request, pk)
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "settings":
                client_import_settings(
                    client_import,
                    mapping=[request.POST.get(f"column-{i}", "") for i in range(len(client_import.columns))],
                    date_order=request.POST.get("date_order", ""),
                )
                messages.success(request, "Checked again with what you chose.")
            elif action == "apply":
                done = client_import_apply(client_import, actor=request.staff_member)
                left = len(done.left_out)
                messages.success(
                    request,
                    f"{done.imported_count} clients imported."
                    + (
                        f" {left} rows were not: they are listed below, to fix and import again."
                        if left
                        else ""
                    ),
                )
            elif action == "discard":
                client_import_discard(client_import, actor=request.staff_member)
                messages.success(request, "Put aside: nothing was imported, and the file is not kept.")
            else:
                raise Http404("No such action.")
        except ClinicError as refusal:
            messages.error(request, refusal.message)
        return redirect("client-import", pk)
    context = {
        "client_import": client_import,
        "fields": IMPORT_FIELDS,
        "date_orders": DateOrder.choices,
        "keep_left_out_days": KEEP_LEFT_OUT_DAYS,
    }
    if client_import.status == ClientImportStatus.READ:
        preview = import_preview(client_import)
        samples = column_samples(client_import)
        context.update(
            preview=preview,
            counts=preview.counts,
            columns=[
                {"index": i, "name": name, "detail": client_import.mapping[i], "samples": samples[i]}
                for i, name in enumerate(client_import.columns)
            ],
            new_rows=preview.of(NEW)[:ROWS_SHOWN],
            warnings=[row for row in preview.of(NEW) if row.warning][:ROWS_SHOWN],
            already=preview.of(ALREADY)[:ROWS_SHOWN],
            twice=preview.of(TWICE)[:ROWS_SHOWN],
            refused=preview.of(REFUSED)[:ROWS_SHOWN],
            rows_shown=ROWS_SHOWN,
        )
    else:
        context["left_out"] = [
            {**row, "said": row_said(row["cells"])} for row in client_import.left_out[:ROWS_SHOWN]
        ]
    return render(request, "clients/client_import_detail.html", context)


@manager_required(ONLY_MANAGERS)
def client_import_left_out(request, pk):
    """The rows an import left out, as a CSV to fix and import again."""
    client_import = _import_of_clinic(request, pk)
    if client_import.status != ClientImportStatus.IMPORTED:
        raise Http404("This file was not imported: there is no list of rows left out yet.")
    if not client_import.left_out:
        raise Http404(f"The rows this import left out were forgotten {KEEP_LEFT_OUT_DAYS} days after it.")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    writer = csv.writer(response)
    for row in left_out_rows(client_import):
        writer.writerow([cell(value) for value in row])
    stem = (
        re.sub(r"[^A-Za-z0-9._-]+", "-", client_import.file_name.rsplit(".", 1)[0]).strip("-.") or "clients"
    )
    response["Content-Disposition"] = f'attachment; filename="{stem}-not-imported.csv"'
    return response
