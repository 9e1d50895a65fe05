"""Time off for staff: record a sick day or a course, see the booked visits it leaves to move.

It lives in the treatments layer because it shows the visits that fall in the time off.
"""

import datetime as dt

from django.contrib import messages
from django.db import transaction
from django.db.models import Q
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from clinic.errors import ClinicError
from clinic.models import (
    ClinicClosure,
    Device,
    ExtraHours,
    OutOfService,
    Room,
    StaffMember,
    StaffRole,
    TimeOff,
    WorkingHours,
)
from clinic.out_of_service import out_of_service_record, out_of_service_remove
from clinic.parsing import parse_id
from clinic.permissions import staff_required
from clinic.time_off import (
    clinic_closure_record,
    clinic_closure_remove,
    extra_hours_record,
    extra_hours_remove,
    time_off_record,
    time_off_remove,
)
from clinic.wording import rotas_said
from treatments.booking import hand_over_visits
from treatments.forms import EVERYONE, ExtraHoursForm, OutOfServiceForm, TimeOffForm
from treatments.models import INACTIVE_STATUSES, Appointment, AppointmentStatus
from treatments.selectors import (
    AWAY,
    LEFT,
    NOT_QUALIFIED,
    NOT_WORKING,
    active_practitioners,
    outside_working_hours,
    short_local,
    time_off_clashes,
    visits_left_without_their_practitioner,
)
from treatments.waitlist import waitlist_offer_extra_hours, waitlist_offer_free_time

COMING_SHOWN = 100
# Visits named under each practitioner whose hours leave them out; the rest are counted.
OFF_HOURS_NAMED = 20


def _span(off: TimeOff | ExtraHours | ClinicClosure | dict, zone) -> str:
    start, end = (off["start"], off["end"]) if isinstance(off, dict) else (off.start, off.end)
    return f"{short_local(start, zone)} – {short_local(end, zone)}"


def _visits_said(count: int, where: str) -> str:
    """ " 1 booked visit falls in it: move it below." / " 3 booked visits now fall …: move them below." """
    if count == 1:
        return f" 1 booked visit {where.format(fall='falls')}: move it below."
    return f" {count} booked visits {where.format(fall='fall')}: move them below."


@staff_required
@require_http_methods(["GET", "POST"])
def time_off(request):
    """Record time off for a practitioner; list the time off to come with the visits booked in it."""
    clinic = request.staff_member.clinic
    zone = clinic.zone
    practitioners = active_practitioners(clinic)
    today = timezone.localdate(timezone=zone)
    whole_day = {
        "start": dt.datetime.combine(today, dt.time(0)).strftime("%Y-%m-%dT%H:%M"),
        "end": dt.datetime.combine(today + dt.timedelta(days=1), dt.time(0)).strftime("%Y-%m-%dT%H:%M"),
    }
    form = TimeOffForm(request.POST or None, practitioners=practitioners, initial=whole_day)
    extra_form = ExtraHoursForm(
        practitioners=practitioners,
        prefix="extra",
        initial={
            "start": dt.datetime.combine(today, dt.time(17)).strftime("%Y-%m-%dT%H:%M"),
            "end": dt.datetime.combine(today, dt.time(19)).strftime("%Y-%m-%dT%H:%M"),
        },
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            chosen = form.cleaned_data.pop("practitioner")
            try:
                if chosen == EVERYONE:
                    closure = clinic_closure_record(clinic=clinic, **form.cleaned_data)
                    offs, who = list(closure.time_off.all()), "the clinic is closed"
                else:
                    offs = [time_off_record(clinic=clinic, practitioner=chosen, **form.cleaned_data)]
                    who = f"{chosen.display_name} off"
            except ClinicError as refusal:
                form.add_error(None, refusal.message)
            else:
                visits = _visits_in(offs)
                booked = len(time_off_clashes(visits, offs))
                note = f"Saved: {who} {_span(form.cleaned_data, zone)}."
                if booked:
                    note += _visits_said(booked, "{fall} in it")
                messages.success(request, note)
                return redirect("time-off")
        status = 400
    return _page(request, form=form, extra_form=extra_form, status=status)


def _down_form(clinic, data=None) -> OutOfServiceForm:
    today = timezone.localdate(timezone=clinic.zone)
    return OutOfServiceForm(
        data,
        rooms=Room.objects.filter(clinic=clinic, is_active=True).order_by("name", "id"),
        devices=Device.objects.filter(clinic=clinic, is_active=True).order_by("name", "id"),
        prefix="down",
        initial={
            "start": dt.datetime.combine(today, dt.time(9)).strftime("%Y-%m-%dT%H:%M"),
            "end": dt.datetime.combine(today, dt.time(17)).strftime("%Y-%m-%dT%H:%M"),
        },
    )


def _out_of_service_coming(clinic) -> list[dict]:
    """The rooms and devices out of service from now on, each with the visits booked with it then
    (two queries)."""
    periods = list(
        OutOfService.objects.filter(clinic=clinic, end__gt=timezone.now())
        .select_related("room", "device")
        .order_by("start", "id")[:COMING_SHOWN]
    )
    return [
        {"period": period, "span": _span(period, clinic.zone), "visits": visits}
        for period, visits in _visits_holding(clinic, periods)
    ]


def _visits_holding(clinic, periods: list[OutOfService]) -> list[tuple[OutOfService, list[Appointment]]]:
    """Each period with the visits still to be had that hold its room or device in it (one query; none
    without periods)."""
    if not periods:
        return []
    visits = list(
        Appointment.objects.filter(
            Q(room_id__in={p.room_id for p in periods if p.room_id})
            | Q(device_id__in={p.device_id for p in periods if p.device_id})
            | Q(second_device_id__in={p.device_id for p in periods if p.device_id}),
            clinic=clinic,
            blocked_start__lt=max(p.end for p in periods),
            blocked_end__gt=min(p.start for p in periods),
        )
        .exclude(status__in=[*INACTIVE_STATUSES, AppointmentStatus.FULFILLED])
        .select_related("client", "service", "practitioner")
        .order_by("start", "id")
    )

    def holds(visit, period) -> bool:
        if period.room_id:
            held = visit.room_id == period.room_id
        else:
            held = period.device_id in (visit.device_id, visit.second_device_id)
        return held and visit.blocked_start < period.end and visit.blocked_end > period.start

    return [(period, [v for v in visits if holds(v, period)]) for period in periods]


def _page(request, *, form, extra_form, status, down_form=None):
    """The time off page: its forms, the time off to come with its visits, the extra hours to come, and
    the rooms and devices out of service with the visits booked with them."""
    clinic = request.staff_member.clinic
    zone = clinic.zone
    practitioners = active_practitioners(clinic)
    ahead = TimeOff.objects.filter(staff_member__clinic=clinic, end__gt=timezone.now()).select_related(
        "staff_member"
    )
    # each practitioner's own time off, the first COMING_SHOWN; the closures come whole, with every share
    coming = list(ahead.filter(closure=None).order_by("start", "id")[:COMING_SHOWN])
    closures = list(
        ClinicClosure.objects.filter(clinic=clinic, end__gt=timezone.now()).order_by("start", "id")[
            :COMING_SHOWN
        ]
    )
    shares = list(ahead.filter(closure__in=closures)) if closures else []
    visits = _visits_in(coming + shares)
    clashes = time_off_clashes(visits, coming + shares)
    rows = [
        {
            "off": off,
            "span": _span(off, zone),
            "visits": [v for v in visits if clashes.get(v.pk) == off],
        }
        for off in coming
    ]
    rows += _closures(clinic, closures, shares, visits, clashes, practitioners)
    rows.sort(key=lambda row: (row.get("closure") or row["off"]).start)
    extra_coming = [
        {"extra": extra, "span": _span(extra, zone)}
        for extra in ExtraHours.objects.filter(staff_member__clinic=clinic, end__gt=timezone.now())
        .select_related("staff_member")
        .order_by("start", "id")[:COMING_SHOWN]
    ]
    return render(
        request,
        "treatments/time_off.html",
        {
            "form": form,
            "extra_form": extra_form,
            "extra_coming": extra_coming,
            "rows": rows,
            "practitioners": practitioners,
            "off_hours": _off_hours_by_practitioner(clinic),
            "down_form": down_form or _down_form(clinic),
            "down_coming": _out_of_service_coming(clinic),
            "rotas": _rotas(practitioners, timezone.localdate(timezone=zone)),
        },
        status=status,
    )


def _rotas(practitioners, today: dt.date) -> list[dict]:
    """Each active practitioner's weekly hours in force today and any new rota to come (one query)."""
    hours: dict[int, list[WorkingHours]] = {}
    for row in WorkingHours.objects.filter(staff_member__in=practitioners):
        hours.setdefault(row.staff_member_id, []).append(row)
    return [
        {"practitioner": member, "rotas": rotas_said(hours.get(member.pk, []), today)}
        for member in practitioners
    ]


def _closures(clinic, closures, shares: list[TimeOff], visits, clashes, practitioners) -> list[dict]:
    """The clinic's closures to come, each with who is off, who comes in after all, and the visits
    booked in it (to move to another day: everyone is off)."""
    rows = []
    for closure in closures:
        its_shares = [off for off in shares if off.closure_id == closure.pk]
        off_ids = {off.staff_member_id for off in its_shares}
        rows.append(
            {
                "closure": closure,
                "span": _span(closure, clinic.zone),
                "shares": its_shares,
                "working": [p for p in practitioners if p.pk not in off_ids],
                "visits": sorted(
                    (v for v in visits if clashes.get(v.pk) in its_shares), key=lambda v: (v.start, v.pk)
                ),
            }
        )
    return rows


# What the visit's history says of the practitioner it was moved from, by why they could not see the client.
MOVED_BECAUSE = {
    LEFT: "no longer here",
    NOT_WORKING: "not working then",
    NOT_QUALIFIED: "not qualified for it",
}
# The heading of a practitioner's visits to move, when all are for the one reason.
CANNOT_BECAUSE = {
    LEFT: "is no longer active",
    NOT_WORKING: "does not work then",
    NOT_QUALIFIED: "is not qualified for them",
}


def _outside_hours(visits_and_why) -> list[tuple[Appointment, str]]:
    """The visits left without their practitioner other than by time off (listed under the time off)."""
    return [(visit, why) for visit, why in visits_and_why if why != AWAY]


def _off_hours_by_practitioner(clinic) -> list[dict]:
    """The visits ahead booked when their practitioner no longer works, by practitioner (three queries)."""
    left = visits_left_without_their_practitioner(clinic=clinic, now=timezone.now())
    groups: dict[int, dict] = {}
    for visit, why in _outside_hours(left):
        group = groups.setdefault(visit.practitioner_id, {"practitioner": visit.practitioner, "visits": []})
        visit.why = why
        group["visits"].append(visit)
    for group in groups.values():
        reasons = {visit.why for visit in group["visits"]}
        group["cannot"] = (
            CANNOT_BECAUSE[reasons.pop()] if len(reasons) == 1 else "cannot see these clients then"
        )
        group["mixed"] = bool(reasons)
        group["shown"], group["more"] = (
            group["visits"][:OFF_HOURS_NAMED],
            len(group["visits"]) - OFF_HOURS_NAMED,
        )
    return sorted(groups.values(), key=lambda g: (g["practitioner"].display_name, g["practitioner"].pk))


def _visits_in(time_off: list[TimeOff]) -> list[Appointment]:
    """The booked visits of these practitioners between the first start and the last end (one query)."""
    if not time_off:
        return []
    return list(
        Appointment.objects.filter(
            practitioner_id__in={off.staff_member_id for off in time_off},
            start__lt=max(off.end for off in time_off),
            end__gt=min(off.start for off in time_off),
        )
        .exclude(status__in=INACTIVE_STATUSES)
        .select_related("client", "service", "practitioner")
        .order_by("start", "id")
    )


def _visits_to_move(off: TimeOff) -> list[Appointment]:
    """The visits still to be had that fall in this time off."""
    visits = _visits_in([off])
    clashes = time_off_clashes(visits, [off])
    return [v for v in visits if v.pk in clashes]


@staff_required
@require_POST
def extra_hours(request):
    """Record a practitioner's extra hours; the waitlist hears of the time in the same transaction."""
    clinic = request.staff_member.clinic
    practitioners = active_practitioners(clinic)
    extra_form = ExtraHoursForm(request.POST, practitioners=practitioners, prefix="extra")
    if extra_form.is_valid():
        try:
            with transaction.atomic():
                extra = extra_hours_record(clinic=clinic, **extra_form.cleaned_data)
                offered = waitlist_offer_extra_hours(extra)
        except ClinicError as refusal:
            extra_form.add_error(None, refusal.message)
        else:
            note = (
                f"Saved: {extra.staff_member.display_name} works {_span(extra, clinic.zone)}; bookable now."
            )
            if offered:
                clients = f"{offered} client{'' if offered == 1 else 's'}"
                note += f" {clients} on the waitlist emailed the link to book."
            messages.success(request, note)
            return redirect(reverse("time-off") + "#extra-hours")
    form = TimeOffForm(practitioners=practitioners)
    return _page(request, form=form, extra_form=extra_form, status=400)


@staff_required
@require_POST
def extra_hours_delete(request, pk):
    """Take back extra hours; the visits booked in them stay booked and are flagged to move."""
    clinic = request.staff_member.clinic
    removed = extra_hours_remove(clinic=clinic, extra_hours_id=pk)
    if removed is None:
        messages.error(request, "Those extra hours were already taken back.")
        return redirect("time-off")
    span = _span(removed, clinic.zone)
    to_move = outside_working_hours(
        list(
            Appointment.objects.filter(
                practitioner=removed.staff_member, start__lt=removed.end, end__gt=removed.start
            )
            .exclude(status__in=INACTIVE_STATUSES)
            .select_related("practitioner")
        ),
        clinic.zone,
    )
    note = f"Taken back: {removed.staff_member.display_name}'s extra hours {span}."
    if to_move:
        note += _visits_said(len(to_move), "now {fall} outside their hours")
    messages.success(request, note)
    return redirect(reverse("time-off") + "#off-hours")


def _take_back(request, remove, *, because: str, gone: str, said):
    """Take back time off or a closure (`remove(clinic)` returns it, or None if it was gone already);
    the time is free again, so the waitlist hears of it in the same transaction."""
    clinic = request.staff_member.clinic
    with transaction.atomic():
        removed = remove(clinic)
        if removed is not None:
            waitlist_offer_free_time(clinic, start=removed.start, end=removed.end, because=because)
    if removed is None:
        messages.error(request, gone)
    else:
        messages.success(request, said(removed, _span(removed, clinic.zone)))
    return redirect("time-off")


@staff_required
@require_POST
def time_off_delete(request, pk):
    """Take back time off entered by mistake."""
    return _take_back(
        request,
        lambda clinic: time_off_remove(clinic=clinic, time_off_id=pk),
        because=f"time-off:{pk}",
        gone="That time off was already taken back.",
        said=lambda off, span: f"Taken back: {off.staff_member.display_name} off {span}.",
    )


@staff_required
@require_POST
def closure_delete(request, pk):
    """Open the clinic again: take back a closure, everyone's time off with it."""
    return _take_back(
        request,
        lambda clinic: clinic_closure_remove(clinic=clinic, closure_id=pk),
        because=f"closure:{pk}",
        gone="That closure was already taken back.",
        said=lambda _closure, span: f"Taken back: the clinic is open {span}.",
    )


@staff_required
@require_POST
def out_of_service_add(request):
    """Take a room or device out of service for a while; the visits booked with it then are listed."""
    clinic = request.staff_member.clinic
    down_form = _down_form(clinic, request.POST)
    if down_form.is_valid():
        fields = down_form.cleaned_data
        try:
            period = out_of_service_record(
                clinic=clinic,
                start=fields["start"],
                end=fields["end"],
                reason=fields["reason"],
                **fields["what"],
            )
        except ClinicError as refusal:
            down_form.add_error(None, refusal.message)
        else:
            [(_, visits)] = _visits_holding(clinic, [period])
            count = len(visits)
            note = f"Saved: {period.name} out of service {_span(period, clinic.zone)}."
            if count == 1:
                note += " 1 booked visit uses it then: give it another below."
            elif count:
                note += f" {count} booked visits use it then: give each another below."
            messages.success(request, note)
            return redirect(reverse("time-off") + "#out-of-service")
    return _page(
        request,
        form=TimeOffForm(practitioners=active_practitioners(clinic)),
        extra_form=ExtraHoursForm(practitioners=active_practitioners(clinic), prefix="extra"),
        down_form=down_form,
        status=400,
    )


@staff_required
@require_POST
def out_of_service_delete(request, pk):
    """Put a room or device back in service: its time is free again, and the waitlist hears of it."""

    def said(period, span):
        return f"Taken back: {period.name} is in service {span}."

    return _take_back(
        request,
        lambda clinic: out_of_service_remove(clinic=clinic, period_id=pk),
        because=f"out-of-service:{pk}",
        gone="That was already taken back.",
        said=said,
    )


@staff_required
@require_POST
def time_off_hand_over(request, pk):
    """Move the visits booked in a practitioner's time off to a colleague, at their own times."""
    clinic = request.staff_member.clinic
    off = TimeOff.objects.filter(pk=pk, staff_member__clinic=clinic).select_related("staff_member").first()
    colleague = _colleague_chosen(request, instead_of=off.staff_member_id if off else None)
    if off is None or colleague is None:
        return redirect("time-off")
    to_move = _visits_to_move(off)
    _hand_over(request, [(visit, f"{off.staff_member.display_name} away") for visit in to_move], colleague)
    if not to_move:
        messages.info(request, "No booked visits fall in that time off.")
    return redirect("time-off")


@staff_required
@require_POST
def off_hours_hand_over(request, pk):
    """Move the visits booked when a practitioner no longer works (new hours, or they left) to a colleague."""
    clinic = request.staff_member.clinic
    absent = StaffMember.objects.filter(pk=pk, clinic=clinic, role=StaffRole.PRACTITIONER).first()
    colleague = _colleague_chosen(request, instead_of=absent.pk if absent else None)
    if absent is None or colleague is None:
        return redirect("time-off")
    to_move = _outside_hours(visits_left_without_their_practitioner(absent, now=timezone.now()))
    _hand_over(
        request, [(visit, f"{absent.display_name} {MOVED_BECAUSE[why]}") for visit, why in to_move], colleague
    )
    if not to_move:
        messages.info(request, f"No booked visits of {absent.display_name} are left to move.")
    return redirect("time-off")


def _colleague_chosen(request, *, instead_of: int | None) -> StaffMember | None:
    """The active practitioner picked in the form ("to") to take someone's visits; None, said, if none."""
    colleague = StaffMember.objects.filter(
        clinic=request.staff_member.clinic,
        role=StaffRole.PRACTITIONER,
        is_active=True,
        pk=parse_id(request.POST.get("to")),
    ).first()
    if instead_of is None or colleague is None or colleague.pk == instead_of:
        messages.error(request, "Pick a colleague from the list to take the visits.")
        return None
    return colleague


def _hand_over(request, to_move: list[tuple[Appointment, str]], colleague: StaffMember) -> None:
    """Move each visit to the colleague at its own time, its history giving its reason; say what moved
    and, for each left, why."""
    moved, refused = [], []
    for reason in dict.fromkeys(reason for _visit, reason in to_move):
        done, not_done = hand_over_visits(
            [visit for visit, r in to_move if r == reason], to=colleague, actor=request.user, reason=reason
        )
        moved += done
        refused += not_done
    zone = request.staff_member.clinic.zone
    if moved:
        messages.success(
            request,
            f"Moved {len(moved)} of {len(to_move)} visit{'' if len(to_move) == 1 else 's'} to "
            f"{colleague.display_name}; each client will be told.",
        )
    for visit, why in refused:
        messages.error(
            request, f"Not moved: {short_local(visit.start, zone)} {visit.client.full_name}. {why}"
        )
