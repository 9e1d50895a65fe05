"""Staff pages to book a visit and to act on one: check in, complete, no-show, reschedule, cancel."""

import datetime as dt
from decimal import Decimal

from django.contrib import messages
from django.db import transaction
from django.db.models import prefetch_related_objects
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.text import Truncator
from django.views.decorators.http import require_POST

from clients.access_log import health_data_read
from clients.links import forms_url
from clients.merging import other_records_of
from clients.models import Client, HealthDataRead
from clients.selectors import (
    consent_signatures,
    forms_needed,
    latest_intake_reading,
    plan_changes_to_sign,
    refusal_said,
    refused_address,
)
from clients.services import client_register
from clinic.errors import ClinicError, ConflictError
from clinic.models import OutboxMessage, StaffMember, StaffRole
from clinic.outbox import with_resend_refusals
from clinic.parsing import parse_id
from clinic.permissions import staff_required
from clinic.redirects import redirect_back
from clinic.time_off import closures_said
from clinic.wording import listed
from treatments.availability import available_slots, free_times_from, free_times_on, next_free_start
from treatments.booking import (
    UNDOABLE,
    BookingRequest,
    EarlierStart,
    appointment_book,
    appointment_cancel,
    appointment_change_room_and_device,
    appointment_notes_change,
    appointment_price_change,
    appointment_request_forms,
    appointment_reschedule,
    appointment_set_status,
    appointment_undo_status,
    course_progress,
    interval_rules_out,
    is_ahead,
    status_refusal,
    too_soon_after,
    undo_refusal,
)
from treatments.contraindications import absolute, contraindication_findings, relative
from treatments.eligibility import is_qualified, qualification_gaps
from treatments.forms import (
    CancelForm,
    NewClientForm,
    RescheduleForm,
    VisitNotesForm,
    WaitlistDaysForm,
    parse_local_date,
    parse_local_datetime,
)
from treatments.models import (
    INACTIVE_STATUSES,
    Appointment,
    AppointmentEvent,
    AppointmentStatus,
    PaymentMethod,
    Service,
    TreatmentSession,
    VisitFeedback,
    WaitlistEntry,
)
from treatments.payments import fee_offered, sessions_owing, visit_money
from treatments.selectors import (
    appointment_messages,
    client_attendance,
    forms_missing,
    local_day_bounds,
    next_visit_after,
    not_qualified_for,
    outside_working_hours,
    recorded_area_count,
    room_and_devices_to_change,
    time_off_clashes,
    with_paid,
)
from treatments.sessions import may_record, may_write, record_start_refusal
from treatments.waitlist import ENTRY_RELATED, sooner_days, waiting_for_said, waitlist_told_of

MAX_SLOTS_SHOWN = 80
# A day with no free time: the finder looks this far ahead for the next one.
LOOK_AHEAD_DAYS = 28


def services_for(clinic, practitioner):
    """Return the clinic's active services the practitioner may perform (qualifications read once)."""
    services = list(Service.objects.filter(clinic=clinic, is_active=True).prefetch_related("protocols"))
    qualifications = list(practitioner.qualifications.all())
    return [
        s
        for s in services
        if not qualification_gaps(
            qualifications=qualifications, service=s, modalities={p.modality for p in s.protocols.all()}
        )
    ]


def client_problem(request, chosen_client, new_client_form) -> str:
    """Say what is missing before the booking has its client ('' when a client is chosen or typed in)."""
    if chosen_client is not None:
        return ""
    if not any(request.POST.get(f"new-{f}") for f in ("first_name", "last_name")):
        return "Choose a client from the search, or fill in the new client's details."
    if not new_client_form.is_valid():
        if new_client_form.possible_matches:
            return "This may be a client the clinic has already: choose them below, or register someone new."
        return "Check the new client's details below."
    return ""


def picked_time(clinic, params):
    """Return the practitioner and local start a booking page was opened for (None for either missing)."""
    practitioner = StaffMember.objects.filter(
        clinic=clinic, role=StaffRole.PRACTITIONER, is_active=True, pk=parse_id(params.get("practitioner"))
    ).first()
    return practitioner, parse_local_datetime(params.get("start"), clinic.zone)


@staff_required
def book(request):
    """Pick a time (from the calendar or the finder), then a client, and book."""
    clinic = request.staff_member.clinic
    zone = clinic.zone
    params = request.POST if request.method == "POST" else request.GET
    practitioner, start = picked_time(clinic, params)
    service_id = parse_id(params.get("service"))
    service = Service.objects.filter(clinic=clinic, is_active=True, pk=service_id).first()

    if practitioner is None or start is None:
        return _finder(request, clinic, service, practitioner)

    services = services_for(clinic, practitioner)
    # Not HTML-required: the section is folded away when a found client is chosen, and a browser
    # would silently refuse to submit. The server checks these fields when they are used.
    new_client_form = NewClientForm(
        request.POST or None, prefix="new", use_required_attribute=False, clinic=clinic
    )
    chosen_client = Client.objects.filter(clinic=clinic, pk=parse_id(params.get("client"))).first()
    error, status = "", 200
    if request.method == "POST":
        if service is None:
            error, status = "Choose the service to book.", 400
        elif problem := client_problem(request, chosen_client, new_client_form):
            error, status = problem, 400
        else:
            try:
                with transaction.atomic():
                    client = chosen_client or client_register(clinic=clinic, **new_client_form.cleaned_data)
                    appointment = appointment_book(
                        BookingRequest(
                            client=client,
                            service=service,
                            practitioner=practitioner,
                            start=start,
                            relative_contraindication_reason=request.POST.get("relative_reason", ""),
                            interval_override_reason=request.POST.get("override_reason", ""),
                            notes=request.POST.get("notes", ""),
                        ),
                        actor=request.user,
                    )
            except ClinicError as refusal:
                error = refusal.message
                status = 409 if isinstance(refusal, ConflictError) else 400
            else:
                local = timezone.localtime(appointment.start, zone)
                messages.success(
                    request,
                    f"Booked {client.full_name} for {service.name} with {practitioner.display_name}, "
                    f"{local:%a %d %b %H:%M}.{what_the_client_is_sent(appointment)}",
                )
                return redirect("appointment-detail", appointment.pk)
    return render(
        request,
        "treatments/book.html",
        {
            "practitioner": practitioner,
            "start": start,
            "start_value": timezone.localtime(start, zone).strftime("%Y-%m-%dT%H:%M"),
            "services": services,
            "service": service,
            "chosen_client": chosen_client,
            "new_client_form": new_client_form,
            "error": error,
            "posted": request.POST,
        },
        status=status,
    )


def _finder(request, clinic, service, practitioner):
    """List free times for a service on a day, each a link to the booking form (for a client, if given)."""
    today = timezone.localdate(timezone=clinic.zone)
    day, date_error = parse_local_date(request.GET.get("date"), today)
    for_client = Client.objects.filter(clinic=clinic, pk=parse_id(request.GET.get("client"))).first()
    slots, next_free, client_visits, too_soon = [], None, [], []
    if service is not None:
        practitioner_id = practitioner.id if practitioner else None
        slots = available_slots(
            service=service, start_date=day, end_date=day, practitioner_id=practitioner_id
        )
        if for_client is not None:  # booking would refuse a time the client already has a visit in
            first, last = local_day_bounds(clinic, day)
            client_visits = list(
                Appointment.objects.filter(client=for_client, start__lt=last, end__gt=first).exclude(
                    status__in=INACTIVE_STATUSES
                )
            )
            slots = [s for s in slots if not any(v.start < s.end and v.end > s.start for v in client_visits)]
            # nor a time too soon after (or before) another session of the same protocol
            too_soon = too_soon_after(for_client, service, first, last)
            slots = [
                s for s in slots if not any(interval_rules_out(v, p, s.start, s.start) for v, p in too_soon)
            ]
        slots = slots[:MAX_SLOTS_SHOWN]
        if not slots:
            next_free = next_free_start(
                service=service, after=day, days=LOOK_AHEAD_DAYS, practitioner_id=practitioner_id
            )
    names = {
        p.id: p.display_name for p in StaffMember.objects.filter(clinic=clinic, role=StaffRole.PRACTITIONER)
    }
    return render(
        request,
        "treatments/find_time.html",
        {
            "services": Service.objects.filter(clinic=clinic, is_active=True).order_by("name"),
            "practitioners": StaffMember.objects.filter(
                clinic=clinic, role=StaffRole.PRACTITIONER, is_active=True
            ).order_by("display_name"),
            "service": service,
            "practitioner": practitioner,
            "next_free": next_free,
            "look_ahead_days": LOOK_AHEAD_DAYS,
            "for_client": for_client,
            "client_visits": [timezone.localtime(v.start, clinic.zone) for v in client_visits],
            "too_soon": [
                {
                    "start": timezone.localtime(v.start, clinic.zone),
                    "days": p.min_interval_days,
                    # a session had before this calendar: known by its day, and where
                    "earlier": v.where if isinstance(v, EarlierStart) else "",
                }
                for v, p in too_soon
            ],
            "day": day,
            "slots": [
                {
                    "local": timezone.localtime(s.start, clinic.zone),
                    "practitioner_id": s.practitioner_id,
                    "practitioner": names.get(s.practitioner_id, ""),
                }
                for s in slots
            ],
            "date_error": date_error,
            "closed": closures_said(clinic, *local_day_bounds(clinic, day)) if service is not None else [],
        },
    )


def _waitlist_told(changed: Appointment) -> str:
    """What the desk is told of the waitlist after a cancellation or move ("" when nobody was written)."""
    names = waitlist_told_of(changed)
    if not names:
        return ""
    who = listed(names)
    return f" The time it held suits {who} on the waitlist: emailed the link to book it."


def _who_may_see(appointment: Appointment) -> list[StaffMember]:
    """The clinic's practitioners qualified for the visit's service: whom it can be moved to."""
    service = appointment.service
    prefetch_related_objects([service], "protocols")
    practitioners = (
        StaffMember.objects.filter(clinic=appointment.clinic, role=StaffRole.PRACTITIONER, is_active=True)
        .prefetch_related("qualifications")
        .order_by("display_name", "id")
    )
    return [p for p in practitioners if p.pk == appointment.practitioner_id or is_qualified(p, service)]


def _stand_in(appointment: Appointment, movers: list[StaffMember], day_slots) -> StaffMember | None:
    """Who could see the client instead: free at the visit's own time if anyone is, else free that day."""
    others = [p for p in movers if p.pk != appointment.practitioner_id]
    if not others:
        return None
    at_its_time = {s.practitioner_id for s in day_slots if s.start == appointment.start}
    that_day = {s.practitioner_id for s in day_slots}
    return next(
        (p for p in others if p.pk in at_its_time), next((p for p in others if p.pk in that_day), others[0])
    )


def before_the_session(appointment: Appointment, member: StaffMember | None = None) -> dict:
    """What the practitioner reviews before treating: the client's latest intake against the service's
    rules on the visit's day (absolute ones can appear after booking, with a new intake), the forms
    still missing or out of date, and the staff signatures the clinic asks on the consents (those
    `member` may give offered)."""
    service = appointment.service
    prefetch_related_objects([service], "protocols")
    on = timezone.localtime(appointment.start, appointment.clinic.zone).date()
    findings = contraindication_findings(client=appointment.client, service=service, on=on)
    booked = appointment.events.filter(action="booked").values_list("details", flat=True).first() or {}
    modalities = {p.modality for p in service.protocols.all()}
    missing = forms_needed(client=appointment.client, modalities=modalities, at=appointment.start).names
    signing = consent_signatures(client=appointment.client, modalities=modalities, member=member)
    return {
        "visit_ahead": appointment.start > timezone.now(),
        "absolute": absolute(findings),
        "relative": relative(findings),
        "accepted": booked.get("accepted", []),
        "forms_needed": missing,
        # a consent missing because the practitioner changed the plan: why, in their words
        "plan_changes": list(plan_changes_to_sign(appointment.client, modalities).values())
        if missing
        else [],
        "consent_signing": signing,
        "consent_unsigned": any(c.missing for c in signing),
        # the client's own forms page, to open on the desk's tablet and hand over
        "fill_here_url": forms_url(appointment.client, modalities=sorted(modalities)) if missing else "",
        # their forms may be on another record of theirs (booked online under another address)
        "other_records": other_records_of(appointment.client) if missing else [],
    }


def what_the_client_is_sent(appointment: Appointment) -> str:
    """After booking (a visit, or a course's first session), say what the client will get by email, or
    that they will get nothing."""
    client = appointment.client
    if not client.email:
        return (
            f" {client.first_name} has no email address, so no confirmation or reminders go out: "
            "add one on their page, or tell them the time now."
        )
    if refusal := refused_address(client):
        return (
            f" {refusal_said(refusal, appointment.clinic.zone)}, so the confirmation will not reach "
            f"{client.first_name}: ask for a correct address and change it on their page (the emails "
            "still to go follow it), or tell them the time now."
        )
    request = OutboxMessage.objects.filter(
        dedupe_key=f"appointment:{appointment.pk}:forms", template_key="forms_request"
    ).first()
    if request is not None:
        return (
            " The confirmation is on its way, with a link to fill: "
            f"{', '.join(request.context.get('forms_needed', []))}."
        )
    return " The confirmation is on its way."


def _say_forms_still_missing(request, appointment: Appointment) -> None:
    """At check-in, tell the desk what the client must still fill or sign before the session."""
    missing = forms_missing([appointment], appointment.clinic).get(appointment.pk)
    if missing:
        messages.warning(
            request,
            f"Before the session, {appointment.client.first_name} must still fill or sign: "
            f"{', '.join(missing)}. The visit's page opens the forms here for them to fill.",
        )


def visit_of_this_clinic(request, pk) -> Appointment:
    return get_object_or_404(
        Appointment.objects.select_related(
            "clinic", "client", "service", "practitioner", "room", "device", "second_device", "course"
        ),
        pk=pk,
        clinic=request.staff_member.clinic,
    )


HISTORY_LABELS = {
    "booked": "Booked",
    "cancelled": "Cancelled",
    "confirmed_by_client": "Confirmed by the client",
    "forms_requested": "Emailed the link to the forms",
    "status:arrived": "Checked in",
    "status:fulfilled": "Completed",
    "status:noshow": "Marked as a no-show",
    "resources_changed": "Room and device changed",
    "notes_changed": "Note",
    "client_note_changed": "The client's note",
    "running_late": "Running late",
    "price_changed": "Price changed",
}
# How much of a note's old and new words a history line quotes.
NOTE_QUOTED = 120
BOOKED_THROUGH = {
    "online": " online by the client",
    "waitlist": " by the client, from the waitlist",
    "course": " with a course",
    "api": " through the API",
    "imported": " from the file of the software used before",
}


def _history_line(event: AppointmentEvent, zone) -> dict:
    """One line of a visit's history as the front desk reads it: what happened, and who did it."""
    details = event.details or {}
    label = HISTORY_LABELS.get(event.action, event.action)
    if event.action == "booked":
        label += BOOKED_THROUGH.get(details.get("source"), "")
    elif event.action == "forms_requested" and details.get("forms"):
        label += f" ({', '.join(details['forms'])})"
    elif event.action == "rescheduled" and details.get("from") and details.get("to"):
        moved = [timezone.localtime(dt.datetime.fromisoformat(details[k]), zone) for k in ("from", "to")]
        label = (
            f"Moved from {moved[0]:%a %d %b %H:%M} to {moved[1]:%a %d %b %H:%M}"
            if moved[0] != moved[1]
            else f"Moved at {moved[1]:%a %d %b %H:%M}"
        )
        if details.get("practitioner_to"):
            label += f", from {details.get('practitioner_from', '')} to {details['practitioner_to']}"
    elif event.action == "resources_changed":
        moved = [
            (details.get(f"{kind}_from"), details.get(f"{kind}_to"))
            for kind in ("room", "device", "second_device")
            if details.get(f"{kind}_from") != details.get(f"{kind}_to")
        ]
        said = []
        if changed := [f"{was} to {now}" for was, now in moved if was]:
            said.append("Changed " + ", ".join(changed))
        if taken := [now for was, now in moved if not was]:  # a device the service came to need
            said.append(("took " if said else "Took ") + ", ".join(taken))
        label = "; ".join(said) or label
    elif event.action == "cancelled":
        label += " by the client" if details.get("by_client") else ""
        label += " with the rest of the course" if details.get("rest_of_course") else ""
    elif event.action in ("notes_changed", "client_note_changed"):
        label += _note_change_said(details.get("before", ""), details.get("after", ""))
    elif event.action == "status:arrived" and details.get("by_client"):
        label = "Checked in by the client, from their visit's page"
    elif event.action == "running_late":
        label = f"Running about {details.get('minutes')} minutes late: " + (
            "the client was emailed the likely start"
            if details.get("emailed")
            else "no email reaches the client, to call"
        )
    elif event.action == "price_changed" and details.get("from") and details.get("to"):
        clinic = event.appointment.clinic
        label += f" from {clinic.price_text(details['from'])} to {clinic.price_text(details['to'])}"
    elif event.action == "status:booked" and details.get("undo"):
        label = f"{UNDOABLE.get(details.get('from'), 'status').capitalize()} undone"
    actor = event.actor
    staff = getattr(actor, "staff", None) if actor else None
    return {
        "at": event.at,
        "label": label,
        "by": (staff.display_name if staff else actor.get_username()) if actor else "",
        "reason": details.get("reason", ""),
        "accepted": details.get("accepted", []),
    }


def _note_change_said(before: str, after: str) -> str:
    """ " written: “…”", " changed from “…” to “…”" or " cleared (it said “…”)", each quote cut short."""
    quoted = [f"“{Truncator(text).chars(NOTE_QUOTED)}”" for text in (before, after)]
    if not before:
        return f" written: {quoted[1]}"
    if not after:
        return f" cleared (it said {quoted[0]})"
    return f" changed from {quoted[0]} to {quoted[1]}"


@staff_required
def appointment_detail(request, pk):
    """Show a visit, everything that happened to it, and what can be done next."""
    appointment = visit_of_this_clinic(request, pk)
    zone = request.staff_member.clinic.zone
    course_sessions = (
        list(with_paid(appointment.course.appointments.order_by("start", "id"))) if appointment.course else []
    )
    can_change = appointment.is_active and appointment.status != AppointmentStatus.FULFILLED
    now = timezone.now()
    course_owing = sessions_owing(course_sessions)  # read with what each was paid
    money = visit_money(appointment)
    sessions_ahead = [s for s in course_sessions if is_ahead(s, now)]
    check_in_refusal = status_refusal(appointment, AppointmentStatus.ARRIVED, now=now)
    move_day, move_day_error = parse_local_date(
        request.GET.get("date"), timezone.localtime(appointment.start, zone).date()
    )
    movers = _who_may_see(appointment) if can_change else []
    time_off = time_off_clashes([appointment]).get(appointment.pk) if can_change else None
    off_hours = can_change and not time_off and bool(outside_working_hours([appointment], zone))
    unqualified = can_change and not (time_off or off_hours) and bool(not_qualified_for([appointment]))
    away = bool(time_off or off_hours or unqualified)  # the practitioner will not see the client then
    # With the practitioner away then, the free times first shown are someone else's: everyone's that
    # day are worked out once, to choose the stand-in and to list theirs.
    day_slots = (
        available_slots(
            service=appointment.service,
            start_date=move_day,
            end_date=move_day,
            ignore_appointment_id=appointment.pk,
        )
        if away
        else None
    )
    stand_in = _stand_in(appointment, movers, day_slots) if away else None
    move_with = next(
        (p for p in movers if p.pk == parse_id(request.GET.get("with"))), stand_in or appointment.practitioner
    )
    if not can_change:
        day_times = []
    elif day_slots is not None:
        day_times = free_times_from(day_slots, zone, practitioner_id=move_with.pk)
    else:
        day_times = free_times_on(
            service=appointment.service,
            day=move_day,
            practitioner_id=move_with.pk,
            ignore_appointment_id=appointment.pk,
        )
    free_times = [
        t
        for t in day_times
        # where it already is: not a move
        if t["local"] != appointment.start or move_with.pk != appointment.practitioner_id
    ]
    waiting_to_move = (
        WaitlistEntry.objects.filter(visit_to_move=appointment, ended_at=None)
        .select_related(*ENTRY_RELATED)
        .first()
        if can_change
        else None
    )
    sooner = sooner_days(appointment) if can_change and waiting_to_move is None else None
    record = TreatmentSession.objects.filter(appointment=appointment).select_related("signed_off_by").first()
    intake = (
        latest_intake_reading(appointment.client) if can_change and may_record(request.staff_member) else None
    )
    if intake:
        health_data_read(request.staff_member, appointment.client_id, HealthDataRead.VISIT_INTAKE)
    writer = may_write(request.staff_member, appointment)
    startable = record is None and writer and appointment.service.protocols.exists()
    record_refusal = record_start_refusal(appointment, now=now) if startable else None
    return render(
        request,
        "treatments/appointment_detail.html",
        {
            "appointment": appointment,
            "record": record,
            "record_areas": recorded_area_count(record) if record else 0,
            "may_record": may_record(request.staff_member),
            # why no record can be started yet: said only on the visit's day, where it helps
            "record_refusal": record_refusal,
            "can_start_record": startable and record_refusal is None,
            "attendance": client_attendance(appointment.client, now=now),
            "email_refused": refused_address(appointment.client),
            "money": money,
            "fee_offered": fee_offered(appointment, money),
            "course_owing": course_owing,
            "course_owing_total": sum((owed for _, owed in course_owing), Decimal("0")),
            "payment_methods": PaymentMethod.choices,
            "events": [
                _history_line(e, zone)
                for e in appointment.events.select_related("actor__staff").order_by("at", "id")
            ],
            "timeline": with_resend_refusals(appointment_messages(appointment)),
            "resend_next": request.get_full_path(),
            "reschedule_form": RescheduleForm(
                prefix="reschedule",
                practitioners=StaffMember.objects.filter(pk__in=[p.pk for p in movers]).order_by(
                    "display_name"
                ),
                initial={
                    "start": timezone.localtime(appointment.start, zone).strftime("%Y-%m-%dT%H:%M"),
                    "practitioner": move_with.pk,
                },
            ),
            # none once completed
            "safety": before_the_session(appointment, request.staff_member) if can_change else None,
            # the answers themselves are health data: for the practitioners and managers
            "intake": intake,
            "movers": movers,
            "time_off": time_off,
            "off_hours": off_hours,
            "unqualified": unqualified,
            "out_of_use": room_and_devices_to_change([appointment])[0].get(appointment.pk, "")
            if can_change
            else "",
            "move_with": move_with,
            # the client would rather come earlier: on the waitlist to move it, or the form to put them on
            "waiting_to_move": waiting_to_move,
            "waiting_to_move_said": waiting_for_said(waiting_to_move) if waiting_to_move else "",
            "wait_earlier_form": WaitlistDaysForm(initial={"first_day": sooner[0], "last_day": sooner[1]})
            if sooner
            else None,
            "cancel_form": CancelForm(prefix="cancel"),
            "notes_form": VisitNotesForm(prefix="notes", initial={"notes": appointment.notes}),
            "feedback": VisitFeedback.objects.filter(appointment=appointment).first()
            if appointment.status == AppointmentStatus.FULFILLED
            else None,
            # the client is in: book their next visit for the treatment before they leave
            "next_visit": next_visit_after(appointment, now=now),
            "progress": course_progress(appointment.course, course_sessions) if appointment.course else None,
            "course_sessions": course_sessions,
            "show_course": request.GET.get("show") == "course",
            "sessions_ahead": sessions_ahead,
            "course_cancel_form": CancelForm(prefix="course-cancel"),
            "session_number": next(
                (n for n, a in enumerate(course_sessions, 1) if a.pk == appointment.pk), None
            ),
            "can_check_in": check_in_refusal is None,
            # why there is no "Check in" on a visit booked for another day, said where the button would be
            "check_in_note": check_in_refusal.message
            if check_in_refusal and check_in_refusal.code == "not_today"
            else "",
            "can_complete": status_refusal(appointment, AppointmentStatus.FULFILLED, now=now) is None,
            "can_no_show": status_refusal(appointment, AppointmentStatus.NOSHOW, now=now) is None,
            "undo_label": f"Undo {UNDOABLE[appointment.status]}"
            if undo_refusal(appointment, now=now) is None
            else "",
            "can_change": can_change,
            "move_day": move_day,
            "move_day_error": move_day_error,
            "free_times": free_times,
            # a day with nothing free points to the next one that has something
            "next_free": next_free_start(
                service=appointment.service,
                after=move_day,
                days=LOOK_AHEAD_DAYS,
                practitioner_id=move_with.pk,
            )
            if can_change and not free_times
            else None,
        },
    )


# A visit dragged on the calendar can be put back from the calendar for a while (`calendar.py`).
MOVED_VISIT = "moved_visit"
UNDO_MOVE_FOR = dt.timedelta(minutes=10)


def remember_move_to_undo(request, moved, *, was_start, was_with) -> None:
    """Keep, in the sign-in's session, where a visit moved on the calendar was, to offer putting it back."""
    zone = request.staff_member.clinic.zone
    was = timezone.localtime(was_start, zone)
    request.session[MOVED_VISIT] = {
        "visit": moved.pk,
        "sequence": moved.sequence,
        "until": (timezone.now() + UNDO_MOVE_FOR).timestamp(),
        "start": was.strftime("%Y-%m-%dT%H:%M"),
        "practitioner": was_with.pk,
        "said": f"{moved.client.full_name} back to {was:%a %d %b %H:%M} with {was_with.display_name}",
    }


def move_to_undo(request) -> dict | None:
    """The calendar's last move while it is recent and the visit has not changed since (put back,
    moved again, cancelled); then it is forgotten."""
    moved = request.session.get(MOVED_VISIT)
    if not moved:
        return None
    if moved.get("until", 0) >= timezone.now().timestamp() and (
        Appointment.objects.filter(
            pk=moved["visit"], clinic=request.staff_member.clinic, sequence=moved["sequence"]
        ).exists()
    ):
        return moved
    del request.session[MOVED_VISIT]
    return None


STATUS_ACTIONS = {
    "check_in": (AppointmentStatus.ARRIVED, "Checked in."),
    "complete": (AppointmentStatus.FULFILLED, "Marked as completed."),
    "no_show": (AppointmentStatus.NOSHOW, "Marked as a no-show."),
}


@staff_required
@require_POST
def appointment_action(request, pk, action):
    """Apply one action from the appointment page and come back to it with the outcome."""
    appointment = visit_of_this_clinic(request, pk)
    try:
        if action in STATUS_ACTIONS:
            new_status, done = STATUS_ACTIONS[action]
            appointment_set_status(appointment, status=new_status, actor=request.user)
            messages.success(request, f"{appointment.client.full_name}: {done[0].lower()}{done[1:]}")
            if new_status == AppointmentStatus.ARRIVED:
                _say_forms_still_missing(request, appointment)
        elif action == "send_forms":
            names = appointment_request_forms(appointment, actor=request.user)
            messages.success(
                request, f"Emailed {appointment.client.full_name} the link to fill: {', '.join(names)}."
            )
        elif action == "change_room":
            changed = appointment_change_room_and_device(appointment, actor=request.user)
            now_in = ", ".join(r.name for r in (changed.room, *changed.devices) if r)
            messages.success(request, f"{appointment.client.full_name} now has {now_in}, at the same time.")
        elif action == "notes":
            form = VisitNotesForm(request.POST, prefix="notes")
            if not form.is_valid():
                messages.error(request, form.errors["notes"][0])
            else:
                noted = appointment_notes_change(
                    appointment, notes=form.cleaned_data["notes"], actor=request.user
                )
                messages.success(request, "Note saved." if noted.notes else "Note cleared.")
        elif action == "price":
            changed = appointment_price_change(
                appointment,
                price=request.POST.get("price-price"),
                reason=request.POST.get("price-reason", ""),
                actor=request.user,
            )
            messages.success(request, f"The visit's price is {changed.clinic.price_text(changed.price)} now.")
            return redirect(reverse("appointment-detail", args=[pk]) + "#payments")
        elif action == "undo":
            undone = UNDOABLE.get(appointment.status, "status")
            appointment_undo_status(appointment, actor=request.user)
            messages.success(request, f"{appointment.client.full_name}: {undone} undone, booked again.")
        elif action == "cancel":
            form = CancelForm(request.POST, prefix="cancel")
            form.is_valid()
            cancelled = appointment_cancel(
                appointment, actor=request.user, reason=form.cleaned_data.get("reason", "")
            )
            messages.success(
                request,
                "Cancelled. The time is free again and the client will be told." + _waitlist_told(cancelled),
            )
        elif action == "reschedule":
            form = RescheduleForm(
                request.POST,
                prefix="reschedule",
                practitioners=StaffMember.objects.filter(
                    clinic=appointment.clinic, role=StaffRole.PRACTITIONER, is_active=True
                ),
            )
            if not form.is_valid():
                messages.error(
                    request,
                    "Pick who the client will see from the list."
                    if "practitioner" in form.errors
                    else "Give the new start as a date and time.",
                )
                return redirect("appointment-detail", pk)
            was_start, was_with = appointment.start, appointment.practitioner
            moved = appointment_reschedule(
                appointment,
                start=form.cleaned_data["start"],
                practitioner=form.cleaned_data["practitioner"],
                actor=request.user,
                reason=form.cleaned_data["reason"],
            )
            local = timezone.localtime(moved.start, request.staff_member.clinic.zone)
            if request.POST.get("next", "").startswith("/calendar/") and not request.POST.get("undo"):
                remember_move_to_undo(request, moved, was_start=was_start, was_with=was_with)
            messages.success(
                request,
                f"Moved to {local:%a %d %b %H:%M} with {moved.practitioner.display_name}."
                + _waitlist_told(moved),
            )
        else:
            raise Http404("No such action.")
    except ClinicError as refusal:
        messages.error(request, refusal.message)
    # Back to where the action was taken (e.g. the day's list, where the client was checked in).
    return redirect_back(request, reverse("appointment-detail", args=[pk]))
