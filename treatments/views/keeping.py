"""The manager's list of client records past their keeping time, to review and erase."""

from django.contrib import messages
from django.shortcuts import redirect, render

from clients.models import Client
from clinic.errors import ClinicError
from clinic.permissions import manager_required
from treatments.keeping import LISTED_AT_ONCE, client_erase_past_keeping, records_past_keeping


@manager_required("Erasing clients' records is for a manager: ask one.")
def records_past_keeping_view(request):
    """Managers: the records nothing has happened on for the clinic's keeping time, the longest
    past it first; those ticked are erased, each on its own (one that has changed since is not)."""
    clinic = request.staff_member.clinic
    error = ""
    if request.method == "POST":
        chosen = request.POST.getlist("client")
        if request.POST.get("reviewed") != "yes":
            error = "Tick the box to confirm the clinic does not need to keep the records ticked."
        elif not chosen:
            error = "Tick at least one record to erase."
        else:
            erased, refused = 0, []
            for client in Client.objects.filter(clinic=clinic, pk__in=[pk for pk in chosen if pk.isdigit()]):
                name = client.full_name
                try:
                    client_erase_past_keeping(client=client, by=request.staff_member)
                except ClinicError as refusal:
                    refused.append(f"{name}: {refusal.message}")
                else:
                    erased += 1
            if erased:
                messages.success(
                    request,
                    f"{erased} record{'s' if erased != 1 else ''} erased: nothing that names them is kept.",
                )
            for said in refused:
                messages.error(request, f"Not erased, {said}")
            return redirect("records-past-keeping")
    past = records_past_keeping(clinic)
    return render(
        request,
        "treatments/records_past_keeping.html",
        {"records": past[:LISTED_AT_ONCE], "count": len(past), "error": error},
        status=400 if error else 200,
    )
