"""After a manager corrects the clinic's time zone: the visits booked while it was wrong keep their clock
times, in one action (each moved as a reschedule, with its checks and its notice to the client)."""

import zoneinfo

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils import timezone

from clinic.permissions import staff_required
from treatments.booking import same_clock_time_in, visits_keep_their_clock_times
from treatments.models import Appointment, AppointmentStatus

SHOWN = 30


def _zone_named(name: str):
    if name not in zoneinfo.available_timezones():
        return None
    return zoneinfo.ZoneInfo(name)


@staff_required
def keep_clock_times(request):
    """Show what keeping the clock times would do to the visits ahead; do it on POST."""
    member = request.staff_member
    if not member.is_manager:
        raise PermissionDenied("Only a manager moves every visit ahead at once.")
    clinic = member.clinic
    was_name = (request.POST.get("from") or request.GET.get("from") or "").strip()
    was_zone = _zone_named(was_name)
    problem = ""
    if was_zone is None:
        problem = "Give the time zone the clinic had before, as in its settings (e.g. UTC or Europe/London)."
    elif was_name == clinic.time_zone:
        problem = f"The clinic's time zone is {clinic.time_zone} already: nothing would move."
    if request.method == "POST" and not problem:
        moved, refused = visits_keep_their_clock_times(clinic, was_zone_name=was_name, actor=request.user)
        messages.success(
            request,
            f"{len(moved)} visit{'' if len(moved) == 1 else 's'} moved back to the clock times they were "
            "booked at; each client is sent the new time with a corrected invite.",
        )
        for visit, why in refused:
            shows = timezone.localtime(visit.start, clinic.zone)
            messages.error(request, f"{visit.client.full_name}, {shows:%a %d %b %H:%M}: not moved. {why}")
        return redirect("home")
    ahead = (
        []
        if problem
        else list(
            Appointment.objects.filter(
                clinic=clinic, status=AppointmentStatus.BOOKED, start__gt=timezone.now()
            )
            .select_related("client", "practitioner", "service")
            .order_by("start", "id")
        )
    )
    rows = [
        {"visit": visit, "target": same_clock_time_in(visit.start, was_zone=was_zone, zone=clinic.zone)}
        for visit in ahead
    ]
    return render(
        request,
        "treatments/keep_clock_times.html",
        {
            "problem": problem,
            "was_name": was_name,
            "rows": [r for r in rows if r["target"] != r["visit"].start][:SHOWN],
            "moving": sum(1 for r in rows if r["target"] != r["visit"].start),
        },
        status=400 if problem else 200,
    )
