"""Staff pages of the treatments layer."""

import datetime as dt

from django.conf import settings
from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from clients.selectors import refused_addresses
from clinic.errors import ClinicError
from clinic.parsing import parse_id
from clinic.permissions import staff_required
from clinic.time_off import closures_said
from clinic.wording import listed
from treatments.booking import (
    RUNNING_LATE_MINUTES,
    appointments_request_forms,
    running_late_tell,
    status_refusal,
)
from treatments.feedback import low_ratings_since
from treatments.forms import parse_local_date
from treatments.models import INACTIVE_STATUSES, AppointmentEvent, AppointmentStatus
from treatments.selectors import (
    active_practitioners,
    appointments_between,
    changes_by_clients,
    day_version,
    forms_missing,
    local_day_bounds,
    next_day_with_visits,
    records_to_sign_off,
    visits_later_today,
    visits_left_without_their_practitioner,
    with_paid,
)
from treatments.sessions import may_record
from treatments.stock import stock_alerts
from treatments.views.flags import flag_refused_addresses, flag_visits

# What the desk does next with a visit, in the order they come: action, status, button, spoken label.
# How far ahead today's list looks for visits nobody can see the client at.
SOON = dt.timedelta(days=14)
# Today's list says what clients booked, moved or cancelled themselves online this long back.
CLIENT_CHANGES_SINCE = dt.timedelta(hours=24)
# Managers see on today's list the low ratings clients gave this long back.
LOW_RATINGS_SHOWN = dt.timedelta(days=7)

NEXT_STEPS = [
    ("check_in", AppointmentStatus.ARRIVED, "Check in", "Check in {name} at {time}"),
    ("complete", AppointmentStatus.FULFILLED, "Completed", "Mark {name}'s visit at {time} completed"),
    ("no_show", AppointmentStatus.NOSHOW, "No-show", "Mark {name} a no-show for {time}"),
]


def _next_steps(appointment, now) -> list[tuple[str, str, str]]:
    """The status buttons the day's list offers for a visit: the ones its status and time allow.

    Check in on the day; completed once checked in (or for a day gone by, when nobody checked it in);
    no-show once its time has come and the client has not been checked in.
    """
    zone = appointment.clinic.zone
    local_start = timezone.localtime(appointment.start, zone)
    steps = []
    for action, status, label, spoken in NEXT_STEPS:
        if status_refusal(appointment, status, now=now) is not None:
            continue
        if (
            status == AppointmentStatus.FULFILLED
            and appointment.status == AppointmentStatus.BOOKED
            and timezone.localdate(now, zone) <= local_start.date()
        ):
            continue  # today, a visit is checked in before it is completed
        name = appointment.client.full_name
        steps.append((action, label, spoken.format(name=name, time=f"{local_start:%H:%M}")))
    return steps


def _to_chase(appointments, missing: dict[int, list[str]], now) -> list:
    """The visits still ahead whose client lacks forms (`missing`, from `forms_missing`)."""
    return [a for a in appointments if a.pk in missing and a.start > now]


@staff_required
def home(request):
    """Show the clinic's appointments for one local day (today unless ?date=YYYY-MM-DD)."""
    clinic = request.staff_member.clinic
    member = request.staff_member
    today = timezone.localdate(timezone=clinic.zone)
    day, date_error = parse_local_date(request.GET.get("date"), today)
    # before the visits are read: a change landing in between makes the page's next check differ
    version = day_version(clinic, day)
    appointments = list(with_paid(appointments_between(clinic=clinic, first_day=day, last_day=day)))
    # one practitioner's day (theirs to print, say), or everyone's
    practitioners = list(active_practitioners(clinic))
    only = next((p for p in practitioners if p.pk == parse_id(request.GET.get("practitioner"))), None)
    if only is not None:
        appointments = [a for a in appointments if a.practitioner_id == only.pk]
    active = [a for a in appointments if a.status not in INACTIVE_STATUSES]
    now = timezone.now()
    missing = flag_visits(appointments, clinic)
    confirmed, told_late, checked_in_themselves = set(), {}, set()
    for event in AppointmentEvent.objects.filter(
        appointment__in=[a.pk for a in active],
        action__in=["confirmed_by_client", "running_late", "status:arrived"],
    ).order_by("at", "id"):
        if event.action == "confirmed_by_client":
            confirmed.add(event.appointment_id)
        elif event.action == "running_late":
            told_late[event.appointment_id] = event  # the latest
        elif (event.details or {}).get("by_client"):
            checked_in_themselves.add(event.appointment_id)
    flag_refused_addresses(appointments)
    for appointment in appointments:
        appointment.confirmed_by_client = appointment.pk in confirmed
        appointment.told_running_late = told_late.get(appointment.pk)
        appointment.checked_in_themselves = appointment.pk in checked_in_themselves
        appointment.next_steps = _next_steps(appointment, now) if appointment.is_active else []
    to_chase = _to_chase(appointments, missing, now)
    # Today's list, where the desk starts, also says what in the next fortnight has nobody to see the client.
    to_move = (
        visits_left_without_their_practitioner(clinic=clinic, now=now, until=now + SOON)
        if day == today
        else []
    )
    return render(
        request,
        "treatments/home.html",
        {
            "day": day,
            "today": today,
            "day_version": version,
            "version_query": f"date={day.isoformat()}",
            "refresh_seconds": settings.DAY_REFRESH_SECONDS,
            "practitioners": practitioners,
            "only": only,
            # the other days' links keep the practitioner chosen
            "only_query": f"&practitioner={only.pk}" if only else "",
            "previous_day": day - dt.timedelta(days=1),
            "next_day": day + dt.timedelta(days=1),
            "appointments": appointments,
            "active_count": len(active),
            # a day with nothing on points to the next one that has visits
            "next_busy_day": None if active else next_day_with_visits(clinic=clinic, after=day),
            "date_error": date_error,
            "zone_name": clinic.time_zone,
            "closed": closures_said(clinic, *local_day_bounds(clinic, day)),
            "to_chase": to_chase,
            "to_chase_by_email": [a for a in to_chase if a.client.email and not a.email_refused],
            "to_sign_off": records_to_sign_off(member) if may_record(member) else [],
            "to_move": to_move,
            # visits still to start today: someone running late can tell their clients
            "later_today": day == today
            and any(a.status == AppointmentStatus.BOOKED and a.start > now for a in appointments),
            # products to order, lots to use first or throw away: for those who give them
            "stock_alerts": stock_alerts(clinic, on=today) if day == today and may_record(member) else None,
            # a client unhappy with a visit this week: for the managers to call back
            "low_ratings": low_ratings_since(clinic, since=now - LOW_RATINGS_SHOWN)
            if day == today and member.is_manager
            else [],
            # what clients did themselves online, for the desk to know before they call or arrive
            "by_clients": changes_by_clients(clinic, since=now - CLIENT_CHANGES_SINCE)
            if day == today
            else [],
        },
    )


@staff_required
@require_POST
def chase_forms(request):
    """Email the forms link to every client of the day (?date=) whose visit ahead still lacks forms."""
    clinic = request.staff_member.clinic
    day, error = parse_local_date(request.POST.get("date"), timezone.localdate(timezone=clinic.zone))
    if error or not request.POST.get("date"):
        messages.error(
            request, "Nothing was sent: the day was missing or not a date. Try again from its list."
        )
        return redirect("home")
    appointments = list(appointments_between(clinic=clinic, first_day=day, last_day=day))
    missing = forms_missing(appointments, clinic)
    now = timezone.now()
    sent, refused = appointments_request_forms(_to_chase(appointments, missing, now), actor=request.user)
    if sent:
        messages.success(
            request,
            f"Emailed the forms link to {len(sent)} client{'s' if len(sent) != 1 else ''}: "
            f"{', '.join(a.client.full_name for a in sent)}.",
        )
    for visit, reason in refused:
        messages.warning(
            request, f"{visit.client.full_name} ({visit.start.astimezone(clinic.zone):%H:%M}): {reason}"
        )
    if not sent and not refused:
        messages.info(request, "Nobody on this day is missing forms.")
    return redirect(f"{reverse('home')}?date={day.isoformat()}")


FORMS_AHEAD_DAYS = 60


def _visits_ahead_lacking_forms(clinic, now) -> tuple[list, dict[int, list[str]]]:
    ahead = list(
        appointments_between(
            clinic=clinic,
            first_day=timezone.localdate(now, clinic.zone),
            last_day=timezone.localdate(now, clinic.zone) + dt.timedelta(days=FORMS_AHEAD_DAYS),
        ).select_related("client")
    )
    missing = forms_missing(ahead, clinic)
    return _to_chase(ahead, missing, now), missing


@staff_required
def forms_ahead(request):
    """Every visit of the next two months whose client still lacks forms, and one action to email them all.

    For the day a manager publishes a new consent version: its signers are asked again. The reminders
    ask too, 24 h and 2 h before; emailing now gives the clients more time.
    """
    clinic = request.staff_member.clinic
    now = timezone.now()
    to_chase, missing = _visits_ahead_lacking_forms(clinic, now)
    if request.method == "POST":
        sent, refused = appointments_request_forms(to_chase, actor=request.user)
        if sent:
            messages.success(
                request, f"Emailed the forms link to {len(sent)} client{'s' if len(sent) != 1 else ''}."
            )
        for visit, reason in refused:
            shown = visit.start.astimezone(clinic.zone)
            messages.warning(request, f"{visit.client.full_name} ({shown:%a %d %b %H:%M}): {reason}")
        if not sent and not refused:
            messages.info(request, "No visit ahead is missing forms.")
        return redirect("forms-ahead")
    flag_refused_addresses(to_chase)
    return render(
        request,
        "treatments/forms_ahead.html",
        {
            "visits": [(visit, missing[visit.pk]) for visit in to_chase],
            "days": FORMS_AHEAD_DAYS,
            "zone_name": clinic.time_zone,
        },
    )


# Running late: the visits starting within this long are ticked to be told; the desk changes the ticks.
TELL_WITHIN = dt.timedelta(hours=3)


@staff_required
@require_http_methods(["GET", "POST"])
def running_late(request):
    """Tell the clients of a practitioner's visits later today that they run late: each client with a
    working address is emailed, the others are listed to call."""
    clinic = request.staff_member.clinic
    practitioners = list(active_practitioners(clinic))
    params = request.POST if request.method == "POST" else request.GET
    wanted = parse_id(params.get("practitioner")) or request.staff_member.pk
    chosen = next((p for p in practitioners if p.pk == wanted), None)
    now = timezone.now()
    status = 200
    if request.method == "POST":
        try:
            if chosen is None:
                raise ClinicError("Choose whose clients to tell from the list.", code="no_practitioner")
            told = running_late_tell(
                chosen,
                visit_ids=[parse_id(raw) for raw in request.POST.getlist("visit")],
                minutes=parse_id(request.POST.get("minutes")),
                actor=request.user,
                now=now,
            )
        except ClinicError as refusal:
            messages.error(request, refusal.message)
            status = 400
        else:
            _say_told_running_late(request, chosen, told, minutes=parse_id(request.POST.get("minutes")))
            return redirect("home")
    visits = visits_later_today(chosen, now=now) if chosen else []
    refused = refused_addresses([visit.client for visit in visits])
    told_before = {}
    for event in AppointmentEvent.objects.filter(
        appointment__in=[visit.pk for visit in visits], action="running_late"
    ).order_by("at", "id"):
        told_before[event.appointment_id] = event  # the latest
    ticked = {parse_id(raw) for raw in request.POST.getlist("visit")} if request.method == "POST" else None
    return render(
        request,
        "treatments/running_late.html",
        {
            "practitioners": practitioners,
            "chosen": chosen,
            "minutes_choices": RUNNING_LATE_MINUTES,
            "minutes": parse_id(request.POST.get("minutes")) if request.method == "POST" else 0,
            "rows": [
                {
                    "visit": visit,
                    "ticked": visit.pk in ticked if ticked is not None else visit.start <= now + TELL_WITHIN,
                    "reachable": bool(visit.client.email) and visit.client_id not in refused,
                    "told_before": told_before.get(visit.pk),
                }
                for visit in visits
            ],
        },
        status=status,
    )


def _say_told_running_late(request, practitioner, told, *, minutes: int) -> None:
    if told.emailed:
        count = len(told.emailed)
        messages.success(
            request,
            f"Emailed {count} client{'s' if count != 1 else ''} that {practitioner.display_name} is running "
            f"about {minutes} minutes late, with the likely start of their visit.",
        )
    if told.to_call:
        messages.warning(
            request,
            "No email reaches "
            + listed(
                [
                    f"{visit.client.full_name} ({visit.client.phone or 'no phone number'}, "
                    f"{timezone.localtime(visit.start, visit.clinic.zone):%H:%M})"
                    for visit in told.to_call
                ]
            )
            + ": please call to tell them.",
        )


@staff_required
@require_safe
def day_version_now(request):
    """The fingerprint (`day_version`) of a day, or of `days` from it (at most a week: the calendar's),
    which the open day's list and calendar ask for every little while."""
    clinic = request.staff_member.clinic
    day, _ = parse_local_date(request.GET.get("date"), timezone.localdate(timezone=clinic.zone))
    days = min(max(parse_id(request.GET.get("days")), 1), 7)
    response = JsonResponse({"version": day_version(clinic, day, last_day=day + dt.timedelta(days=days - 1))})
    response["Cache-Control"] = "no-store"
    return response
