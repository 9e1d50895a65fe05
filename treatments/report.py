"""The manager's report over a span of days: how full each practitioner's hours were, what became of
the visits, and how many clients booked again.

A fixed number of queries whatever the span or the number of visits: the practitioners with their
weekly hours, their time off and extra hours, the visits grouped by practitioner and outcome, and the
completed visits with whether the client has booked another since. Hours are worked out as availability
works them (`availability.working_windows`), so a day the clocks change counts its real hours.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Exists, F, OuterRef, Q, Sum
from django.utils import timezone

from clinic.models import Clinic, StaffMember, StaffRole, TimeOff
from treatments.availability import extra_hours_by_practitioner, working_windows
from treatments.models import Appointment, AppointmentEvent, AppointmentStatus, MesotherapyRecord
from treatments.payments import MethodTotal, taken_by_method
from treatments.selectors import (
    BOOKED_BY_CLIENT,
    COURSE_PROGRESS_STATUSES,
    cancelled_late,
    local_day_bounds,
)

# The longest span one report covers (a quarter), so a mistyped year is not a year of arithmetic.
LONGEST_REPORT_DAYS = 92
# Visits that hold the practitioner's time: booked, in the clinic, or done.
HELD = (*COURSE_PROGRESS_STATUSES["upcoming"], AppointmentStatus.FULFILLED)
# What a line counts of the visits, each a column of the page and of the grouped query.
COUNTED = ("completed", "no_shows", "cancelled", "cancelled_late", "booked_online")
# What a line adds up of the visits' prices.
VALUED = ("completed_value", "missed_value")


@dataclass
class PractitionerLine:
    """One practitioner's span (or the clinic's, summed): hours open and booked, and the visits' outcomes."""

    name: str
    open_hours: float = 0.0
    booked_hours: float = 0.0
    completed: int = 0
    no_shows: int = 0
    cancelled: int = 0
    cancelled_late: int = 0
    booked_online: int = 0
    # at the prices they were booked at (`Appointment.price`)
    completed_value: Decimal = Decimal(0)
    missed_value: Decimal = Decimal(0)  # no-shows and late cancellations

    @property
    def utilisation(self) -> int | None:
        """Booked hours as a whole percentage of the hours open (None with no hours open)."""
        return round(100 * self.booked_hours / self.open_hours) if self.open_hours else None

    def add(self, other: "PractitionerLine") -> None:
        for name in ("open_hours", "booked_hours", *COUNTED, *VALUED):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True)
class ServiceLine:
    """One service over the span: how many of its visits were completed, missed and cancelled, and
    what the completed ones were worth at the prices booked."""

    name: str
    completed: int
    completed_value: Decimal
    no_shows: int
    cancelled: int


@dataclass(frozen=True)
class ProductLine:
    """A product given in the span's treatment records: how much, to how many clients."""

    name: str
    volume_ml: Decimal
    clients: int


@dataclass
class Report:
    first_day: dt.date
    last_day: dt.date
    lines: list[PractitionerLine]
    total: PractitionerLine
    services: list[ServiceLine]  # the most completed value first
    completed_clients: int  # visits completed in the span
    rebooked: int  # of those, the ones whose client has another visit booked after it
    first_visits: int  # of those, the ones that were the client's first visit completed
    products: list["ProductLine"]  # by name
    money_taken: list[MethodTotal]  # at the desk in the span, by how it was paid

    @property
    def money_taken_net(self) -> Decimal:
        return sum((line.net for line in self.money_taken), Decimal(0))

    @property
    def rebooking_rate(self) -> int | None:
        return round(100 * self.rebooked / self.completed_clients) if self.completed_clients else None


def _hours(windows) -> float:
    return sum((end - start).total_seconds() for start, end in windows) / 3600


def _less(windows, cuts) -> list[tuple[dt.datetime, dt.datetime]]:
    """The parts of `windows` outside every (start, end) of `cuts`."""
    left = list(windows)
    for cut_start, cut_end in cuts:
        pieces = []
        for start, end in left:
            if cut_end <= start or cut_start >= end:
                pieces.append((start, end))
                continue
            if start < cut_start:
                pieces.append((start, cut_start))
            if cut_end < end:
                pieces.append((cut_end, end))
        left = pieces
    return left


def clinic_report(clinic: Clinic, *, first_day: dt.date, last_day: dt.date) -> Report:
    """The clinic's report for local days `first_day`..`last_day` (inclusive)."""
    zone = clinic.zone
    span_start, _ = local_day_bounds(clinic, first_day)
    _, span_end = local_day_bounds(clinic, last_day)
    practitioners = list(
        StaffMember.objects.filter(clinic=clinic, role=StaffRole.PRACTITIONER)
        .filter(Q(is_active=True) | Q(appointments__start__lt=span_end, appointments__end__gt=span_start))
        .distinct()
        .prefetch_related("working_hours")
        .order_by("display_name", "id")
    )
    ids = [p.pk for p in practitioners]
    extra = extra_hours_by_practitioner(ids, span_start, span_end)
    off: dict[int, list] = {}
    for row in TimeOff.objects.filter(staff_member_id__in=ids, start__lt=span_end, end__gt=span_start):
        off.setdefault(row.staff_member_id, []).append((row.start, row.end))

    lines = {}
    days = [first_day + dt.timedelta(days=n) for n in range((last_day - first_day).days + 1)]
    for practitioner in practitioners:
        weekly = list(practitioner.working_hours.all()) if practitioner.is_active else []
        windows = [
            window
            for day in days
            for window in working_windows(day, zone, weekly, extra.get(practitioner.pk, []))
        ]
        lines[practitioner.pk] = PractitionerLine(
            name=practitioner.display_name, open_hours=_hours(_less(windows, off.get(practitioner.pk, [])))
        )

    online = AppointmentEvent.objects.filter(BOOKED_BY_CLIENT, appointment=OuterRef("pk"))
    visits = Appointment.objects.filter(clinic=clinic, start__gte=span_start, start__lt=span_end)
    rows = visits.values("practitioner_id").annotate(
        booked_seconds=Sum(F("end") - F("start"), filter=Q(status__in=HELD)),
        completed=Count("pk", filter=Q(status=AppointmentStatus.FULFILLED)),
        no_shows=Count("pk", filter=Q(status=AppointmentStatus.NOSHOW)),
        cancelled=Count("pk", filter=Q(status=AppointmentStatus.CANCELLED)),
        cancelled_late=Count("pk", filter=cancelled_late(clinic)),
        booked_online=Count("pk", filter=Q(Exists(online))),
        completed_value=Sum("price", filter=Q(status=AppointmentStatus.FULFILLED)),
        missed_value=Sum("price", filter=Q(status=AppointmentStatus.NOSHOW) | cancelled_late(clinic)),
    )
    for row in rows.order_by():
        line = lines.get(row["practitioner_id"])
        if line is None:
            continue
        booked = row["booked_seconds"]
        line.booked_hours = (booked.total_seconds() if booked else 0) / 3600
        for name in COUNTED:
            setattr(line, name, row[name])
        for name in VALUED:
            setattr(line, name, row[name] or Decimal(0))

    booked_after = Appointment.objects.filter(
        client_id=OuterRef("client_id"), start__gt=OuterRef("start"), status__in=HELD
    )
    completed_before = Appointment.objects.filter(
        client_id=OuterRef("client_id"), start__lt=OuterRef("start"), status=AppointmentStatus.FULFILLED
    )
    rebooking = visits.filter(status=AppointmentStatus.FULFILLED).aggregate(
        completed=Count("pk"),
        rebooked=Count("pk", filter=Q(Exists(booked_after))),
        first_visits=Count("pk", filter=~Q(Exists(completed_before))),
    )
    total = PractitionerLine(name="The clinic")
    for line in lines.values():
        total.add(line)
    by_service = visits.values("service_id", "service__name").annotate(
        completed=Count("pk", filter=Q(status=AppointmentStatus.FULFILLED)),
        completed_value=Sum("price", filter=Q(status=AppointmentStatus.FULFILLED)),
        no_shows=Count("pk", filter=Q(status=AppointmentStatus.NOSHOW)),
        cancelled=Count("pk", filter=Q(status=AppointmentStatus.CANCELLED)),
    )
    services = [
        ServiceLine(
            name=row["service__name"],
            completed=row["completed"],
            completed_value=row["completed_value"] or Decimal(0),
            no_shows=row["no_shows"],
            cancelled=row["cancelled"],
        )
        for row in by_service.order_by()
    ]
    services.sort(key=lambda line: (-line.completed_value, -line.completed, line.name))
    # the products given in the span's treatment records, for ordering stock
    products = [
        ProductLine(name=row["product_name"], volume_ml=row["volume_ml"], clients=row["clients"])
        for row in MesotherapyRecord.objects.filter(
            session__clinic=clinic, session__started_at__gte=span_start, session__started_at__lt=span_end
        )
        .values("product_name")
        .annotate(volume_ml=Sum("volume_ml"), clients=Count("session__client_id", distinct=True))
        .order_by("product_name")
    ]
    return Report(
        first_day=first_day,
        last_day=last_day,
        lines=list(lines.values()),
        total=total,
        services=services,
        completed_clients=rebooking["completed"],
        rebooked=rebooking["rebooked"],
        first_visits=rebooking["first_visits"],
        products=products,
        money_taken=taken_by_method(clinic, span_start, span_end),
    )


def default_span(clinic: Clinic) -> tuple[dt.date, dt.date]:
    """The four weeks up to yesterday, in the clinic's days."""
    yesterday = timezone.localdate(timezone=clinic.zone) - dt.timedelta(days=1)
    return yesterday - dt.timedelta(days=27), yesterday
