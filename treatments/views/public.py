"""The clinic's public booking pages, and the page a client reaches from the link in their email."""

import datetime as dt
import functools

from django.contrib import messages
from django.db import transaction
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from clients.links import absolute_url
from clients.models import Client, PhotoConsentScope
from clients.selectors import latest_standing_consents, standing_photo_consents
from clients.services import (
    client_email_choices,
    client_register,
    consent_withdraw_by_client,
    photo_consent_withdraw_by_client,
)
from clinic.errors import ClinicError, ConflictError
from clinic.middleware import show_times_in_clinic_zone
from clinic.models import Clinic, Modality, StaffMember
from clinic.parsing import parse_id
from clinic.public_limits import public_write_refusal
from clinic.time_off import closures_said
from treatments.availability import free_times_on, next_free_start, qualified_practitioners
from treatments.booking import (
    BookingRequest,
    appointment_book,
    appointment_cancel,
    appointment_client_note,
    appointment_reschedule,
    appointment_set_status,
    last_online_day,
    online_booking_refusal,
    online_horizon_refusal,
    self_check_in_refusal,
    still_ahead_for_the_client,
)
from treatments.feedback import LOW_RATING, stars, visit_feedback_give
from treatments.forms import (
    ClientNoteForm,
    FeedbackForm,
    NewClientForm,
    PublicBookingForm,
    WaitlistDaysForm,
    parse_local_date,
    parse_local_datetime,
)
from treatments.invites import appointment_calendar_file
from treatments.links import (
    LinkInvalid,
    appointment_from_feedback_token,
    appointment_from_token,
    client_from_visits_token,
    client_visits_url,
    manage_token,
    visit_forms_url,
)
from treatments.models import (
    INACTIVE_STATUSES,
    Appointment,
    AppointmentEvent,
    AppointmentStatus,
    Service,
    VisitFeedback,
    WaitlistEnded,
    WaitlistEntry,
)
from treatments.selectors import client_visits_ahead_for, forms_missing, local_day_bounds
from treatments.waitlist import (
    entry_from_token,
    free_times_for,
    open_entries,
    sooner_days,
    staff_names,
    waiting_for_said,
    waitlist_add,
    waitlist_end,
    waitlist_token,
)

# What a client is told when a rule refuses them: medical detail is for the practitioner, not the web page.
NEEDS_A_CONVERSATION = {
    "contraindicated",
    "relative_contraindication_needs_reason",
    "too_soon",
    "not_qualified",
}


# What a client already waiting is told when they ask again (online, or from their visit's link).
ALREADY_WAITING = (
    "You are already on our waitlist for this treatment: the email we sent you has the link to your place."
)


def opened_from_link(read):
    """For a view of what a client's emailed link names: `read` turns the link's token into it (the
    view gets it after the token), or the page saying why the link no longer works answers instead."""

    def wrap(view):
        @functools.wraps(view)
        def opened(request, token):
            try:
                named = read(token)
            except LinkInvalid as invalid:
                return render(request, "public/link_invalid.html", {"reason": str(invalid)}, status=404)
            return view(request, token, named)

        return opened

    return wrap


def _client_message(refusal: ClinicError, clinic: Clinic) -> str:
    if refusal.code == "already_waiting":  # the desk's words name the entry; the client has its link
        return ALREADY_WAITING
    if refusal.code in NEEDS_A_CONVERSATION:
        phone = f" on {clinic.phone}" if clinic.phone else ""
        return f"We need a word with you before booking this treatment. Please call us{phone}."
    if isinstance(refusal, ConflictError):
        return "Sorry, that time has just been taken. Please choose another."
    return refusal.message


def public_services(request, slug):
    """List what can be booked online."""
    clinic = get_object_or_404(Clinic, slug=slug)
    show_times_in_clinic_zone(clinic)
    services = Service.objects.filter(clinic=clinic, is_active=True, bookable_online=True).order_by("name")
    # from a rebooking invitation: their practitioner, asked for on each treatment's times
    asked_for = StaffMember.objects.filter(
        clinic=clinic, pk=parse_id(request.GET.get("with")), role="practitioner", is_active=True
    ).first()
    return render(
        request,
        "public/services.html",
        {"clinic": clinic, "services": services, "asked_for": asked_for},
    )


def _day_choice(request, clinic, default: dt.date | None = None):
    """The day the client chose (?date=), else `default` if bookable online, else today."""
    today = timezone.localdate(timezone=clinic.zone)
    last = last_online_day(clinic)
    if default is None or not today <= default <= last:
        default = today
    day, error = parse_local_date(request.GET.get("date"), default)
    if day < today or day > last:
        return today, (
            f"Choose a day between today and {last:%A} {last.day} {last:%B}: we take bookings online up to "
            f"{clinic.online_booking_days_ahead} days ahead."
        )
    return day, error


def public_times(request, slug, service_id):
    """Show the free times of a service on a day."""
    clinic = get_object_or_404(Clinic, slug=slug)
    show_times_in_clinic_zone(clinic)
    service = get_object_or_404(Service, clinic=clinic, pk=service_id, is_active=True, bookable_online=True)
    day, date_error = _day_choice(request, clinic)
    today = timezone.localdate(timezone=clinic.zone)
    # the client may ask for one practitioner (theirs last time); anyone qualified otherwise
    offered = [p for p in qualified_practitioners(service) if p.working_hours.all()]
    asked_for = parse_id(request.GET.get("with"))
    chosen = next((p for p in offered if p.pk == asked_for), None)
    with_id = chosen.pk if chosen else None
    times = free_times_on(service=service, day=day, practitioner_id=with_id)
    # a day with nothing free names the next one that has something, within what can be booked online
    last_day = last_online_day(clinic)
    days_left = (last_day - day).days
    next_free = (
        None
        if times
        else next_free_start(service=service, after=day, days=days_left, practitioner_id=with_id)
    )
    closed = closures_said(clinic, *local_day_bounds(clinic, day))
    return render(
        request,
        "public/times.html",
        {
            "clinic": clinic,
            "service": service,
            "day": day,
            "closed": closed,
            "times": times,
            "offered": offered if len(offered) > 1 else [],
            "chosen": chosen,
            # asked for someone who does not give this treatment online (any more): said, not hidden
            "not_offered": bool(asked_for) and chosen is None,
            "with_query": f"&with={chosen.pk}" if chosen else "",
            "next_free": next_free,
            "last_online_day": last_day,
            "date_error": date_error,
            "previous_day": day - dt.timedelta(days=1) if day > today else None,
            "next_day": day + dt.timedelta(days=1) if day < last_day else None,
            "today": today,
        },
    )


@require_http_methods(["GET", "POST"])
def public_waitlist_join(request, slug, service_id):
    """Nothing suits the client online: take their details, days and hours, and put them on the waitlist."""
    clinic = get_object_or_404(Clinic, slug=slug)
    show_times_in_clinic_zone(clinic)
    service = get_object_or_404(Service, clinic=clinic, pk=service_id, is_active=True, bookable_online=True)
    today = timezone.localdate(timezone=clinic.zone)
    first_day, _ = parse_local_date(request.GET.get("date"), today)
    first_day = min(max(first_day, today), last_online_day(clinic))
    days_form = WaitlistDaysForm(
        request.POST or None,
        initial={"first_day": first_day, "last_day": first_day + dt.timedelta(days=13)},
    )
    form = NewClientForm(request.POST or None)
    error, status = "", 200
    if request.method == "POST":
        if refused := public_write_refusal(request, clinic):
            error, status = refused
        elif not (form.is_valid() and days_form.is_valid()):
            error, status = "Please check the details below.", 400
        elif not form.cleaned_data["email"]:
            error, status = "We need your email address to tell you when a time comes free.", 400
        else:
            try:
                with transaction.atomic():
                    client = _find_or_register(clinic, form.cleaned_data)
                    if refusal := online_booking_refusal(client):  # its offers could not be taken
                        raise refusal
                    entry = waitlist_add(client=client, service=service, **days_form.cleaned_data)
            except ClinicError as refusal:
                error, status = _client_message(refusal, clinic), 400
            else:
                messages.success(
                    request, "You are on the waitlist. We have emailed you the link to this page."
                )
                return redirect("public-waitlist", waitlist_token(entry))
    return render(
        request,
        "public/waitlist_join.html",
        {"clinic": clinic, "service": service, "form": form, "days_form": days_form, "error": error},
        status=status,
    )


@require_http_methods(["GET", "POST"])
def public_details(request, slug, service_id):
    """Take the client's details for a chosen time and book it."""
    clinic = get_object_or_404(Clinic, slug=slug)
    show_times_in_clinic_zone(clinic)
    service = get_object_or_404(Service, clinic=clinic, pk=service_id, is_active=True, bookable_online=True)
    params = request.POST if request.method == "POST" else request.GET
    practitioner_id = parse_id(params.get("practitioner"))
    practitioner = get_object_or_404(
        StaffMember, clinic=clinic, pk=practitioner_id, role="practitioner", is_active=True
    )
    start = parse_local_datetime(params.get("start"), clinic.zone)
    if start is None:
        messages.error(request, "Choose a time from the list.")
        return redirect("public-times", slug, service.pk)
    form = PublicBookingForm(request.POST or None)
    error, status = "", 200
    refused = public_write_refusal(request, clinic) if request.method == "POST" else None
    if refused:
        error, status = refused
    elif request.method == "POST" and form.is_valid():
        earliest = timezone.now() + dt.timedelta(minutes=clinic.min_booking_notice_minutes)
        if not form.cleaned_data["email"]:
            error, status = "We need your email address to send your confirmation.", 400
        elif start < earliest:
            error, status = (
                "That time is too soon to book online. Please choose a later time or call us.",
                400,
            )
        else:
            details = dict(form.cleaned_data)
            note = details.pop("note")
            wants_news = details.pop("wants_news")
            try:
                with transaction.atomic():
                    client = _find_or_register(clinic, details)
                    if wants_news and not client.accepts_marketing_email:
                        client_email_choices(
                            client,
                            aftercare=client.accepts_aftercare_email,
                            news=True,
                            how=NEWS_TICKED_ONLINE,
                        )
                    appointment = appointment_book(
                        BookingRequest(
                            client=client,
                            service=service,
                            practitioner=practitioner,
                            start=start,
                            client_note=note,
                            source="online",
                        ),
                    )
            except ClinicError as refusal:
                error = _client_message(refusal, clinic)
                status = 409 if isinstance(refusal, ConflictError) else 400
            else:
                messages.success(
                    request, "You are booked. We have emailed you a confirmation with this link."
                )
                return redirect("public-manage", manage_token(appointment))
    elif request.method == "POST":
        error, status = "Please check the details below.", 400
    return render(
        request,
        "public/details.html",
        {
            "clinic": clinic,
            "service": service,
            "practitioner": practitioner,
            "start": start,
            "start_value": params.get("start"),
            # the policy, said before they book
            "changes_until": _changes_close(clinic, start),
            "form": form,
            "error": error,
        },
        status=status,
    )


def _find_or_register(clinic, details) -> Client:
    """Return the clinic's client with this email and last name, or register a new one."""
    existing = (
        Client.objects.filter(
            clinic=clinic, email__iexact=details["email"], last_name__iexact=details["last_name"].strip()
        )
        .order_by("id")
        .first()
    )
    return existing or client_register(clinic=clinic, **details)


def _changes_close(clinic, start: dt.datetime) -> dt.datetime:
    """When a visit at `start` stops being changeable online, in the clinic's local time.

    Worked out in UTC, then made local: a window that spans a clock change is still its hours long.
    """
    window = dt.timedelta(hours=clinic.cancellation_window_hours)
    return timezone.localtime(start.astimezone(dt.UTC) - window, clinic.zone)


def _can_change(appointment) -> bool:
    return (
        appointment.is_active
        and appointment.status != AppointmentStatus.FULFILLED
        and timezone.now() <= _changes_close(appointment.clinic, appointment.start)
    )


# The visits the page lists: a client's whole course fits, and more is a mistake to call about.
VISITS_SHOWN = 50
# how a client said yes to the clinic's news on the booking page, kept with their choice
NEWS_TICKED_ONLINE = "Ticked on the online booking page"


@require_safe
@opened_from_link(client_from_visits_token)
def public_visits(request, token, client):
    """Every visit still ahead of a client, from the link in their emails: each opens its own page (to
    confirm, move or cancel), with their waitlist places and the clinic's booking page a click away."""
    clinic = client.clinic
    show_times_in_clinic_zone(clinic)
    now = timezone.now()
    visits = list(
        Appointment.objects.filter(client=client, end__gt=now)
        .exclude(status__in=[*INACTIVE_STATUSES, AppointmentStatus.FULFILLED])
        .select_related("service", "practitioner")
        .order_by("start", "id")[:VISITS_SHOWN]
    )
    course_sessions = dict(
        Appointment.objects.filter(course_id__in={v.course_id for v in visits if v.course_id})
        .exclude(status__in=INACTIVE_STATUSES)
        .values_list("course_id")
        .annotate(count=Count("id"))
    )
    waiting = open_entries(clinic).filter(client=client).select_related("service").order_by("first_day", "id")
    photos = standing_photo_consents(client).order_by("granted_at", "id")
    return render(
        request,
        "public/visits.html",
        {
            "clinic": clinic,
            "client": client,
            "visits": [
                {
                    "visit": visit,
                    "local_start": timezone.localtime(visit.start, clinic.zone),
                    "manage_token": manage_token(visit),
                    "of_course": course_sessions.get(visit.course_id),
                }
                for visit in visits
            ],
            "more": len(visits) == VISITS_SHOWN,
            "waiting": [(entry, waitlist_token(entry)) for entry in waiting],
            "photo_consents": photos,
            "consents": _consents_standing(client, now=now),
            "token": token,
        },
    )


def _consents_standing(client, *, now) -> list[dict]:
    """The treatments the client's consent stands for, each with the consent they signed last and how
    many of their visits ahead need it (three queries, and one a treatment)."""
    standing = latest_standing_consents([client.pk], Modality.values)
    return [
        {
            "modality": modality,
            "treatment": Modality(modality).label,
            "signed": consent,
            "visits_ahead": len(client_visits_ahead_for(client, modality, now=now)),
        }
        for (_, modality), consent in sorted(standing.items())
    ]


def _client_page(client) -> str:
    """The client's page for the clinic's staff, as the emails telling the clinic link it."""
    return absolute_url(reverse("client-detail", args=[client.pk]))


@require_POST
@opened_from_link(client_from_visits_token)
def public_consent_withdraw(request, token, client):
    """The client withdraws their consent to a treatment, from the link to their visits."""
    modality = request.POST.get("modality", "")
    try:
        consent_withdraw_by_client(client=client, modality=modality, clinic_page_url=_client_page(client))
    except ClinicError as refusal:
        messages.error(request, refusal.message.replace(f"{client.full_name} has", "You have"))
    else:
        treatment = Modality(modality).label.lower()
        ahead = client_visits_ahead_for(client, modality, now=timezone.now())
        said = (
            f"You have withdrawn your consent to {treatment}: you will not be treated for it unless you "
            "sign again."
        )
        if len(ahead) == 1:
            said += " Your 1 visit ahead for it stays booked: cancel it below, or we will call you."
        elif ahead:
            said += (
                f" Your {len(ahead)} visits ahead for it stay booked: cancel them below, or we will call you."
            )
        messages.success(request, said)
    return redirect("public-visits", token)


@require_POST
@opened_from_link(client_from_visits_token)
def public_photos_withdraw(request, token, client):
    """The client withdraws their consent to photos for one use, from the link to their visits."""
    scope = request.POST.get("scope", "")
    try:
        withdrawn = photo_consent_withdraw_by_client(
            client=client, scope=scope, client_page_url=_client_page(client)
        )
    except ClinicError as refusal:
        messages.error(request, refusal.message)
    else:
        use = PhotoConsentScope(scope).label.lower()
        if not withdrawn:
            messages.info(request, f"You had no consent to photos for {use} to withdraw.")
        elif scope == PhotoConsentScope.CLINICAL:
            messages.success(
                request,
                "You have withdrawn your consent to photos for your clinical record: no new ones will be "
                "taken. Photos already taken stay in your record.",
            )
        else:
            messages.success(
                request,
                f"You have withdrawn your consent to photos for {use}. We have told the clinic to stop "
                "using your photos for it.",
            )
    return redirect("public-visits", token)


@require_http_methods(["GET", "POST"])
@opened_from_link(appointment_from_token)
def public_manage(request, token, appointment):
    """Let a client confirm, cancel or move their visit from the emailed link, within the clinic's window."""
    clinic = appointment.clinic
    show_times_in_clinic_zone(clinic)
    can_change = _can_change(appointment)
    # "I'm coming" (and a note for the clinic) means something only before the visit, while it is booked
    can_confirm = still_ahead_for_the_client(appointment, now=timezone.now())
    if request.method == "POST":
        action = request.POST.get("action")
        new_start = parse_local_datetime(request.POST.get("start"), clinic.zone)
        if action == "confirm" and can_confirm:
            if not appointment.events.filter(action="confirmed_by_client").exists():
                AppointmentEvent.objects.create(
                    appointment=appointment, action="confirmed_by_client", details={}
                )
            messages.success(request, "Thank you, your visit is confirmed.")
        elif action == "confirm":
            messages.error(request, "There is nothing to confirm: this visit is no longer ahead.")
        elif action == "note":
            _save_client_note(request, appointment)
        elif action == "check_in":
            try:
                appointment_set_status(appointment, status=AppointmentStatus.ARRIVED, by_client=True)
            except ClinicError as refusal:
                messages.error(request, refusal.message)
            else:
                messages.success(
                    request,
                    f"You are checked in. Please take a seat: {appointment.practitioner.display_name} "
                    "will come for you.",
                )
        elif action in ("cancel", "reschedule") and not can_change:
            messages.error(
                request,
                f"Changes online close {clinic.cancellation_window_hours} hours before the "
                f"visit. Please call us{' on ' + clinic.phone if clinic.phone else ''}.",
            )
        elif action == "earlier" and can_change:
            return _wait_for_earlier(request, appointment)
        elif action == "cancel":
            appointment_cancel(appointment, reason="Cancelled by the client online", by_client=True)
            messages.success(request, "Your visit is cancelled. We have emailed you to confirm.")
        elif action == "reschedule" and new_start is None:
            messages.error(request, "Choose a new time from the list.")
        elif action == "reschedule" and (refusal := online_horizon_refusal(clinic, new_start)):
            messages.error(request, refusal.message)
        elif action == "reschedule":
            try:
                appointment = appointment_reschedule(
                    appointment, start=new_start, reason="Moved by the client online", by_client=True
                )
            except ClinicError as refusal:
                messages.error(request, _client_message(refusal, clinic))
            else:
                messages.success(request, "Your visit has moved. We have emailed you the new time.")
                return redirect("public-manage", manage_token(appointment))
        return redirect("public-manage", token)
    local_start = timezone.localtime(appointment.start, clinic.zone)
    now = timezone.now()
    check_in_refusal = self_check_in_refusal(appointment, now=now)
    checked_in = (
        appointment.events.filter(action="status:arrived").order_by("-at", "-id").first()
        if appointment.status == AppointmentStatus.ARRIVED
        else None
    )
    # at the clinic, checked in or about to: what they must still fill or sign before the treatment
    forms_still_needed = (
        forms_missing([appointment], clinic).get(appointment.pk, [])
        if checked_in or check_in_refusal is None
        else []
    )
    waiting = WaitlistEntry.objects.filter(visit_to_move=appointment, ended_at=None).first()
    waiting_earlier = waitlist_token(waiting) if waiting is not None else None
    day, date_error = _day_choice(request, clinic, default=local_start.date())
    times, move_to = [], None
    if can_change and request.GET.get("date"):
        times = [
            time
            for time in free_times_on(
                service=appointment.service,
                day=day,
                practitioner_id=appointment.practitioner_id,
                ignore_appointment_id=appointment.pk,
            )
            if time["local"] != local_start  # the time they have is not a time to move to
        ]
        # a time tapped is asked about before the visit moves (?move_to=), as a cancellation is (?ask=cancel)
        wanted = request.GET.get("move_to")
        if wanted is not None and not date_error:
            move_to = next((time for time in times if time["value"] == wanted), None)
            if move_to is None:
                date_error = "That time is no longer free. Please choose another."
    return render(
        request,
        "public/manage.html",
        {
            "appointment": appointment,
            "clinic": clinic,
            "token": token,
            "visits_url": client_visits_url(appointment.client),
            "can_change": can_change,
            "can_confirm": can_confirm,
            "local_start": local_start,
            # until when the client may still cancel or move it online
            "changes_until": _changes_close(clinic, appointment.start),
            "confirmed": appointment.events.filter(action="confirmed_by_client").exists(),
            # the client's note for the clinic, theirs to change until the visit
            "note_form": ClientNoteForm(initial={"note": appointment.client_note}) if can_confirm else None,
            "can_check_in": check_in_refusal is None,
            # when they may check in here, said ahead of the visit
            "check_in_opens": check_in_refusal.message
            if check_in_refusal is not None and check_in_refusal.code == "too_early"
            else "",
            "checked_in": checked_in,
            "forms_still_needed": forms_still_needed,
            "forms_link": visit_forms_url(appointment) if forms_still_needed else "",
            "day": day,
            "times": times,
            "date_error": date_error,
            "move_to": move_to,
            "asking_cancel": can_change and move_to is None and request.GET.get("ask") == "cancel",
            # an earlier time: the waitlist place already asked for, or whether one can be asked for
            "waiting_earlier": waiting_earlier,
            "may_wait_earlier": can_change
            and waiting_earlier is None
            and sooner_days(appointment) is not None,
        },
    )


@require_safe
@opened_from_link(appointment_from_token)
def public_calendar_file(request, token, appointment):
    """The visit as a calendar file, from the link in the client's emails: the invite's own event."""
    response = HttpResponse(
        appointment_calendar_file(appointment), content_type="text/calendar; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="visit-{appointment.pk}.ics"'
    return response


@require_http_methods(["GET", "POST"])
@opened_from_link(appointment_from_feedback_token)
def public_feedback(request, token, appointment):
    """Ask a client how their visit went (1 to 5, and words if they want), from the emailed link."""
    clinic = appointment.clinic
    show_times_in_clinic_zone(clinic)
    form = FeedbackForm(request.POST or None)
    error, status = "", 200
    if request.method == "POST":
        if not form.is_valid():
            error, status = "Please choose from 1 to 5.", 400
        else:
            try:
                visit_feedback_give(appointment, **form.cleaned_data)
            except ClinicError as refusal:
                error, status = refusal.message, 400
            else:
                return redirect("public-feedback", token)
    given = VisitFeedback.objects.filter(appointment=appointment).first()
    return render(
        request,
        "public/feedback.html",
        {
            "clinic": clinic,
            "appointment": appointment,
            "local_start": timezone.localtime(appointment.start, clinic.zone),
            "given": given,
            "stars": stars(given.rating) if given else "",
            "low": given is not None and given.rating <= LOW_RATING,
            "form": form,
            "error": error,
        },
        status=status,
    )


def _save_client_note(request, appointment) -> None:
    """Keep the note the client wrote on their visit's page, and tell them it reached the clinic."""
    form = ClientNoteForm(request.POST)
    if not form.is_valid():
        messages.error(request, form.errors["note"][0])
        return
    try:
        noted = appointment_client_note(appointment, note=form.cleaned_data["note"])
    except ClinicError as refusal:
        messages.error(request, _client_message(refusal, appointment.clinic))
        return
    messages.success(
        request,
        "Thank you: the clinic's team will read your note before your visit."
        if noted.client_note
        else "Your note is removed.",
    )


def _wait_for_earlier(request, appointment):
    """Put the client on the waitlist for a time before their visit (with the same practitioner, any
    hour from today to the day before); a time that comes free moves the visit."""
    clinic = appointment.clinic
    today = timezone.localdate(timezone=clinic.zone)
    try:
        entry = waitlist_add(
            client=appointment.client,
            service=appointment.service,
            practitioner=appointment.practitioner,
            first_day=today,
            last_day=timezone.localtime(appointment.start, clinic.zone).date() - dt.timedelta(days=1),
            visit_to_move=appointment,
        )
    except ClinicError as refusal:
        messages.error(request, _client_message(refusal, clinic))
        return redirect("public-manage", manage_token(appointment))
    messages.success(
        request,
        "You are on the waitlist for an earlier time. Your visit stays as it is until you choose one.",
    )
    return redirect("public-waitlist", waitlist_token(entry))


def _take_the_time(entry, slot):
    """Book the time for the client on the waitlist, or move the visit they wait to move there.

    A visit is moved online only within the clinic's cancellation window, as from its own link.
    """
    practitioner = StaffMember.objects.get(pk=slot.practitioner_id)
    visit = entry.visit_to_move
    if visit is None:
        return appointment_book(
            BookingRequest(
                client=entry.client,
                service=entry.service,
                practitioner=practitioner,
                start=slot.start,
                source="waitlist",
            )
        )
    if not _can_change(visit):
        clinic = entry.clinic
        raise ClinicError(
            f"Changes online close {clinic.cancellation_window_hours} hours before your visit. Please call "
            f"us{' on ' + clinic.phone if clinic.phone else ''}.",
            code="window_closed",
        )
    return appointment_reschedule(
        visit,
        start=slot.start,
        practitioner=practitioner,
        reason="Moved by the client from the waitlist",
        by_client=True,
    )


@require_http_methods(["GET", "POST"])
@opened_from_link(entry_from_token)
def public_waitlist(request, token, entry):
    """A client's waitlist place, from the emailed link: the times free now that suit them, to book
    one, or to leave the waitlist."""
    clinic = entry.clinic
    show_times_in_clinic_zone(clinic)
    today = timezone.localdate(timezone=clinic.zone)
    waiting = entry.ended_at is None and entry.last_day >= today
    free = free_times_for([entry])[entry.pk] if waiting else []
    if request.method == "POST":
        action = request.POST.get("action")
        if not waiting:
            messages.error(request, "You are no longer on the waitlist for this.")
        elif action == "leave":
            waitlist_end(entry, because=WaitlistEnded.LEFT)
            messages.success(request, "You have left the waitlist. We will not write about it again.")
        elif action == "book":
            start = parse_local_datetime(request.POST.get("start"), clinic.zone)
            chosen = next(
                (
                    slot
                    for slot in free
                    if slot.start == start
                    and slot.practitioner_id == parse_id(request.POST.get("practitioner"))
                ),
                None,
            )
            if chosen is None:
                messages.error(request, "Sorry, that time has just been taken. Please choose another.")
                return redirect("public-waitlist", token)
            try:
                appointment = _take_the_time(entry, chosen)
            except ClinicError as refusal:
                messages.error(request, _client_message(refusal, clinic))
            else:
                messages.success(
                    request,
                    "Your visit has moved. We have emailed you the new time."
                    if entry.visit_to_move_id
                    else "You are booked. We have emailed you a confirmation with this link.",
                )
                return redirect("public-manage", manage_token(appointment))
        return redirect("public-waitlist", token)
    days: dict = {}
    for slot in free:
        local = timezone.localtime(slot.start, clinic.zone)
        days.setdefault(local.date(), []).append({"local": local, "practitioner_id": slot.practitioner_id})
    names = staff_names(clinic)
    for times in days.values():
        for time in times:
            time["practitioner"] = names.get(time["practitioner_id"], "")
            time["value"] = time["local"].strftime("%Y-%m-%dT%H:%M")
    # a time tapped is asked about before it is booked (?book=…&with=…), as a move is on the manage page
    asked = None
    if waiting and request.GET.get("book"):
        asked = next(
            (
                time
                for times in days.values()
                for time in times
                if time["value"] == request.GET["book"]
                and time["practitioner_id"] == parse_id(request.GET.get("with"))
            ),
            None,
        )
        if asked is None:
            messages.error(request, "Sorry, that time has just been taken. Please choose another.")
    return render(
        request,
        "public/waitlist.html",
        {
            "clinic": clinic,
            "entry": entry,
            "waiting": waiting,
            "waiting_for": waiting_for_said(entry),
            "days": sorted(days.items()),
            "asked": asked,
            "token": token,
            "manage_token": manage_token(entry.appointment)
            if entry.appointment is not None and entry.appointment.is_active
            else "",
            "booked": WaitlistEnded.BOOKED,
            # the visit a time moves, in local time, while it is still booked
            "moving_from": timezone.localtime(entry.visit_to_move.start, clinic.zone)
            if entry.visit_to_move is not None and entry.visit_to_move.is_active
            else None,
        },
    )
