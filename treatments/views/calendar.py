"""The front desk's calendar: a day across practitioners or rooms, or a week of one of them."""

import datetime as dt
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Prefetch, Q
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from clinic.models import OutOfService, Room, StaffMember, StaffRole, TimeOff, WorkingHours, working_hours_on
from clinic.permissions import staff_required
from clinic.time_off import closures_said
from treatments.availability import extra_hours_by_practitioner, working_windows
from treatments.booking import PAST_GRACE
from treatments.forms import parse_local_date
from treatments.models import INACTIVE_STATUSES, Appointment, AppointmentStatus
from treatments.selectors import (
    day_version,
    local_day_bounds,
    still_to_be_had,
)
from treatments.views.booking import move_to_undo
from treatments.views.flags import flag_visits

PIXELS_PER_MINUTE = 1.2
DEFAULT_OPEN, DEFAULT_CLOSE = dt.time(8), dt.time(19)
# The heading of a column kept for visits still booked with someone who left, or in a closed room.
LEFT_NOTE = "No longer active: move these visits"
CLOSED_NOTE = "Not in use: move these visits"
NOT_WORKING_NOTE = "Not working"  # no hours that day: why the column is grey, not a warning


def _minutes(local: dt.datetime, day_open: dt.datetime) -> float:
    return (local - day_open).total_seconds() / 60


def _column(
    *,
    title,
    day,
    zone,
    day_open_time,
    appointments,
    windows,
    busy,
    step,
    book_params,
    now,
    subtitle="",
    quiet_note="",
):
    """Lay out one column: appointment blocks, and the free steps inside the working windows.

    A free step that began longer ago than a booking accepts (`PAST_GRACE`) is drawn as past time,
    not offered as a link the booking would refuse.
    """
    day_open = dt.datetime.combine(day, day_open_time, tzinfo=zone).astimezone(dt.UTC)
    bookable_from = now - PAST_GRACE
    blocks = []
    for appointment in appointments:
        top = _minutes(appointment.start, day_open) * PIXELS_PER_MINUTE
        height = max(18.0, (appointment.end - appointment.start).total_seconds() / 60 * PIXELS_PER_MINUTE)
        blocks.append(
            {
                "appointment": appointment,
                "top": top,
                "height": height,
                # what the desk may drag to another time or practitioner: a visit not over, still to be had
                "movable": appointment.is_active
                and appointment.status != AppointmentStatus.FULFILLED
                and appointment.end > now,
            }
        )
    free, past = [], []
    for window_start, window_end in windows:
        start = dt.datetime.combine(day, window_start, tzinfo=zone).astimezone(dt.UTC)
        end = dt.datetime.combine(day, window_end, tzinfo=zone).astimezone(dt.UTC)
        while start + step <= end:
            top = _minutes(start, day_open) * PIXELS_PER_MINUTE
            height = step.total_seconds() / 60 * PIXELS_PER_MINUTE
            if start < bookable_from:
                past.append({"top": top, "height": height})
            elif all(start + step <= b_start or start >= b_end for b_start, b_end in busy):
                local = timezone.localtime(start, zone)
                query = urlencode({**book_params, "start": local.strftime("%Y-%m-%dT%H:%M")})
                free.append(
                    {
                        "top": top,
                        "height": height,
                        "label": local.strftime("%H:%M"),
                        "url": f"{reverse('book')}?{query}",
                    }
                )
            start += step
    now_top = _minutes(now, day_open) * PIXELS_PER_MINUTE if timezone.localdate(now, zone) == day else None
    return {
        "title": title,
        # where a visit dropped on the column lands: seconds since the day's opening, snapped to the step
        "open_epoch": int(day_open.timestamp()),
        "subtitle": subtitle,
        "quiet_note": quiet_note,
        "day": day,
        "blocks": blocks,
        "free": free,
        "past": past,
        "now_top": now_top,
    }


@staff_required
def calendar(request):
    """Show a day (columns per practitioner or room) or a week (columns per day for one of them)."""
    clinic = request.staff_member.clinic
    zone = clinic.zone
    today = timezone.localdate(timezone=zone)
    day, date_error = parse_local_date(request.GET.get("date"), today)
    view = "week" if request.GET.get("view") == "week" else "day"
    by = "room" if request.GET.get("by") == "room" else "practitioner"
    step = dt.timedelta(minutes=clinic.slot_step_minutes)
    now = timezone.now()

    if view == "week":
        first_day = day - dt.timedelta(days=day.weekday())
        days = [first_day + dt.timedelta(days=i) for i in range(7)]
    else:
        days = [day]
    range_start, _ = local_day_bounds(clinic, days[0])
    _, range_end = local_day_bounds(clinic, days[-1])
    # before the visits are read: a change landing in between makes the page's next check differ
    version = day_version(clinic, days[0], last_day=days[-1])
    appointments = list(
        Appointment.objects.filter(clinic=clinic, start__lt=range_end, end__gt=range_start)
        .select_related("client", "service", "practitioner", "room", "device", "second_device")
        .order_by("start", "id")
    )
    # Someone who left, or a room taken out of use, keeps a column while visits there are still to
    # be had: the desk sees them to move them.
    left_with_visits = {
        a.practitioner_id for a in still_to_be_had(appointments) if not a.practitioner.is_active
    }
    closed_with_visits = {
        a.room_id for a in still_to_be_had(appointments) if a.room_id and not a.room.is_active
    }
    practitioners = list(
        StaffMember.objects.filter(clinic=clinic, role=StaffRole.PRACTITIONER)
        .filter(Q(is_active=True) | Q(pk__in=left_with_visits))
        .prefetch_related(
            Prefetch(
                "working_hours",
                queryset=WorkingHours.objects.filter(staff_member__is_active=True).order_by("start_time"),
            )
        )
        .order_by("-is_active", "display_name", "id")
    )
    rooms = list(
        Room.objects.filter(clinic=clinic)
        .filter(Q(is_active=True) | Q(pk__in=closed_with_visits))
        .order_by("-is_active", "name", "id")
    )
    time_off = list(
        TimeOff.objects.filter(
            staff_member__clinic=clinic, start__lt=range_end, end__gt=range_start
        ).order_by("start", "id")
    )
    all_hours = [h for p in practitioners for h in p.working_hours.all()]
    extra = extra_hours_by_practitioner([p.id for p in practitioners], range_start, range_end)
    flag_visits(appointments, clinic, time_off=time_off, hours=all_hours, extra=extra)
    extra_local = [
        (timezone.localtime(e.start, zone).time(), timezone.localtime(e.end, zone).time())
        for rows in extra.values()
        for e in rows
    ]
    day_open_time = min(
        [h.start_time for h in all_hours] + [start for start, _ in extra_local], default=DEFAULT_OPEN
    )
    day_close_time = max(
        [h.end_time for h in all_hours] + [end for start, end in extra_local if end > start],
        default=DEFAULT_CLOSE,
    )
    if day_close_time <= day_open_time:
        day_open_time, day_close_time = DEFAULT_OPEN, DEFAULT_CLOSE

    def busy_for(practitioner_id, on_day):
        start, end = local_day_bounds(clinic, on_day)
        held = [
            (a.blocked_start, a.blocked_end)
            for a in appointments
            if a.practitioner_id == practitioner_id
            and a.status not in INACTIVE_STATUSES
            and a.start < end
            and a.end > start
        ]
        return held + [(off.start, off.end) for off in time_off if off.staff_member_id == practitioner_id]

    def on_day(items, on_day_date):
        start, end = local_day_bounds(clinic, on_day_date)
        return [a for a in items if start <= a.start < end]

    def windows(practitioner, on_day_date):
        """The practitioner's working time that day as local (start, end) clock times, extra hours in."""
        if practitioner.id not in extra:
            return [
                (h.start_time, h.end_time)
                for h in working_hours_on(practitioner.working_hours.all(), on_day_date)
            ]
        _, day_end = local_day_bounds(clinic, on_day_date)
        return [
            (
                timezone.localtime(start, zone).time(),
                dt.time.max if end >= day_end else timezone.localtime(end, zone).time(),
            )
            for start, end in working_windows(
                on_day_date, zone, practitioner.working_hours.all(), extra[practitioner.id]
            )
        ]

    def day_notes(rows, on_day_date, label):
        """ "Off 09:00–13:00 (Training)": each of these stretches (time off, out of service) that day."""
        start, end = local_day_bounds(clinic, on_day_date)
        notes = []
        for row in rows:
            if row.start < end and row.end > start:
                first = timezone.localtime(max(row.start, start), zone)
                last = timezone.localtime(min(row.end, end), zone)
                span = "all day" if (row.start <= start and row.end >= end) else f"{first:%H:%M}–{last:%H:%M}"
                notes.append(f"{label} {span}" + (f" ({row.reason})" if row.reason else ""))
        return "; ".join(notes)

    def off_note(practitioner_id, on_day_date):
        """The practitioner's time off that day, if any."""
        return day_notes(
            [off for off in time_off if off.staff_member_id == practitioner_id], on_day_date, "Off"
        )

    rooms_down = (
        list(
            OutOfService.objects.filter(room__in=rooms, start__lt=range_end, end__gt=range_start).order_by(
                "start", "id"
            )
        )
        if by == "room"
        else []
    )

    def room_note(room, on_day_date):
        """ "Out of service 09:00–13:00 (Painting)" for the room that day, or that it is closed."""
        if not room.is_active:
            return CLOSED_NOTE
        return day_notes([p for p in rooms_down if p.room_id == room.id], on_day_date, "Out of service")

    def extra_note(practitioner_id, on_day_date):
        """ "Extra 10:00–14:00 (Covering Saturday)" for the practitioner's extra hours that day, if any."""
        start, end = local_day_bounds(clinic, on_day_date)
        return "; ".join(
            f"Extra {timezone.localtime(max(row.start, start), zone):%H:%M}–"
            f"{timezone.localtime(min(row.end, end), zone):%H:%M}"
            + (f" ({row.reason})" if row.reason else "")
            for row in extra.get(practitioner_id, [])
            if row.start < end and row.end > start
        )

    def column(title, on_day_date, resource):
        """One column: a practitioner's day (bookable free time) or a room's day (bookings only)."""
        for_day = on_day(appointments, on_day_date)
        if by == "practitioner":
            hours = windows(resource, on_day_date)
            shown = _column(
                title=title,
                day=on_day_date,
                zone=zone,
                day_open_time=day_open_time,
                step=step,
                appointments=[a for a in for_day if a.practitioner_id == resource.id],
                windows=hours,
                busy=busy_for(resource.id, on_day_date),
                book_params={"practitioner": resource.id},
                now=now,
                subtitle="; ".join(
                    note
                    for note in (off_note(resource.id, on_day_date), extra_note(resource.id, on_day_date))
                    if note
                )
                if resource.is_active
                else LEFT_NOTE,
                quiet_note=NOT_WORKING_NOTE if resource.is_active and not hours else "",
            )
            # a visit dragged here goes to them; not to someone who left
            shown["drop_practitioner"] = resource if resource.is_active else None
            return shown
        return _column(
            title=title,
            day=on_day_date,
            zone=zone,
            day_open_time=day_open_time,
            step=step,
            appointments=[a for a in for_day if a.room_id == resource.id],
            windows=[],
            busy=[],
            book_params={},
            now=now,
            subtitle=room_note(resource, on_day_date),
        )

    resources = practitioners if by == "practitioner" else rooms
    selected = None
    if view == "day":
        columns = [column(r.display_name if by == "practitioner" else r.name, day, r) for r in resources]
    else:
        chosen_id = request.GET.get(by)
        selected = next((r for r in resources if str(r.id) == chosen_id), resources[0] if resources else None)
        columns = [column(f"{d:%a %d}", d, selected) for d in days] if selected else []

    open_local = dt.datetime.combine(day, day_open_time)
    close_local = dt.datetime.combine(day, day_close_time)
    total_minutes = (close_local - open_local).total_seconds() / 60
    hour_marks = []
    mark = open_local.replace(minute=0)
    while mark <= close_local:
        if mark >= open_local:
            hour_marks.append(
                {
                    "label": mark.strftime("%H:%M"),
                    "top": (mark - open_local).total_seconds() / 60 * PIXELS_PER_MINUTE,
                }
            )
        mark += dt.timedelta(hours=1)
    height = total_minutes * PIXELS_PER_MINUTE
    for shown in columns:
        if shown["now_top"] is not None and not 0 <= shown["now_top"] <= height:
            shown["now_top"] = None  # before opening or after closing: no line
    shift = dt.timedelta(days=7 if view == "week" else 1)
    return render(
        request,
        "treatments/calendar.html",
        {
            "day_version": version,
            "version_query": f"date={days[0].isoformat()}&days={len(days)}",
            "refresh_seconds": settings.DAY_REFRESH_SECONDS,
            "columns": columns,
            # a visit is dragged to another time or practitioner in the practitioners' columns only: a
            # room's column would change the room, which the visit's page does
            "drag_to_move": by == "practitioner",
            # the visit just dragged, to put back if that was a slip
            "moved": move_to_undo(request),
            "step_seconds": int(step.total_seconds()),
            "pixels_per_minute": PIXELS_PER_MINUTE,
            "view": view,
            "by": by,
            "day": day,
            "days": days,
            "today": today,
            "previous_day": day - shift,
            "next_day": day + shift,
            "practitioners": practitioners,
            "rooms": rooms,
            "selected": selected,
            "height": height,
            "now_label": timezone.localtime(now, zone).strftime("%H:%M"),
            "now_shown": any(shown["now_top"] is not None for shown in columns),
            "hour_marks": hour_marks,
            "date_error": date_error,
            "zone_name": clinic.time_zone,
            "closed": closures_said(clinic, range_start, range_end),
        },
    )
