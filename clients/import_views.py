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
    client_import_settings,
    column_samples,
    import_file_read,
    import_preview,
    left_out_rows,
    refuse_if_too_big,
    row_said,
)
from clients.models import ClientImport, ClientImportStatus, DateOrder, ImportKind
from clinic.errors import ClinicError
from clinic.permissions import manager_required
from clinic.spreadsheets import cell

ONLY_MANAGERS = "Importing clients is for the clinic's managers."
# rows of each kind the preview lists (all are counted; all are imported)
ROWS_SHOWN = 200


def import_start_page(request, *, kind: str, template: str, detail_url: str, context: dict):
    """Upload a CSV file of a kind (`clients.imports.FILE_KINDS`) and go to its preview; the files of
    that kind read before. The clients' and the visits' pages."""
    member = request.staff_member
    error = ""
    if request.method == "POST":
        upload = request.FILES.get("file")
        try:
            if upload is None:
                raise ClinicError("Choose the CSV file to import.", code="no_file")
            refuse_if_too_big(upload.size)
            client_import = import_file_read(
                clinic=member.clinic, uploaded_by=member, file_name=upload.name, data=upload.read(), kind=kind
            )
        except ClinicError as refusal:
            error = refusal.message
        else:
            return redirect(detail_url, client_import.pk)
    imports = (
        ClientImport.objects.filter(clinic=member.clinic, kind=kind)
        .select_related("uploaded_by", "done_by")
        .defer("text", "left_out")[:20]
    )
    return render(
        request, template, {**context, "error": error, "imports": imports}, status=400 if error else 200
    )


@manager_required(ONLY_MANAGERS)
def client_import_start(request):
    """Upload a CSV of clients; the imports made or put aside before."""
    return import_start_page(
        request,
        kind=ImportKind.CLIENTS,
        template="clients/client_import_start.html",
        detail_url="client-import",
        context={"max_rows": MAX_IMPORT_ROWS},
    )


def import_of_clinic(request, pk, *, kind: str | None = ImportKind.CLIENTS) -> ClientImport:
    """The clinic's import `pk` (of `kind`, if given), or 404."""
    kinds = {"kind": kind} if kind else {}
    return get_object_or_404(
        ClientImport.objects.select_related("clinic", "uploaded_by", "done_by"),
        pk=pk,
        clinic=request.staff_member.clinic,
        **kinds,
    )


@manager_required(ONLY_MANAGERS)
def client_import_detail(request, pk):
    """What the file holds and what importing it does; the columns and date order to change; import."""
    client_import = import_of_clinic(request, pk)
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
    """The rows an import (of clients or of visits) left out, as a CSV to fix and import again."""
    client_import = import_of_clinic(request, pk, kind=None)
    if client_import.status != ClientImportStatus.IMPORTED:
        raise Http404("This file was not imported: there is no list of rows left out yet.")
    if not client_import.left_out:
        raise Http404(f"The rows this import left out were forgotten {KEEP_LEFT_OUT_DAYS} days after it.")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    writer = csv.writer(response)
    for row in left_out_rows(client_import):
        writer.writerow([cell(value) for value in row])
    name = client_import.file_name.rsplit(".", 1)[0]
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or client_import.kind
    response["Content-Disposition"] = f'attachment; filename="{stem}-not-imported.csv"'
    return response
