"""Messages a booking change sends the client, written to the outbox in the change's transaction.

Each is a row with a due time and a dedupe key; nothing waits in the broker. Reminders carry the
appointment's SEQUENCE in their key, so a reschedule cancels the old ones and writes new ones.
"""

import datetime as dt
import re

from django.db.models import prefetch_related_objects
from django.urls import reverse
from django.utils import timezone

from clients.links import absolute_url, forms_url, unsubscribe_url
from clients.selectors import forms_needed
from clients.services import client_accepts_non_essential_mail
from clinic.models import ClientChangeEmails, OutboxMessage, OutboxStatus, StaffMember
from clinic.outbox import outbox_cancel, outbox_message, outbox_write
from treatments.aftercare import rebook_topic
from treatments.invites import appointment_invite, course_invite
from treatments.links import client_visits_url, feedback_url, manage_url, visit_forms_url
from treatments.models import Appointment, AppointmentStatus, Course
from treatments.selectors import forms_missing, short_local

REMINDER = "booking_reminder"
# A reminder that would arrive this soon after the confirmation (or the notice of a move) repeats
# what the client has just read: it is left out. Booked at 11:50 for 14:00, the 2 h reminder would
# come ten minutes after the confirmation.
REMINDER_MIN_GAP = dt.timedelta(hours=1)


def _local_start_of(clinic, instant: dt.datetime) -> str:
    """A time as the emails write it, in the clinic's zone: "Monday 7 December 2026 at 10:00"."""
    local = timezone.localtime(instant, clinic.zone)
    return f"{local:%A} {local.day} {local:%B %Y at %H:%M}"


def _local_start(appointment: Appointment) -> str:
    """The visit's start as the emails write it."""
    return _local_start_of(appointment.clinic, appointment.start)


def _as_written(text: str | None) -> str:
    """A start as `_local_start` writes it, also for rows written before days lost their leading zero."""
    return re.sub(r"^(\w+) 0(\d) ", r"\1 \2 ", text or "")


def _said_of_the_visit(appointment: Appointment) -> dict:
    """What the emails say of a visit that can change without it moving: names, local time and zone."""
    clinic = appointment.clinic
    return {
        "service_name": appointment.service.name,
        "practitioner_name": appointment.practitioner.display_name,
        "local_start": _local_start(appointment),
        "zone_name": clinic.time_zone,
        "zone_abbreviation": timezone.localtime(appointment.start, clinic.zone).tzname(),
    }


def missed_visit_fee_said(clinic) -> str:
    """The clinic's fee for a visit missed or cancelled late, as the emails write it ('' for none)."""
    return clinic.price_text(clinic.missed_visit_fee) if clinic.missed_visit_fee else ""


def _context(appointment: Appointment) -> dict:
    return {
        "appointment_id": appointment.pk,
        "client_first_name": appointment.client.first_name,
        **_said_of_the_visit(appointment),
        "manage_url": manage_url(appointment),
        "visits_url": client_visits_url(appointment.client, until=appointment.end),
        "cancellation_window_hours": appointment.clinic.cancellation_window_hours,
        "missed_visit_fee": missed_visit_fee_said(appointment.clinic),
        "sequence": appointment.sequence,
        # as booked (a free consultation says none)
        "price": appointment.clinic.price_text(appointment.price) if appointment.price else "",
    }


def _message(
    appointment: Appointment,
    template_key: str,
    dedupe_key: str,
    *,
    context: dict,
    due_at=None,
    invite=None,
    topic: str = "",
) -> list[OutboxMessage]:
    """Build the message for the client (none when they have no email address)."""
    client = appointment.client
    if not client.email:
        return []
    if invite:
        context = {**context, "ics": appointment_invite(appointment, method=invite), "ics_method": invite}
    return [
        outbox_message(
            clinic=appointment.clinic,
            recipient_email=client.email,
            recipient_name=client.full_name,
            template_key=template_key,
            dedupe_key=dedupe_key,
            context=context,
            due_at=due_at,
            topic=topic or f"appointment:{appointment.pk}",
            client_id=client.pk,
        )
    ]


def _reminders(appointment: Appointment, context: dict, *, written_at=None) -> list[OutboxMessage]:
    """Build one reminder per clinic lead time, for those due an hour or more after being written.

    `written_at` (default now) is when the confirmation or the notice of a move is written: a
    reminder due before then, or less than REMINDER_MIN_GAP after it, is left out.
    """
    written_at = written_at or timezone.now()
    reminders = []
    for lead_hours in appointment.clinic.reminder_lead_hours or []:
        due_at = appointment.start - dt.timedelta(hours=lead_hours)  # absolute hours: right across DST
        if due_at < written_at + REMINDER_MIN_GAP:
            continue
        key = f"appointment:{appointment.pk}:reminder:{lead_hours}h:{appointment.sequence}"
        reminders += _message(appointment, REMINDER, key, context=context, due_at=due_at)
    return reminders


def notify_booked(appointment: Appointment, *, booked_at=None, confirmed: bool = True) -> None:
    """Queue the confirmation with its invite, and the reminders (call inside the booking transaction).

    `booked_at` (default now) is for a booking recorded after it was made, such as the demo's
    history: its messages fall due then, and reminders already past then are left out. Without
    `confirmed` (a visit imported from software that confirmed it) only the reminders and form requests.
    """
    context = _context(appointment)
    protocols = list(appointment.service.protocols.all())
    confirmation = (
        _message(
            appointment,
            "booking_confirmation",
            f"appointment:{appointment.pk}:booked",
            context=context,
            invite="REQUEST",
            due_at=booked_at,
        )
        if confirmed
        else []
    )
    outbox_write(
        confirmation
        + _reminders(appointment, context, written_at=booked_at)
        + _forms_request(appointment, {p.modality for p in protocols}, context, due_at=booked_at)
    )
    _cancel_rebooking_invitations(appointment, protocols)


LEAD_TIMES_CHANGED = "The clinic's reminder times changed."


def reminders_follow_lead_times(clinic, *, now: dt.datetime | None = None) -> tuple[int, int]:
    """Give each visit ahead the reminders the clinic's lead times now ask for; return (scheduled, cancelled).

    Call in the transaction that changes `clinic.reminder_lead_hours`. A reminder still to go at a
    lead time no longer set is cancelled; one at a new lead time is written (or scheduled again, if
    an earlier change cancelled it), except where `_reminders` leaves it out (due within the hour).
    Reminders already sent stay sent, and copies staff asked for are left alone. Four statements
    and the writes, however many visits.
    """
    now = now or timezone.now()
    visits = list(
        Appointment.objects.filter(
            clinic=clinic, status=AppointmentStatus.BOOKED, start__gt=now
        ).select_related("client", "service", "practitioner", "clinic")
    )
    wanted = {m.dedupe_key: m for visit in visits for m in _reminders(visit, _context(visit), written_at=now)}
    existing = {
        row.dedupe_key: row
        for row in OutboxMessage.objects.filter(
            topic__in=[f"appointment:{visit.pk}" for visit in visits], template_key=REMINDER
        )
        .exclude(dedupe_key__startswith="resend:")
        .only("id", "dedupe_key", "status", "last_error")
    }
    cancelled = OutboxMessage.objects.filter(
        pk__in=[row.pk for key, row in existing.items() if key not in wanted], status=OutboxStatus.PENDING
    ).update(status=OutboxStatus.CANCELLED, last_error=LEAD_TIMES_CHANGED)
    again = [
        row
        for key, row in existing.items()
        if key in wanted and row.status == OutboxStatus.CANCELLED and row.last_error == LEAD_TIMES_CHANGED
    ]
    for row in again:
        row.status, row.due_at, row.last_error = OutboxStatus.PENDING, wanted[row.dedupe_key].due_at, ""
    OutboxMessage.objects.bulk_update(again, ["status", "due_at", "last_error"])
    new = [message for key, message in wanted.items() if key not in existing]
    outbox_write(new)
    return len(new) + len(again), cancelled


def _course_message(
    course: Course,
    sessions: list[Appointment],
    contexts: list[dict],
    template_key: str,
    dedupe_key: str,
    *,
    status: str,
    due_at=None,
) -> list[OutboxMessage]:
    """Build one email about several sessions of a course, with one calendar file holding them all.

    `contexts`: each session's `_context`, in the same order.
    """
    first = sessions[0]
    if not first.client.email:
        return []
    context = {
        **contexts[0],
        "course_id": course.pk,
        "session_count": len(sessions),
        "sessions": [
            {key: c[key] for key in ("local_start", "zone_abbreviation", "manage_url")} for c in contexts
        ],
        "ics": course_invite(sessions, status=status),
        "ics_method": "PUBLISH",
        # good until the last session is over
        "visits_url": client_visits_url(first.client, until=max(session.end for session in sessions)),
    }
    return _message(
        first, template_key, dedupe_key, context=context, topic=f"course:{course.pk}", due_at=due_at
    )


def notify_course_booked(course: Course, sessions: list[Appointment], *, booked_at=None) -> None:
    """Queue one confirmation for a whole course, each session's reminders, and one form request.

    A course of ten sessions is one email listing them all (with one calendar file holding every
    session), not ten; the forms a course needs are asked for once, for its first visit.
    `booked_at`: as for `notify_booked`.
    """
    sessions = sorted(sessions, key=lambda a: a.start)
    first = sessions[0]
    protocols = list(first.service.protocols.all())
    contexts = [_context(session) for session in sessions]
    confirmation = _course_message(
        course,
        sessions,
        contexts,
        "course_confirmation",
        f"course:{course.pk}:booked",
        status="CONFIRMED",
        due_at=booked_at,
    )
    reminders = [
        m
        for session, c in zip(sessions, contexts, strict=True)
        for m in _reminders(session, c, written_at=booked_at)
    ]
    forms = _forms_request(first, {p.modality for p in protocols}, contexts[0], due_at=booked_at)
    outbox_write(confirmation + reminders + forms)
    _cancel_rebooking_invitations(first, protocols)


def notify_course_cancelled(course: Course, sessions: list[Appointment]) -> None:
    """Stop what was still to be sent about the cancelled sessions, then tell the client in one email.

    The calendar file publishes each session again as CANCELLED with its higher SEQUENCE, so a
    calendar holding the course's events marks those sessions cancelled.
    """
    sessions = sorted(sessions, key=lambda a: a.start)
    outbox_cancel(*(f"appointment:{s.pk}" for s in sessions), f"course:{course.pk}")
    key = f"course:{course.pk}:cancelled:{sessions[0].pk}"  # a session is cancelled only once
    contexts = [_context(session) for session in sessions]
    outbox_write(_course_message(course, sessions, contexts, "course_cancelled", key, status="CANCELLED"))


def _cancel_rebooking_invitations(appointment: Appointment, protocols) -> None:
    """Booked again: a pending invitation to rebook the same protocol has lost its reason."""
    topics = [rebook_topic(appointment.client_id, p.pk) for p in protocols]
    OutboxMessage.objects.filter(topic__in=topics, status=OutboxStatus.PENDING).update(
        status=OutboxStatus.CANCELLED, last_error="The client booked again."
    )


def _forms_request(
    appointment: Appointment, modalities: set[str], context: dict, *, due_at=None, key: str = ""
) -> list[OutboxMessage]:
    """Ask for the intake form and consents the visit needs that are missing or stale at its start."""
    needed = forms_needed(client=appointment.client, modalities=modalities, at=appointment.start)
    if not needed:
        return []
    extra = {
        "forms_url": forms_url(appointment.client, modalities=sorted(modalities)),
        "forms_needed": needed.names,
    }
    key = key or f"appointment:{appointment.pk}:forms"
    return _message(appointment, "forms_request", key, context={**context, **extra}, due_at=due_at)


def notify_forms_request(appointment: Appointment) -> list[str]:
    """Queue, now, the link to the forms the visit still needs (staff asked); return their names.

    Nothing is queued, and [] returned, when nothing is missing. Each request is its own message
    (`…:forms:2`, `…:forms:3`): the client may have lost the first, or the forms changed since.
    """
    modalities = {p.modality for p in appointment.service.protocols.all()}
    earlier = OutboxMessage.objects.filter(
        topic=f"appointment:{appointment.pk}", template_key="forms_request"
    ).count()
    key = f"appointment:{appointment.pk}:forms:{earlier + 1}"
    messages = _forms_request(appointment, modalities, _context(appointment), key=key)
    outbox_write(messages)
    return messages[0].context["forms_needed"] if messages else []


def notify_rescheduled(appointment: Appointment) -> None:
    """Queue the reschedule notice with the updated invite, and move what was still to be sent.

    Pending reminders are replaced by ones for the new time. A confirmation or an earlier notice
    not sent yet (a worker behind, the broker down) would give the old time: it is cancelled, the
    notice gives the new one. A form request still to go keeps its links and takes the new time.
    """
    pending = OutboxMessage.objects.filter(topic=f"appointment:{appointment.pk}", status=OutboxStatus.PENDING)
    pending.filter(template_key=REMINDER).update(
        status=OutboxStatus.CANCELLED, last_error="The visit moved; reminders for the new time replace it."
    )
    pending.filter(template_key__in=["booking_confirmation", "booking_rescheduled"]).update(
        status=OutboxStatus.CANCELLED,
        last_error="The visit moved before this was sent; the notice of the move gives the new time.",
    )
    context = _context(appointment)
    forms_requests = list(pending.filter(template_key="forms_request").select_for_update())
    for request in forms_requests:
        request.context = {**request.context, **context}
    OutboxMessage.objects.bulk_update(forms_requests, ["context"])
    key = f"appointment:{appointment.pk}:rescheduled:{appointment.sequence}"
    outbox_write(
        _message(appointment, "booking_rescheduled", key, context=context, invite="REQUEST")
        + _reminders(appointment, context)
    )


def notify_cancelled(appointment: Appointment) -> None:
    """Stop whatever was still to be sent about the visit, then queue the cancellation with its invite."""
    outbox_cancel(f"appointment:{appointment.pk}")
    key = f"appointment:{appointment.pk}:cancelled"
    outbox_write(
        _message(appointment, "booking_cancelled", key, context=_context(appointment), invite="CANCEL")
    )


RUNNING_LATE = "running_late"


def notify_running_late(appointment: Appointment, minutes: int, *, event_id: int) -> list[OutboxMessage]:
    """Queue, due now, the client's email that their practitioner is running about `minutes` late.

    Call inside the transaction that records it (the visit's "running_late" event, whose id keys the
    message). A notice of the same visit not sent yet is replaced: the client hears the latest
    estimate, once. The likely start is worked out in UTC, then said in the clinic's local time.
    """
    replaced = OutboxMessage.objects.filter(
        topic=f"appointment:{appointment.pk}", template_key=RUNNING_LATE, status=OutboxStatus.PENDING
    )
    replaced.update(status=OutboxStatus.CANCELLED, last_error="A later notice of running late replaced it.")
    likely = timezone.localtime(appointment.start + dt.timedelta(minutes=minutes), appointment.clinic.zone)
    messages = _message(
        appointment,
        RUNNING_LATE,
        f"appointment:{appointment.pk}:running-late:{event_id}",
        context={**_context(appointment), "late_minutes": minutes, "expected_local_time": f"{likely:%H:%M}"},
    )
    outbox_write(messages)
    return messages


FEEDBACK_REQUEST = "feedback_request"
# A visit completed later than this after it ended (the desk catching up) is not asked about.
FEEDBACK_ASKED_WITHIN = dt.timedelta(days=2)


def notify_feedback_request(appointment: Appointment, *, now: dt.datetime) -> list[OutboxMessage]:
    """Queue the email asking the client how their visit went, the clinic's hours after it ended.

    Call in the transaction that completes the visit. Optional mail: not for a client who
    unsubscribed or turned it off, and it carries one-click unsubscribe. Not written when the clinic
    asks for none, when the visit was completed days after it (FEEDBACK_ASKED_WITHIN), or twice.
    """
    hours = appointment.clinic.feedback_request_hours
    client = appointment.client
    if hours is None or not client_accepts_non_essential_mail(client):
        return []
    if now - appointment.end > FEEDBACK_ASKED_WITHIN:
        return []
    message = outbox_message(
        clinic=appointment.clinic,
        recipient_email=client.email,
        recipient_name=client.full_name,
        template_key=FEEDBACK_REQUEST,
        dedupe_key=f"appointment:{appointment.pk}:feedback",
        context={
            "appointment_id": appointment.pk,
            "client_first_name": client.first_name,
            **_said_of_the_visit(appointment),
            "feedback_url": feedback_url(appointment),
            "unsubscribe_url": unsubscribe_url(client),
        },
        due_at=max(now, appointment.end + dt.timedelta(hours=hours)),
        topic=f"appointment:{appointment.pk}",
        client_id=client.pk,
        is_essential=False,
    )
    outbox_write([message])
    return [message]


PRACTITIONER_NOTICE = "practitioner_client_change"


def _told_of(practitioner: StaffMember, days, today: dt.date) -> bool:
    """Whether the practitioner asked to hear of a change touching these local days."""
    if not practitioner.is_active or not practitioner.is_practitioner or not practitioner.user.email:
        return False
    if practitioner.client_change_emails == ClientChangeEmails.ALWAYS:
        return True
    soon = (today, today + dt.timedelta(days=1))
    return practitioner.client_change_emails == ClientChangeEmails.SOON and any(day in soon for day in days)


def _change_key(change: str, event_id: int, now: dt.datetime | None) -> str:
    if change == "note":  # a client rewording their note: one notice a quarter of an hour
        return f"note:{int((now or timezone.now()).timestamp() // 900)}"
    return f"event:{event_id}"


def notify_practitioners_of_client_change(
    appointment: Appointment,
    change: str,
    *,
    event_id: int,
    was_start: dt.datetime | None = None,
    was_practitioner: StaffMember | None = None,
    now: dt.datetime | None = None,
) -> list[OutboxMessage]:
    """Email the practitioner that a client booked, moved or cancelled their visit online, or wrote,
    changed or cleared their note for it ("note": one email a quarter of an hour however often they
    change it, saying where to read the note, not what it says).

    Call inside the change's transaction, after the client's own mail (a cancellation stops what was
    still to go about the visit, this notice included when it comes before). `change` is "booked",
    "moved" or "cancelled"; a move names where from (`was_start`) and, when the client took another
    practitioner's time from the waitlist, whose it was (`was_practitioner`, told too). Each
    practitioner chooses (`StaffMember.client_change_emails`): never, for visits today or tomorrow
    (the default: a visit of next month can wait for the day's list), or always. The email names the
    client by their initials and links to the visit's page, behind the clinic's sign-in.
    """
    clinic = appointment.clinic
    zone = clinic.zone
    today = timezone.localdate(now or timezone.now(), zone)
    days = [timezone.localdate(appointment.start, zone)]
    if was_start is not None:
        days.append(timezone.localdate(was_start, zone))
    told = [appointment.practitioner]
    if was_practitioner is not None and was_practitioner.pk != appointment.practitioner_id:
        told.append(was_practitioner)
    context = {
        **_said_of_the_visit(appointment),
        "appointment_id": appointment.pk,
        "change": change,
        "client_initials": appointment.client.initials,
        # the note itself may be about their health: it is read behind the sign-in, not in an email
        "client_left_note": bool(appointment.client_note),
        "was_local_start": _local_start_of(clinic, was_start) if was_start is not None else "",
        "was_practitioner_name": was_practitioner.display_name if len(told) > 1 else "",
        "visit_url": absolute_url(reverse("appointment-detail", args=[appointment.pk])),
        "settings_url": absolute_url(reverse("my-calendar")),
    }
    messages = [
        outbox_message(
            clinic=clinic,
            recipient_email=practitioner.user.email,
            recipient_name=practitioner.display_name,
            template_key=PRACTITIONER_NOTICE,
            dedupe_key=f"appointment:{appointment.pk}:{_change_key(change, event_id, now)}:"
            f"practitioner:{practitioner.pk}",
            context={**context, "recipient_name": practitioner.display_name},
            topic=f"appointment:{appointment.pk}",
        )
        for practitioner in told
        if _told_of(practitioner, days, today)
    ]
    outbox_write(messages)
    return messages


# What each message says about its visit stops being true once the visit has moved, been cancelled
# or begun; a cancellation notice, aftercare and rebooking invitations stay true.
ABOUT_THE_VISIT_AHEAD = {
    "booking_confirmation",
    REMINDER,
    "booking_rescheduled",
    "forms_request",
    RUNNING_LATE,
}
# The messages that ask for the forms the visit still lacks when they go.
ASK_FOR_MISSING_FORMS = {"forms_request", REMINDER}
NO_LONGER_HAPPENING = {
    AppointmentStatus.CANCELLED: "was cancelled",
    AppointmentStatus.NOSHOW: "was a no-show",
    AppointmentStatus.ENTERED_IN_ERROR: "was entered in error",
    AppointmentStatus.WAITLIST: "is on the waitlist",
}


def out_of_date_booking_messages(
    messages: list[OutboxMessage], now: dt.datetime, delivering: bool = False
) -> dict[int, str]:
    """Say, by id, which of these messages sent now would be untrue, and why.

    Registered with `clinic.outbox.register_out_of_date_check`: a resend is refused for them, and
    delivery cancels them instead of sending (a reminder for a visit that has begun, a confirmation
    giving a time the visit has moved from). When `delivering`, a reminder that comes late (a worker
    or the mail server was down) is also left out when a reminder nearer the visit is due within
    REMINDER_MIN_GAP: the client gets one reminder, not two at once. A form request is out of date
    once the client has filled and signed what it asks for.
    Two queries, however many messages; three with reminders being delivered, and six more per
    clinic with form requests (`forms_missing`).
    """
    about_visits = {
        m.pk: _id_in(m.topic, "appointment") for m in messages if m.template_key in ABOUT_THE_VISIT_AHEAD
    }
    about_courses = {
        m.pk: _id_in(m.topic, "course") for m in messages if m.template_key == "course_confirmation"
    }
    about_visits = {pk: visit_id for pk, visit_id in about_visits.items() if visit_id is not None}
    about_courses = {pk: course_id for pk, course_id in about_courses.items() if course_id is not None}
    visits = Appointment.objects.select_related("clinic").in_bulk(set(about_visits.values()))
    sessions: dict[int, list[Appointment]] = {}
    if about_courses:
        for session in (
            Appointment.objects.filter(course_id__in=set(about_courses.values()))
            .select_related("clinic")
            .order_by("start", "id")
        ):
            sessions.setdefault(session.course_id, []).append(session)
    refusals = _late_reminders_with_a_nearer_one(messages, about_visits, now) if delivering else {}
    for message in messages:
        if message.pk in about_visits:
            reason = _visit_refusal(message, visits.get(about_visits[message.pk]), now)
        elif message.pk in about_courses:
            reason = _course_refusal(message, sessions.get(about_courses[message.pk], []), now)
        else:
            continue
        if reason:
            refusals[message.pk] = reason
    refusals.update(_form_requests_answered(messages, about_visits, visits, refusals))
    return refusals


def _form_requests_answered(messages, about_visits, visits, refusals) -> dict[int, str]:
    """The form requests, about visits still current, whose client now has every form the visit needs."""
    asking = [
        m
        for m in messages
        if m.template_key == "forms_request" and m.pk in about_visits and m.pk not in refusals
    ]
    missing = _forms_missing_for(asking, about_visits, visits)
    return {
        m.pk: "the forms it asks for are filled and signed"
        for m in asking
        if about_visits[m.pk] in visits and about_visits[m.pk] not in missing
    }


# What `_forms_missing_for` found for a message, kept on the row object: in a delivery the out-of-date
# check, then the refresh, ask the same question of the same rows, loaded for that delivery alone.
FOUND_MISSING = "_forms_missing_found"


def _forms_missing_for(requests, about_visits, visits, *, reuse_found=False) -> dict[int, list[str]]:
    """`forms_missing` for the visits these messages are about, by visit id (six queries a clinic).

    With `reuse_found` (the refresh, right after the check of the same rows), none for the rows the
    check already asked about.
    """
    known = (
        {about_visits[m.pk]: getattr(m, FOUND_MISSING) for m in requests if hasattr(m, FOUND_MISSING)}
        if reuse_found
        else {}
    )
    visits_asked = [
        visits[about_visits[m.pk]]
        for m in requests
        if about_visits[m.pk] in visits and about_visits[m.pk] not in known
    ]
    missing = {visit_id: forms for visit_id, forms in known.items() if forms}
    if visits_asked:
        prefetch_related_objects(visits_asked, "service")
        for clinic_id in {v.clinic_id for v in visits_asked}:
            of_clinic = [v for v in visits_asked if v.clinic_id == clinic_id]
            missing.update(forms_missing(of_clinic, of_clinic[0].clinic))
    for message in requests:
        if about_visits[message.pk] in visits:
            setattr(message, FOUND_MISSING, missing.get(about_visits[message.pk], []))
    return missing


def booking_messages_as_they_stand(messages: list[OutboxMessage]) -> dict[int, dict]:
    """For messages about a visit about to be sent, what they say that changed since they were written.

    Registered with `clinic.outbox.register_context_refresh`. What they say of the visit: a service or
    practitioner renamed, the clinic's zone corrected. What a form request asks for: written at booking,
    it listed the intake and a consent; the client has filled the intake since: it asks for the consent
    only. A move is not this: it raises the visit's SEQUENCE, and the out-of-date check cancels what was
    written before it. A reminder asks for the forms the visit lacks when it goes (a consent version
    published, or the intake's validity run out, since booking). No query for a batch without messages
    about a visit; one with them, and five more a clinic with reminders (form requests reuse what the
    out-of-date check of the same batch found).
    """
    about = {
        m.pk: _id_in(m.topic, "appointment") for m in messages if m.template_key in ABOUT_THE_VISIT_AHEAD
    }
    about = {pk: visit_id for pk, visit_id in about.items() if visit_id is not None}
    if not about:
        return {}
    visits = Appointment.objects.select_related("clinic", "client", "service", "practitioner").in_bulk(
        set(about.values())
    )
    current = [
        m
        for m in messages
        if m.pk in about
        and about[m.pk] in visits
        and m.context.get("sequence", visits[about[m.pk]].sequence) == visits[about[m.pk]].sequence
    ]
    asking = [m for m in current if m.template_key in ASK_FOR_MISSING_FORMS]
    missing = _forms_missing_for(asking, about, visits, reuse_found=True) if asking else {}
    updates = {}
    for message in current:
        visit = visits[about[message.pk]]
        now_said = _said_of_the_visit(visit)
        if message.template_key == "forms_request" and missing.get(visit.pk):
            now_said["forms_needed"] = missing[visit.pk]
        elif message.template_key == REMINDER and missing.get(visit.pk):
            # stale since booking (a new consent version, the intake's validity ran out): asked again here
            now_said["forms_needed"] = missing[visit.pk]
            now_said["forms_url"] = visit_forms_url(visit)
        elif message.template_key == REMINDER and message.context.get("forms_needed"):
            now_said["forms_needed"] = []  # filled since an earlier attempt: no longer asked
        said = {**message.context, "local_start": _as_written(message.context.get("local_start"))}
        changed = {key: value for key, value in now_said.items() if said.get(key) != value}
        if changed:
            updates[message.pk] = changed
    return updates


def _late_reminders_with_a_nearer_one(
    messages: list[OutboxMessage], about_visits: dict[int, int], now: dt.datetime
) -> dict[int, str]:
    """The scheduled reminders a nearer reminder of the same visit replaces, being due within the gap.

    Copies staff asked for ("resend:" keys) are neither left out nor counted.
    """
    reminders = [
        m
        for m in messages
        if m.template_key == REMINDER and m.pk in about_visits and not m.dedupe_key.startswith("resend:")
    ]
    if not reminders:
        return {}
    nearer_due: dict[str, dt.datetime] = {}
    for topic, due_at in (
        OutboxMessage.objects.filter(
            topic__in={m.topic for m in reminders},
            template_key=REMINDER,
            due_at__lte=now + REMINDER_MIN_GAP,
        )
        .exclude(status__in=[OutboxStatus.CANCELLED, OutboxStatus.FAILED])
        .exclude(dedupe_key__startswith="resend:")
        .values_list("topic", "due_at")
    ):
        nearer_due[topic] = max(due_at, nearer_due.get(topic, due_at))
    return {
        m.pk: "it was late, and the reminder nearer the visit goes instead"
        for m in reminders
        if nearer_due.get(m.topic, m.due_at) > m.due_at
    }


def _id_in(topic: str, kind: str) -> int | None:
    """The id in a topic such as "appointment:42" (None for a topic of another kind)."""
    prefix, _, number = topic.partition(":")
    return int(number) if prefix == kind and number.isascii() and number.isdigit() else None


def _visit_refusal(message: OutboxMessage, visit: Appointment | None, now: dt.datetime) -> str:
    if visit is None:
        return "the visit no longer exists"
    if visit.status in NO_LONGER_HAPPENING:
        return f"the visit {NO_LONGER_HAPPENING[visit.status]}"
    if message.context.get("sequence", visit.sequence) != visit.sequence:
        return f"the visit moved to {short_local(visit.start, visit.clinic.zone)}"
    if visit.start <= now:
        return "the visit has begun" if visit.end > now else "the visit is over"
    if message.template_key == RUNNING_LATE and visit.status in (
        AppointmentStatus.ARRIVED,
        AppointmentStatus.CHECKED_IN,
    ):
        return "the client is already here"
    return ""


def _course_refusal(message: OutboxMessage, sessions: list[Appointment], now: dt.datetime) -> str:
    listed = [_as_written(s.get("local_start")) for s in message.context.get("sessions", [])]
    current = [_local_start(s) for s in sessions if s.status not in NO_LONGER_HAPPENING]
    if listed != current:
        return "sessions of the course moved or were cancelled"
    if all(s.start <= now for s in sessions):
        return "every session of the course has begun"
    return ""
