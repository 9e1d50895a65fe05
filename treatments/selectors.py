"""Reads of the treatments layer, planned so their query count does not grow with the rows."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import (
    Count,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    Max,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    prefetch_related_objects,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from clients.models import Client
from clients.selectors import forms_needed_for_visits, staff_signatures_missing_for_visits
from clinic.models import (
    Clinic,
    ClinicClosure,
    Device,
    DeviceKind,
    ExtraHours,
    Modality,
    OutboxMessage,
    OutOfService,
    StaffMember,
    StaffRole,
    TimeOff,
    WorkingHours,
    working_hours_on,
)
from clinic.out_of_service import out_of_service_said
from treatments.availability import extra_hours_by_practitioner, working_windows
from treatments.eligibility import is_qualified
from treatments.models import (
    COURSE_PROGRESS_STATUSES,
    INACTIVE_STATUSES,
    Appointment,
    AppointmentEvent,
    AppointmentStatus,
    Course,
    MesotherapyRecord,
    MicrocurrentRecord,
    MicroneedlingRecord,
    Payment,
    ProductLot,
    Protocol,
    SessionPhoto,
    TreatmentSession,
)

# The days the calendar, the finder and the API take: any visit's, with room for date arithmetic
# (a local day's end, a week on, a course) that would overflow Python's dates near year 9999.
FIRST_CALENDAR_DAY, LAST_CALENDAR_DAY = dt.date(1900, 1, 1), dt.date(2999, 12, 31)


def within_calendar(day: dt.date) -> bool:
    """Tell whether a date typed into a page or the API is one the calendar can show or book."""
    return FIRST_CALENDAR_DAY <= day <= LAST_CALENDAR_DAY


def still_to_be_had(appointments) -> list:
    """The visits that are still on: neither cancelled (nor the like) nor completed."""
    return [
        a
        for a in appointments
        if a.status not in INACTIVE_STATUSES and a.status != AppointmentStatus.FULFILLED
    ]


def time_off_clashes(appointments, time_off: list[TimeOff] | None = None) -> dict[int, TimeOff]:
    """Return, by appointment id, the practitioner's time off that a visit still to be had falls in.

    Time off entered after visits were booked (a sick day) leaves them booked with someone who will
    not be there; the day list, the calendar and the visit's page say so, so the desk moves them.
    One query however many visits, none when the caller has the time off loaded (`time_off`).
    """
    ahead = still_to_be_had(appointments)
    if not ahead:
        return {}
    if time_off is None:
        time_off = list(
            TimeOff.objects.filter(
                staff_member_id__in={a.practitioner_id for a in ahead},
                start__lt=max(a.end for a in ahead),
                end__gt=min(a.start for a in ahead),
            ).order_by("start", "id")
        )
    clashes = {}
    for appointment in ahead:
        for off in time_off:
            if (
                off.staff_member_id == appointment.practitioner_id
                and off.start < appointment.end
                and off.end > appointment.start
            ):
                clashes[appointment.pk] = off
                break
    return clashes


def fits_working_hours(hours, zone, start: dt.datetime, end: dt.datetime, extra=()) -> bool:
    """Tell whether start–end lies, on one local day, inside one of these working-hours windows, or
    inside the practitioner's working time that day with their extra hours (`ExtraHours` rows) added:
    16:30–17:30 fits weekly hours to 17:00 and extra hours 17:00–19:00."""
    local_start, local_end = timezone.localtime(start, zone), timezone.localtime(end, zone)
    if local_start.date() == local_end.date() and any(
        h.start_time <= local_start.time() and local_end.time() <= h.end_time
        for h in working_hours_on(hours, local_start.date())
    ):
        return True
    if not extra:
        return False
    return any(
        window_start <= start and end <= window_end
        for window_start, window_end in working_windows(local_start.date(), zone, hours, list(extra))
    )


def outside_working_hours(
    appointments, zone, hours: list[WorkingHours] | None = None, extra: dict[int, list] | None = None
) -> set[int]:
    """Return the ids of visits still to be had that their practitioner's working hours no longer hold.

    A rota changed after visits were booked (Sam stops working Tuesday afternoons) leaves them booked
    at a time their practitioner does not work; like time off, the desk is told where it looks. A
    practitioner made inactive (they left) works no hours at all. Checked as booking checks it: the
    visit's held time (with the service's buffers) in one window, extra hours counted. Two queries
    however many visits, none when the caller has the hours (`hours`, of active practitioners only)
    and the extra hours (`extra`, by practitioner) loaded.
    """
    ahead = still_to_be_had(appointments)
    if not ahead:
        return set()
    if hours is None:
        hours = list(
            WorkingHours.objects.filter(
                staff_member_id__in={a.practitioner_id for a in ahead}, staff_member__is_active=True
            )
        )
    if extra is None:
        extra = extra_hours_by_practitioner(
            {a.practitioner_id for a in ahead},
            min(a.blocked_start for a in ahead),
            max(a.blocked_end for a in ahead),
        )
    by_practitioner: dict[int, list[WorkingHours]] = {}
    for h in hours:
        by_practitioner.setdefault(h.staff_member_id, []).append(h)
    return {
        a.pk
        for a in ahead
        if not fits_working_hours(
            by_practitioner.get(a.practitioner_id, []),
            zone,
            a.blocked_start,
            a.blocked_end,
            extra.get(a.practitioner_id, ()),
        )
    }


def not_qualified_for(appointments) -> set[int]:
    """Return the ids of visits still to be had whose practitioner's qualifications no longer cover them.

    A manager removed a modality, or lowered a needle depth, after the visit was booked: booking
    would refuse it now (the practitioner is outside their scope of practice), so the desk is told to
    move it, as for time off. Two queries however many visits (the protocols and the qualifications), more
    when the services or practitioners are not loaded.
    """
    ahead = still_to_be_had(appointments)
    prefetch_related_objects(ahead, "service__protocols", "practitioner__qualifications")
    return {a.pk for a in ahead if not is_qualified(a.practitioner, a.service)}


def out_of_use(appointments) -> dict[int, str]:
    """Return, by id, what of the room and devices of each visit still to be had was taken out of use.

    "Room 2 is not in use", "Pen A is out of use", "Pen A is out of service then (servicing)": the
    visit keeps its time, and takes another room or device (`booking.appointment_change_room_and_device`).
    One query for the rooms and devices out of service then, and one each for the room, the device and
    the second device when they are not loaded.
    """
    ahead = still_to_be_had(appointments)
    prefetch_related_objects(ahead, "room", "device", "second_device")
    down = _out_of_service_for(ahead)
    said = {}
    for a in ahead:
        gone = [f"{a.room.name} is not in use"] if a.room and not a.room.is_active else []
        gone += [f"{device.name} is out of use" for device in a.devices if not device.is_active]
        for period in down:
            if period.start < a.blocked_end and period.end > a.blocked_start:
                held = a.room if period.room_id and period.room_id == a.room_id else None
                held = held or next((d for d in a.devices if d.id == period.device_id), None)
                if held is not None:
                    gone.append(out_of_service_said(held.name, period.reason))
        if gone:
            said[a.pk] = "; ".join(gone)
    return said


def _out_of_service_for(visits) -> list[OutOfService]:
    """The periods out of service of these visits' rooms and devices between their first and last held
    times (one query; none without visits)."""
    rooms = {a.room_id for a in visits if a.room_id}
    devices = {device_id for a in visits for device_id in (a.device_id, a.second_device_id) if device_id}
    if not rooms and not devices:
        return []
    return list(
        OutOfService.objects.filter(
            Q(room_id__in=rooms) | Q(device_id__in=devices),
            start__lt=max(a.blocked_end for a in visits),
            end__gt=min(a.blocked_start for a in visits),
        ).only("room_id", "device_id", "start", "end", "reason")
    )


def devices_not_booked(appointments) -> dict[int, str]:
    """Return, by id, the kinds of device each visit still to be had needs and does not hold.

    A service given a second kind of device (a combined facial now using a microcurrent unit) after
    visits were booked leaves those visits without one: "No microcurrent unit is booked for it". The
    visit takes one at its time with the room and device change (`appointment_change_room_and_device`).
    No query when services and devices are loaded.
    """
    ahead = still_to_be_had(appointments)
    prefetch_related_objects(ahead, "service", "device", "second_device")
    said = {}
    for a in ahead:
        held = {device.kind for device in a.devices}
        lacking = [kind for kind in a.service.device_kinds if kind not in held]
        if lacking:
            said[a.pk] = "; ".join(
                f"No {DeviceKind(kind).label.lower()} is booked for it" for kind in lacking
            )
    return said


def room_and_devices_to_change(appointments) -> tuple[dict[int, str], set[int]]:
    """`out_of_use` and `devices_not_booked` in one sentence per visit: what the visit's change fixes.

    Returns the sentences by visit id, and the ids of the visits that lack a device.
    """
    gone, not_booked = out_of_use(appointments), devices_not_booked(appointments)
    said = {
        pk: "; ".join(filter(None, (gone.get(pk), not_booked.get(pk))))
        for pk in gone.keys() | not_booked.keys()
    }
    return said, set(not_booked)


# How many visits ahead `visits_left_without_their_practitioner` looks at: a year of a full diary;
# the manager is told when there are more.
VISITS_AHEAD_CHECKED = 2000
LEFT = "no longer active"
AWAY = "time off"
NOT_WORKING = "not working then"
NOT_QUALIFIED = "not qualified for it"


def visits_left_without_their_practitioner(
    practitioner=None, *, clinic: Clinic | None = None, now: dt.datetime, until: dt.datetime | None = None
) -> list[tuple[Appointment, str]]:
    """Return the visits still ahead that their practitioner will not be there for, soonest first, with why.

    Of one practitioner, or of the whole clinic: the visits stay booked (nothing moves behind the
    desk's back) and each is said, to be moved. Why is LEFT (the practitioner was made inactive),
    AWAY (time off), NOT_WORKING (their working hours changed) or NOT_QUALIFIED (their qualifications
    changed). Only visits starting before `until`, if given. Six queries however many visits.
    """
    visits = Appointment.objects.filter(end__gt=now).exclude(status__in=INACTIVE_STATUSES)
    visits = visits.filter(start__lt=until) if until else visits
    visits = visits.exclude(status=AppointmentStatus.FULFILLED)
    visits = visits.filter(practitioner=practitioner) if practitioner else visits.filter(clinic=clinic)
    visits = list(
        visits.select_related("client", "service", "practitioner__clinic").order_by("start", "id")[
            :VISITS_AHEAD_CHECKED
        ]
    )
    if not visits:
        return []
    zone = visits[0].practitioner.clinic.zone
    working = [v for v in visits if v.practitioner.is_active]
    away = time_off_clashes(working)
    off_hours = outside_working_hours([v for v in working if v.pk not in away], zone)
    unqualified = not_qualified_for([v for v in working if v.pk not in away and v.pk not in off_hours])
    why = {v.pk: LEFT for v in visits if not v.practitioner.is_active}
    why.update(dict.fromkeys(away, AWAY))
    why.update(dict.fromkeys(off_hours, NOT_WORKING))
    why.update(dict.fromkeys(unqualified, NOT_QUALIFIED))
    return [(v, why[v.pk]) for v in visits if v.pk in why]


def visits_ahead_needing(version, *, clinic: Clinic, now: dt.datetime) -> list[Appointment]:
    """The booked visits ahead whose client has yet to fill or sign this version of a form.

    For the manager who has just made a new intake or consent version current. Seven queries.
    """
    visits = list(
        Appointment.objects.filter(clinic=clinic, status=AppointmentStatus.BOOKED, start__gt=now)
        .select_related("service")
        .prefetch_related("service__protocols")
        .order_by("start", "id")[:VISITS_AHEAD_CHECKED]
    )
    needed = forms_needed_for_visits(
        clinic,
        [(v.pk, v.client_id, {p.modality for p in v.service.protocols.all()}, v.start) for v in visits],
    )
    return [v for v in visits if needed[v.pk].intake == version or version in needed[v.pk].consents]


def forms_missing(appointments, clinic: Clinic) -> dict[int, list[str]]:
    """Return, by id, the names of the forms each visit still to be had lacks (visits lacking none left out).

    For the desk chasing intake and consent before the day. Six queries however many visits (the
    services' protocols, then `forms_needed_for_visits`).
    """
    ahead = still_to_be_had(appointments)
    prefetch_related_objects(ahead, "service__protocols")
    needed = forms_needed_for_visits(
        clinic, [(a.pk, a.client_id, {p.modality for p in a.service.protocols.all()}, a.start) for a in ahead]
    )
    return {pk: forms.names for pk, forms in needed.items() if forms}


def staff_signatures_missing(appointments, clinic: Clinic) -> dict[int, list[str]]:
    """Return, by id, the staff signatures the clinic asks on the consents of each visit still to be had,
    still missing (visits missing none left out). Three queries at most, however many visits; the
    services' protocols are loaded by `forms_missing` first."""
    ahead = still_to_be_had(appointments)
    prefetch_related_objects(ahead, "service__protocols")
    return staff_signatures_missing_for_visits(
        clinic, [(a.pk, a.client_id, {p.modality for p in a.service.protocols.all()}) for a in ahead]
    )


def client_visits_ahead_for(client, modality: str, *, now: dt.datetime) -> list[Appointment]:
    """The client's visits still ahead whose service includes the treatment (one query)."""
    return list(
        Appointment.objects.filter(
            client=client,
            start__gt=now,
            status__in=[AppointmentStatus.BOOKED, AppointmentStatus.ARRIVED],
            service__protocols__modality=modality,
        )
        .distinct()
        .order_by("start", "id")
    )


def short_local(instant: dt.datetime, zone) -> str:
    """An instant as staff pages and short messages write it, in the zone: "Wed 9 Dec 14:30"."""
    local = timezone.localtime(instant, zone)
    return f"{local:%a} {local.day} {local:%b %H:%M}"


def active_practitioners(clinic: Clinic) -> QuerySet[StaffMember]:
    """The clinic's active practitioners by name, as the pages list them to choose from."""
    return (
        StaffMember.objects.filter(clinic=clinic, role=StaffRole.PRACTITIONER, is_active=True)
        .select_related("clinic")
        .order_by("display_name", "id")
    )


def visits_later_today(practitioner: StaffMember, *, now: dt.datetime) -> list[Appointment]:
    """The practitioner's visits still to start today (local), their clients not yet in: whom to tell
    when the practitioner runs late. One query."""
    clinic = practitioner.clinic
    _, day_end = local_day_bounds(clinic, timezone.localdate(now, clinic.zone))
    return list(
        Appointment.objects.filter(
            practitioner=practitioner,
            start__gt=now,
            start__lt=day_end,
            status__in=[AppointmentStatus.BOOKED, AppointmentStatus.PENDING],
        )
        .select_related("clinic", "client", "service", "practitioner")
        .order_by("start", "id")
    )


def local_day_bounds(clinic: Clinic, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """Return the aware start and end of a local calendar day (23 or 25 hours on DST change days)."""
    zone = clinic.zone
    start = dt.datetime.combine(day, dt.time.min, tzinfo=zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    return start, end


def day_version(clinic: Clinic, day: dt.date, *, last_day: dt.date | None = None) -> str:
    """A fingerprint of a local day's visits (or the days to `last_day`, a calendar's week) and of its
    schedule, as the day's list and the calendar show them; two queries.

    It changes when a visit of the day is booked, moved in or out, changes status or a note, is told
    of running late, or its client fills or signs a form or withdraws a consent; and when time off,
    extra hours, a closure or a room or device out of service over those days is added or removed:
    the desk's open list then knows to show the change (a client who checked themselves in, a
    practitioner gone home ill).
    """
    start, _ = local_day_bounds(clinic, day)
    _, end = local_day_bounds(clinic, last_day or day)
    found = Appointment.objects.filter(clinic=clinic, start__gte=start, start__lt=end).aggregate(
        visits=Count("id", distinct=True),
        event=Max("events__id"),
        intake=Max("client__intake_responses__id"),
        consent=Max("client__signed_consents__id"),
        withdrawal=Max("client__consent_withdrawals__id"),
    )
    visits = "-".join(str(found[key] or 0) for key in ("visits", "event", "intake", "consent", "withdrawal"))
    return f"{visits}-{_schedule_version(clinic, start, end)}"


# The rows of a clinic's schedule the calendar draws over the visits, and how each names its clinic.
_SCHEDULE = (
    (TimeOff, "staff_member__clinic"),
    (ExtraHours, "staff_member__clinic"),
    (ClinicClosure, "clinic"),
    (OutOfService, "clinic"),
)


def _schedule_version(clinic: Clinic, start: dt.datetime, end: dt.datetime) -> str:
    """How many rows of each kind of the schedule overlap start..end, and the latest id: one query (a
    UNION). A row added raises the latest id past any seen, a row removed lowers the count, so the
    same answer means the same rows (they are added and removed, not edited, but in the admin)."""
    parts = [
        model.objects.filter(**{by_clinic: clinic}, start__lt=end, end__gt=start)
        .order_by()
        .annotate(kind=Value(kind))
        .values("kind")
        .annotate(rows=Count("id"), last=Max("id"))
        .values_list("kind", "rows", "last")
        for kind, (model, by_clinic) in enumerate(_SCHEDULE)
    ]
    found = {kind: f"{rows}.{last or 0}" for kind, rows, last in parts[0].union(*parts[1:], all=True)}
    return "-".join(found.get(kind, "0.0") for kind in range(len(_SCHEDULE)))


def appointments_between(*, clinic: Clinic, first_day: dt.date, last_day: dt.date) -> QuerySet[Appointment]:
    """Return the clinic's appointments starting on local days first_day..last_day (inclusive)."""
    start, _ = local_day_bounds(clinic, first_day)
    _, end = local_day_bounds(clinic, last_day)
    return (
        Appointment.objects.filter(clinic=clinic, start__gte=start, start__lt=end)
        .select_related("clinic", "practitioner", "room", "device", "second_device", "client", "service")
        .order_by("start", "practitioner__display_name", "id")
    )


def next_day_with_visits(*, clinic: Clinic, after: dt.date) -> dt.date | None:
    """Return the first local day after `after` with a visit still on (booked, arrived…), or None."""
    _, end = local_day_bounds(clinic, after)
    first_start = (
        Appointment.objects.filter(clinic=clinic, start__gte=end)
        .exclude(status__in=INACTIVE_STATUSES)
        .order_by("start")
        .values_list("start", flat=True)
        .first()
    )
    return timezone.localdate(first_start, clinic.zone) if first_start else None


def _aftercare_of(session_id: int) -> Q:
    # aftercare keys start with the session (rebooking invitations have a topic of their own)
    return Q(dedupe_key__startswith=f"session:{session_id}:")


def session_aftercare(session: TreatmentSession) -> QuerySet[OutboxMessage]:
    """The aftercare a signed-off session scheduled, soonest first."""
    return OutboxMessage.objects.filter(_aftercare_of(session.pk), clinic_id=session.clinic_id).order_by(
        "due_at", "id"
    )


def appointment_messages(appointment: Appointment) -> QuerySet[OutboxMessage]:
    """Return the mail about a visit: its booking mail and its session's aftercare, newest first."""
    about = Q(topic=f"appointment:{appointment.pk}")
    if appointment.course_id:  # a course is confirmed in one email for all its sessions
        about |= Q(topic=f"course:{appointment.course_id}")
    session_id = TreatmentSession.objects.filter(appointment=appointment).values_list("pk", flat=True).first()
    if session_id:
        about |= _aftercare_of(session_id)
    return OutboxMessage.objects.filter(about, clinic_id=appointment.clinic_id).order_by("-due_at", "-id")


MONEY = DecimalField(max_digits=10, decimal_places=2)
NO_MONEY = Value(Decimal("0.00"), output_field=MONEY)


def with_paid(visits: QuerySet[Appointment]) -> QuerySet[Appointment]:
    """Annotate visits with `paid` (what was taken for each less what was given back) and `owed` (its
    price less the refunds it need not pay again, less `paid`): subqueries, so no more queries.
    `treatments.payments` writes what they add up."""
    payments = Payment.objects.filter(appointment=OuterRef("pk")).order_by().values("appointment")
    taken = Coalesce(Sum("amount", filter=Q(refund_of=None)), NO_MONEY)
    given_back = Coalesce(Sum("amount", filter=~Q(refund_of=None)), NO_MONEY)
    waived = Coalesce(Sum("amount", filter=Q(waived=True)), NO_MONEY)
    return visits.annotate(
        paid=Coalesce(
            Subquery(payments.annotate(net=taken - given_back).values("net"), output_field=MONEY), NO_MONEY
        ),
        waived=Coalesce(Subquery(payments.annotate(sum=waived).values("sum"), output_field=MONEY), NO_MONEY),
    ).annotate(owed=ExpressionWrapper(F("price") - F("waived") - F("paid"), output_field=MONEY))


def client_visits(client: Client, *, now: dt.datetime, limit: int = 50) -> tuple[list, list]:
    """Return (upcoming, past) appointments of a client: soonest first, then most recent first; each
    with what was paid for it (`with_paid`)."""
    visits = with_paid(
        Appointment.objects.filter(client=client).select_related("service", "practitioner", "room")
    )
    upcoming = list(visits.filter(start__gte=now).order_by("start", "id")[:limit])
    past = list(visits.filter(start__lt=now).order_by("-start", "-id")[:limit])
    return upcoming, past


def client_courses(client: Client, *, now: dt.datetime) -> QuerySet[Course]:
    """Return a client's courses, newest first, each with its progress counts, first and last visit,
    and its next session (the one not over yet; None when nothing is booked ahead)."""
    counts = {
        name: Count("appointments", filter=Q(appointments__status__in=group))
        for name, group in COURSE_PROGRESS_STATUSES.items()
    }
    next_session = Appointment.objects.filter(
        course=OuterRef("pk"), status__in=COURSE_PROGRESS_STATUSES["upcoming"], end__gt=now
    ).order_by("start", "id")
    return (
        Course.objects.filter(client=client)
        .select_related("service")
        .annotate(
            **counts,
            first_start=Min("appointments__start"),
            last_start=Max("appointments__start"),
            next_session_id=Subquery(next_session.values("pk")[:1]),
            next_session_start=Subquery(next_session.values("start")[:1]),
            first_session_id=Min("appointments__id"),
        )
        .order_by("-created_at", "-id")
    )


ATTENDANCE_WINDOW = dt.timedelta(days=365)


# A booking's source when the client booked it themselves (online, or from the waitlist's link).
CLIENTS_OWN_SOURCES = ("online", "waitlist")
BOOKED_BY_CLIENT = Q(action="booked", details__source__in=CLIENTS_OWN_SOURCES)
# What clients change themselves, from the public pages and their emailed links (no staff member acts).
BY_CLIENTS = (
    BOOKED_BY_CLIENT | Q(action="cancelled", details__by_client=True) | Q(action="rescheduled", actor=None)
)
CLIENT_CHANGES_SHOWN = 20


def changes_by_clients(clinic: Clinic, *, since: dt.datetime) -> list[dict]:
    """What the clinic's clients booked, moved or cancelled themselves since `since`, latest first
    (one query): [{"at", "appointment", "said"}], said as the desk reads it, in the clinic's time."""
    events = (
        AppointmentEvent.objects.filter(BY_CLIENTS, appointment__clinic=clinic, at__gte=since)
        .select_related("appointment__client", "appointment__service")
        .order_by("-at", "-id")[:CLIENT_CHANGES_SHOWN]
    )
    zone = clinic.zone
    said = {"booked": "booked", "cancelled": "cancelled", "rescheduled": "moved"}
    changes = []
    for event in events:
        visit = event.appointment
        when = short_local(visit.start, zone)
        if event.action == "rescheduled" and event.details.get("to"):
            when = short_local(dt.datetime.fromisoformat(event.details["to"]), zone)
            what = f"moved {visit.service.name} to {when}"
        else:
            what = f"{said[event.action]} {visit.service.name}, {when}"
        changes.append({"at": timezone.localtime(event.at, zone), "appointment": visit, "said": what})
    return changes


# A visit after which the desk books the next one: the client is in (or has just been).
REBOOKED_FROM = (AppointmentStatus.ARRIVED, AppointmentStatus.CHECKED_IN, AppointmentStatus.FULFILLED)


@dataclass(frozen=True)
class NextVisit:
    """What comes after a visit the client has come to: their next visit for the same treatment if it is
    booked, else the first day the protocol's interval allows one (never before today)."""

    booked: Appointment | None
    earliest: dt.date
    interval_days: int


def next_visit_after(appointment: Appointment, *, now: dt.datetime) -> NextVisit | None:
    """The next visit for the treatment of one the client came to (two queries); None for a visit they
    have not come to, a service with no protocol, or a course with sessions still booked (its next
    session is the course's)."""
    if appointment.status not in REBOOKED_FROM:
        return None
    protocols = list(appointment.service.protocols.all())
    if not protocols:
        return None
    upcoming = Appointment.objects.filter(
        client_id=appointment.client_id, status__in=COURSE_PROGRESS_STATUSES["upcoming"], start__gt=now
    )
    if appointment.course_id and upcoming.filter(course_id=appointment.course_id).exists():
        return None
    zone = appointment.clinic.zone
    interval = max(p.min_interval_days for p in protocols)
    booked = (
        upcoming.filter(service__protocols__in=protocols)
        .exclude(pk=appointment.pk)
        .select_related("service", "practitioner")
        .order_by("start", "id")
        .first()
    )
    earliest = max(
        timezone.localtime(appointment.start, zone).date() + dt.timedelta(days=interval),
        timezone.localdate(now, zone),
    )
    return NextVisit(booked=booked, earliest=earliest, interval_days=interval)


def visits_at_once(first: Client, second: Client) -> list[tuple[Appointment, Appointment]]:
    """Pairs of active visits, one of each record, whose times overlap (one query): one person cannot be
    at both, and the database refuses such a pair for one client (PostgreSQL; `booking.py` on SQLite)."""
    visits = list(
        Appointment.objects.filter(client__in=[first, second])
        .exclude(status__in=INACTIVE_STATUSES)
        .select_related("service", "practitioner")
        .order_by("start", "id")
    )
    return [
        (a, b)
        for i, a in enumerate(visits)
        for b in visits[i + 1 :]
        if a.client_id != b.client_id and a.start < b.end and b.start < a.end
    ]


def client_attendance(client: Client, *, now: dt.datetime) -> dict[str, int]:
    """Count the client's no-shows and late cancellations (inside the clinic's cancellation window)
    over the last twelve months, in one query: what the desk weighs before taking a booking."""
    return Appointment.objects.filter(client=client, start__gte=now - ATTENDANCE_WINDOW).aggregate(
        no_shows=Count("pk", filter=Q(status=AppointmentStatus.NOSHOW)),
        late_cancellations=Count("pk", filter=cancelled_late(client.clinic)),
    )


def cancelled_late(clinic: Clinic) -> Q:
    """A visit (of a queryset of visits) cancelled within the clinic's cancellation window before it."""
    window = dt.timedelta(hours=clinic.cancellation_window_hours)
    cancelled_then = AppointmentEvent.objects.filter(
        appointment=OuterRef("pk"), action="cancelled", at__gt=OuterRef("start") - window
    )
    return Q(Exists(cancelled_then), status=AppointmentStatus.CANCELLED)


# --- treatment records --------------------------------------------------------------------------

# The devices each modality is recorded with (a protocol can narrow microneedling's, e.g. to pens only).
RECORDING_DEVICE_KINDS = {
    Modality.MICRONEEDLING: (DeviceKind.ROLLER, DeviceKind.STAMP, DeviceKind.PEN, DeviceKind.RF_PEN),
    Modality.MICROCURRENT: (DeviceKind.MICROCURRENT_UNIT,),
    Modality.MESOTHERAPY: (DeviceKind.INJECTOR, DeviceKind.ELECTROPORATION),
}


def device_kinds_for(modality: str, protocol: Protocol | None) -> tuple[str, ...]:
    if modality == Modality.MICRONEEDLING and protocol is not None and protocol.allowed_device_kinds:
        return tuple(protocol.allowed_device_kinds)
    return RECORDING_DEVICE_KINDS[modality]


def recording_devices(clinic: Clinic, modality: str, protocol: Protocol | None) -> QuerySet[Device]:
    """The clinic's devices in use that this modality can be recorded with."""
    return Device.objects.filter(clinic=clinic, is_active=True, kind__in=device_kinds_for(modality, protocol))


def usable_lots(clinic: Clinic, *, on: dt.date) -> QuerySet[ProductLot]:
    """Lots of the clinic's products in stock that have not expired by `on` nor been recalled, soonest
    to expire first."""
    return (
        ProductLot.objects.filter(
            product__clinic=clinic, product__is_active=True, expiry_date__gte=on, recalled_on__isnull=True
        )
        .select_related("product")
        .order_by("product__name", "expiry_date", "lot_number")
    )


def with_recorded_areas(sessions) -> QuerySet[TreatmentSession]:
    """Sessions with what they record loaded: three queries for their areas, whatever their number."""
    return sessions.select_related("practitioner", "signed_off_by", "appointment__service").prefetch_related(
        Prefetch("microneedling", MicroneedlingRecord.objects.select_related("area", "device")),
        Prefetch("microcurrent", MicrocurrentRecord.objects.select_related("area", "device")),
        Prefetch("mesotherapy", MesotherapyRecord.objects.select_related("area")),
    )


def earlier_sessions(session: TreatmentSession, *, limit: int = 3) -> list[TreatmentSession]:
    """The client's last signed-off sessions before this one, newest first: what was done last time."""
    return list(
        with_recorded_areas(
            TreatmentSession.objects.filter(
                client_id=session.client_id, signed_off_at__isnull=False, started_at__lt=session.started_at
            ).exclude(pk=session.pk)
        ).order_by("-started_at", "-id")[:limit]
    )


def client_treatment_records(client: Client, *, limit: int = 50) -> list[TreatmentSession]:
    """A client's treatment records, newest first, each with its areas."""
    records = with_recorded_areas(TreatmentSession.objects.filter(client=client))
    return list(records.order_by("-started_at", "-id")[:limit])


@dataclass(frozen=True)
class PhotoArea:
    """A client's photos of one area (or of no area named), oldest first."""

    name: str
    photos: list[SessionPhoto]

    @property
    def first_and_latest(self) -> tuple[SessionPhoto, SessionPhoto] | None:
        return (self.photos[0], self.photos[-1]) if len(self.photos) > 1 else None


AREA_NOT_NAMED = "Area not named"
# What a photo's page says of it: its area, and its record's practitioner and service.
PHOTO_SAID = ("area", "session__practitioner", "session__appointment__service")


def client_photo_album(client: Client) -> list[PhotoArea]:
    """A client's treatment photos by area (by the area's name, those of no area last), each area's
    oldest first, with their records: one query, however many photos."""
    photos = (
        SessionPhoto.objects.filter(session__client=client)
        .select_related(*PHOTO_SAID)
        .order_by("taken_at", "id")
    )
    by_area: dict[int | None, list[SessionPhoto]] = {}
    for photo in photos:
        by_area.setdefault(photo.area_id, []).append(photo)
    areas = [
        PhotoArea(shots[0].area.name if area_id else AREA_NOT_NAMED, shots)
        for area_id, shots in by_area.items()
    ]
    return sorted(areas, key=lambda a: (a.name == AREA_NOT_NAMED, a.name))


@dataclass(frozen=True)
class PhotoComparison:
    """Two of a client's photos side by side, the earlier first, and what lay between them."""

    before: SessionPhoto
    after: SessionPhoto
    days_apart: int
    sessions_between: int  # records signed off between the two photos' records

    @property
    def pair(self) -> tuple[SessionPhoto, SessionPhoto]:
        return (self.before, self.after)


def photos_compared(client: Client, photo_ids: list[int]) -> PhotoComparison | None:
    """The two photos of the client's that `photo_ids` names, earlier first (None unless exactly two of
    theirs): two queries."""
    if len(set(photo_ids)) != 2:
        return None
    photos = list(
        SessionPhoto.objects.filter(pk__in=photo_ids, session__client=client)
        .select_related(*PHOTO_SAID)
        .order_by("taken_at", "id")
    )
    if len(photos) != 2:
        return None
    before, after = photos
    between = TreatmentSession.objects.filter(
        client=client,
        signed_off_at__isnull=False,
        started_at__gt=before.session.started_at,
        started_at__lt=after.session.started_at,
    ).count()
    zone = client.clinic.zone
    days = (timezone.localdate(after.taken_at, zone) - timezone.localdate(before.taken_at, zone)).days
    return PhotoComparison(before, after, days, between)


def recorded_area_count(session: TreatmentSession) -> int:
    return session.microneedling.count() + session.microcurrent.count() + session.mesotherapy.count()


def records_to_sign_off(member, *, limit: int = 20) -> list[TreatmentSession]:
    """Records started and not yet signed off: the practitioner's own, or all the clinic's for a manager.

    Oldest first: a record left open is a clinical note not yet final, and its aftercare not yet sent.
    """
    records = TreatmentSession.objects.filter(
        clinic_id=member.clinic_id, signed_off_at__isnull=True, appointment__isnull=False
    )
    if not member.is_manager:
        records = records.filter(practitioner=member)
    return list(records.select_related("client", "practitioner").order_by("started_at", "id")[:limit])


def lot_recipients(clinic: Clinic, lot: ProductLot) -> list[MesotherapyRecord]:
    """Everyone given a lot in the clinic, newest first, with their contact details: a recall's list.

    Matched by the lot copied into each record (its number under its product's name), so a record
    keeps being found whatever later happens to the lot's row.
    """
    return list(
        MesotherapyRecord.objects.filter(
            session__clinic=clinic, lot_number=lot.lot_number, product_name=lot.product.name
        )
        .select_related("area", "session__client", "session__practitioner")
        .order_by("-session__started_at", "-id")
    )
