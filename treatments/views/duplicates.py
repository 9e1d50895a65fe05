"""Two records of one client: the list of likely pairs, and the page that compares and merges a pair.

Anyone at the clinic sees the pairs and may say two records are two people; merging, which moves
health records, is for managers, and so is undoing a merge of two people taken for one.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.text import capfirst
from django.views.decorators.http import require_http_methods

from clients.merging import (
    LARGEST_SHARED_GROUP,
    MERGEABLE_DETAILS,
    client_merge,
    client_merge_undo,
    clients_distinct,
    held_said,
    likely_duplicates,
    match_reasons,
    merge_undo_refusal,
    rows_held,
    rows_to_move_back,
)
from clients.models import Client, ClientMerge
from clinic.errors import ClinicError
from clinic.permissions import manager_required, staff_required
from clinic.wording import listed
from treatments.selectors import visits_at_once
from treatments.waitlist import open_entries


@staff_required
def duplicates(request):
    """The clinic's records that look like one person twice, newest first."""
    return render(
        request,
        "treatments/duplicates.html",
        {
            "pairs": likely_duplicates(request.staff_member.clinic),
            "may_merge": request.staff_member.is_manager,
            "largest_group": LARGEST_SHARED_GROUP,
        },
    )


@staff_required
@require_http_methods(["GET", "POST"])
def client_same_as(request, pk, other):
    """Compare two records side by side; a manager merges `other` into `pk`, choosing detail by detail."""
    clinic = request.staff_member.clinic
    kept = get_object_or_404(Client, pk=pk, clinic=clinic)
    merged = get_object_or_404(Client.objects.exclude(pk=pk), pk=other, clinic=clinic)
    if request.method == "POST":
        if request.POST.get("action") == "distinct":
            clients_distinct(first=kept, second=merged, by=request.staff_member)
            messages.success(
                request, f"Noted: {kept.full_name} and {merged.full_name} are two people. Not offered again."
            )
            return redirect("client-duplicates")
        if not request.staff_member.is_manager:
            raise PermissionDenied("Merging records moves health records: ask a manager.")
        take = frozenset(name for name in MERGEABLE_DETAILS if request.POST.get(name) == "merged")
        try:
            merge = client_merge(kept=kept, merged=merged, by=request.staff_member, take_from_merged=take)
        except ClinicError as refusal:
            messages.error(request, refusal.message)
            if refusal.code == "record_gone":
                return redirect("client-detail", pk=kept.pk)
            return redirect("client-same-as", pk=kept.pk, other=merged.pk)
        messages.success(
            request,
            f"Merged {merge.merged_name}'s record into {merge.kept.full_name}'s: "
            f"{held_said(merge.moved)} moved.",
        )
        return redirect("client-detail", pk=kept.pk)

    held = rows_held([kept, merged])
    details = [
        {
            "name": name,
            "label": label,
            "kept": getattr(kept, name),
            "merged": getattr(merged, name),
            # both have it and they differ: the manager chooses; otherwise whichever has it is kept
            "choose": getattr(kept, name) not in ("", None)
            and getattr(merged, name) not in ("", None)
            and getattr(kept, name) != getattr(merged, name),
        }
        for name in MERGEABLE_DETAILS
        for label in [capfirst(Client._meta.get_field(name).verbose_name)]
    ]
    return render(
        request,
        "treatments/client_same_as.html",
        {
            "kept": kept,
            "merged": merged,
            "reasons": listed(list(match_reasons(kept, merged))),
            "details": details,
            "births_differ": kept.date_of_birth
            and merged.date_of_birth
            and kept.date_of_birth != merged.date_of_birth,
            "kept_holds": held_said(held[kept.pk]),
            "merged_holds": held_said(held[merged.pk]),
            "overlapping": visits_at_once(kept, merged),
            "waiting_twice": _waiting_twice(kept, merged),
            "may_merge": request.staff_member.is_manager,
        },
    )


def _waiting_twice(kept: Client, merged: Client) -> list[str]:
    """The services both records wait for on the waitlist (the desk may end one place once merged)."""
    entries = open_entries(kept.clinic).filter(Q(client=kept) | Q(client=merged)).select_related("service")
    by_service: dict[int, set[int]] = {}
    names = {}
    for entry in entries:
        by_service.setdefault(entry.service_id, set()).add(entry.client_id)
        names[entry.service_id] = entry.service.name
    return sorted(names[s] for s, clients in by_service.items() if len(clients) == 2)


@manager_required("Undoing a merge moves health records between two people: ask a manager.")
@require_http_methods(["GET", "POST"])
def merge_undo(request, pk):
    """Take back a merge of two people taken for one: the page says what moves back; a manager does it."""
    merge = get_object_or_404(
        ClientMerge.objects.select_related("kept", "merged_by", "undone_by", "clinic"),
        pk=pk,
        clinic=request.staff_member.clinic,
    )
    if request.method == "POST":
        try:
            undone = client_merge_undo(merge=merge, by=request.staff_member)
        except ClinicError as refusal:
            messages.error(request, refusal.message)
            return redirect("client-detail", pk=merge.kept_id)
        other = undone.kept.full_name
        if other == undone.restored.full_name:  # two people of one name: told apart by their records
            other = f"the {other} registered {undone.kept.created_at:%d %b %Y}"
        said = [
            f"{undone.restored.full_name}'s record is back, with {held_said(undone.moved_back)}, "
            f"and noted as another person than {other}."
        ]
        if undone.details_kept_as_changed:
            said.append(
                f"{capfirst(listed(list(undone.details_kept_as_changed)))} on {undone.kept.full_name}'s "
                "record stay as changed since the merge: check them."
            )
        if undone.emails_back_on_their_way:
            n = undone.emails_back_on_their_way
            said.append(f"{n} email{'s' if n != 1 else ''} the merge had stopped will go again.")
        messages.success(request, " ".join(said))
        return redirect("client-detail", pk=undone.restored.pk)
    return render(
        request,
        "treatments/merge_undo.html",
        {
            "merge": merge,
            "refusal": merge_undo_refusal(merge),
            "moves_back": held_said(rows_to_move_back(merge)) if merge.moved_rows else "",
        },
    )
