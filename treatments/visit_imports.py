"""Visits still ahead brought over from the software a clinic used before, as a CSV file.

A clinic leaving another booking tool has clients booked in it for the weeks ahead: they must be in the
new calendar before the old one is switched off, or a client arrives for a visit nobody expects. A
manager imports the clients first (`clients.imports`), then uploads the visits (`visit_import_read`),
sees what each row will become (`visit_import_preview`), says which service and practitioner here a
name in the file is where it is not the same (`visit_import_settings`), and books them, once
(`visit_import_apply`), or puts the file aside (`clients.imports.client_import_discard`).

- A row names the client (email, phone, or name: a name only if one client has it), the service, the
  practitioner, and when: a date and a time in the clinic's zone, in one column or two, as the old
  software wrote them. A time the clocks skip, or one they pass twice, is refused with why.
- Visits over already, and those the file says were cancelled or missed, are left out; a visit the
  clinic holds already (the same client and start, not cancelled) is not booked again, so a file
  imported twice books nothing twice.
- Each visit is booked as the desk books one (`treatments.booking.appointment_book`): working hours,
  time off, the practitioner's qualification, a free room and device, the client's intake and the
  protocol's interval are checked. What the booking refuses is left out with its reason, to book by
  hand or fix and import again. A worker books them (a few thousand bookings take a minute or two),
  a hundred to a transaction under the import's row lock, the page showing when it is done.
- Reminders and requests for missing forms are written to the outbox as for any booking; the
  confirmation with its calendar invite only if the manager asks (the old software confirmed them).
"""

import datetime as dt
import logging
import re
from collections import defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from clients.imports import (
    FILE_KINDS,
    NAME_PREFIXES,
    ImportFileKind,
    column_detail,
    columns_twice,
    date_order_of,
    date_read,
    file_rows,
    first_and_last,
    guess_mapping,
    import_file_read,
    import_locked,
    name_key,
    row_cells,
    row_said,
)
from clients.merging import identity_keys
from clients.models import Client, ClientImport, ClientImportStatus, DateOrder, ImportKind
from clinic.account_events import account_event_record
from clinic.errors import ClinicError
from clinic.models import AccountAction, Clinic, StaffMember, StaffRole
from treatments.booking import BookingRequest, appointment_book
from treatments.earlier_sessions import EARLIEST_NOTED_YEARS, earliest_noted
from treatments.models import (
    EARLIER_SESSION_NOTE_MAX_CHARACTERS,
    INACTIVE_STATUSES,
    Appointment,
    EarlierSession,
    EarlierSessionSource,
    Service,
)

logger = logging.getLogger(__name__)

MAX_VISIT_ROWS = 3000
IMPORTED_SOURCE = "imported"

VISIT_FIELDS = {
    "full_name": "Client's full name",
    "first_name": "Client's first name",
    "last_name": "Client's last name",
    "email": "Client's email",
    "phone": "Client's phone",
    "date_of_birth": "Client's date of birth",
    "service": "Service",
    "practitioner": "Practitioner",
    "start": "Date and time",
    "date": "Date",
    "time": "Time",
    "status": "Status (cancelled rows left out)",
    "notes": "Notes",
}
# Column names as other software writes them (see `clients.imports.COLUMN_NAMES`); the client's details
# are the clients' file's names, with "client" (the clinic's own visits export) a full name.
VISIT_COLUMN_NAMES = {
    "full_name": ["client", "customer", "patient"],
    "service": [
        "service",
        "servicename",
        "treatment",
        "treatmentname",
        "appointmenttype",
        "servicetype",
        "type",
        "item",
        "procedure",
    ],
    "practitioner": [
        "practitioner",
        "practitionername",
        "staff",
        "staffmember",
        "staffname",
        "therapist",
        "esthetician",
        "aesthetician",
        "employee",
        "provider",
        "clinician",
        "with",
        "resource",
    ],
    "start": ["start", "starts", "startsat", "startdatetime", "datetime", "appointmentstart", "when"],
    "date": ["date", "appointmentdate", "visitdate", "bookingdate", "day", "startdate"],
    "time": ["time", "starttime", "appointmenttime", "from", "at"],
    "status": ["status", "appointmentstatus", "state", "bookingstatus"],
    "notes": ["notes", "note", "comments", "comment", "appointmentnotes", "bookingnotes"],
}
CLIENT_DETAILS = ("full_name", "first_name", "last_name", "email", "phone", "date_of_birth")
_VISIT_NAME = {
    name: (detail, rank) for detail, names in VISIT_COLUMN_NAMES.items() for rank, name in enumerate(names)
}
# What a status column says of a visit that will not happen
NOT_HAPPENING = {
    "cancelled",
    "canceled",
    "cancelledbyclient",
    "cancelledbyclinic",
    "lastminutecancellation",
    "latecancellation",
    "noshow",
    "didnotattend",
    "dna",
    "missed",
    "deleted",
    "declined",
    "rejected",
    "enteredinerror",
}

BOOK, HISTORY, ALREADY, PAST, NOT_COMING, REFUSED = (
    "book",
    "history",
    "already",
    "past",
    "not_coming",
    "refused",
)
OUTCOMES = (BOOK, HISTORY, ALREADY, PAST, NOT_COMING, REFUSED)


def visit_column_detail(name: str) -> tuple[str, int] | None:
    """The detail of a visit a column of this name holds, and how sure (lower is surer), or None: a
    visit's own names first, then the client's ("Customer Email"), then a visit's after a prefix."""
    key = name_key(name)
    if key in _VISIT_NAME:
        return _VISIT_NAME[key]
    client = column_detail(name)
    if client and client[0] in CLIENT_DETAILS:
        return client[0], client[1] + 100
    bare = next((key[len(p) :] for p in NAME_PREFIXES if key.startswith(p) and key != p), None)
    return _VISIT_NAME.get(bare) if bare else None


def guess_visit_mapping(columns: list[str]) -> list[str]:
    """For each column, the detail of a visit it holds by its name ("" for none); one column each."""
    return guess_mapping(columns, detail_of=visit_column_detail)


def visit_mapping_problems(mapping: list[str]) -> list[str]:
    """What stops any row being booked with this mapping, in words; none when it will do."""
    chosen = [detail for detail in mapping if detail]
    problems = columns_twice(mapping, VISIT_FIELDS)
    if not {"full_name", "first_name", "last_name", "email", "phone"} & set(chosen):
        problems.append("Say which column names the client: their email, phone or name.")
    for detail in ("service", "practitioner"):
        if detail not in chosen:
            problems.append(f"Say which column holds the {VISIT_FIELDS[detail].lower()}.")
    if "start" not in chosen and not {"date", "time"} <= set(chosen):
        problems.append("Say which columns hold the visit's date and time (or one column with both).")
    return problems


FILE_KINDS[ImportKind.VISITS] = ImportFileKind(
    rows_are="visits", most_rows=MAX_VISIT_ROWS, guess=guess_visit_mapping, date_details=("start", "date")
)


def visit_import_read(
    *, clinic: Clinic, uploaded_by: StaffMember, file_name: str, data: bytes
) -> ClientImport:
    """Read an uploaded file of visits and keep it to preview (see `clients.imports.import_file_read`)."""
    return import_file_read(
        clinic=clinic, uploaded_by=uploaded_by, file_name=file_name, data=data, kind=ImportKind.VISITS
    )


# ---------------------------------------------------------------------------------------- when

_CLOCK = re.compile(
    r"^(\d{1,2})(?:[:.h](\d{2}))?(?::(\d{2})(?:\.\d+)?)?\s*([ap])?\.?\s*m?\.?$", re.IGNORECASE
)
_ISO_OFFSET = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})$")


def clock_read(text: str) -> dt.time:
    """A time of day as written: 14:30, 2:30 PM, 2.30pm, 14h30, 9am. Raises ValueError in words."""
    match = _CLOCK.match(text.strip())
    if match and (match.group(2) or match.group(4)):  # a bare number is not a time
        hour, minute, half = int(match.group(1)), int(match.group(2) or 0), (match.group(4) or "").lower()
        if half and 1 <= hour <= 12:
            hour = hour % 12 + (12 if half == "p" else 0)
        if (not half or int(match.group(1)) <= 12) and hour <= 23 and minute <= 59:
            return dt.time(hour, minute)
    raise ValueError(f"“{text}” is not a time we can read: write it as 14:30.")


def local_instant(day: dt.date, clock: dt.time, zone: ZoneInfo) -> dt.datetime:
    """The instant a wall time on a day is in the clinic's zone. Raises ValueError, in words, for a
    time the clocks skip that day (going forward) or pass twice (going back)."""
    wall = dt.datetime.combine(day, clock)
    first = wall.replace(tzinfo=zone)
    second = wall.replace(tzinfo=zone, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first.astimezone(dt.UTC)
    said = f"{wall:%H:%M} on {wall:%-d %b %Y}"
    if first.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None) != wall:
        raise ValueError(f"{said} does not exist here: the clocks go forward that night. Check the time.")
    raise ValueError(f"{said} happens twice here: the clocks go back that night. Book this visit by hand.")


def start_read(
    start: str, date: str, time: str, *, order: str, zone: ZoneInfo, today: dt.date
) -> dt.datetime:
    """A visit's start from its date-and-time cell, or its date and time cells, in the clinic's zone.

    A start written with its offset (the clinic's own export: 2026-12-08T10:00+00:00) is that instant.
    Raises ValueError with what to check, in words.
    """
    if start and _ISO_OFFSET.match(start):
        return dt.datetime.fromisoformat(start.replace(" ", "T")).astimezone(dt.UTC)
    if start:
        split = re.match(r"^(.*?\d)(?:,?\s+|T)(\d{1,2}(?:[:.h]\d{2}.*|\s*[AaPp]\.?[Mm]\.?))$", start)
        if split and not time:
            date, time = split.groups()
        elif not date:
            date = start
        else:
            time = time or start
    if not date:
        raise ValueError("No date.")
    if not time:
        raise ValueError("No time: say which column holds it.")
    day = date_read(date, order, today=today, birth=False)
    return local_instant(day, clock_read(time), zone)


# ---------------------------------------------------------------------------------------- rows


@dataclass
class VisitRow:
    """One line of the file and what importing it does."""

    line: int
    cells: list[str]
    outcome: str
    reason: str = ""
    client: Client | None = None
    service: Service | None = None
    practitioner: StaffMember | None = None
    start: dt.datetime | None = None
    notes: str = ""
    given_by: str = ""  # a visit had already: who gave it, as the file names them

    @property
    def said(self) -> str:
        return row_said(self.cells)

    def given_on(self, zone: ZoneInfo) -> dt.date:
        return timezone.localdate(self.start, zone)

    def history_key(self, zone: ZoneInfo) -> tuple:
        """A session had, as a client's history holds it: who, what, which day."""
        return (self.client.pk, self.service.pk, self.given_on(zone))


@dataclass
class VisitPreview:
    rows: list[VisitRow]
    problems: list[str]
    date_order_why: str
    # names in the file no service or practitioner here has (nor was said to be), with their rows' count
    unknown: dict[str, dict[str, int]] = field(default_factory=dict)

    def of(self, outcome: str) -> list[VisitRow]:
        return [row for row in self.rows if row.outcome == outcome]

    @property
    def counts(self) -> dict[str, int]:
        counted = defaultdict(int)
        for row in self.rows:
            counted[row.outcome] += 1
        return {outcome: counted[outcome] for outcome in OUTCOMES}


class _Clients:
    """The clinic's clients by what identifies them in a row (one query)."""

    def __init__(self, clinic: Clinic):
        self.by_key: dict[tuple, list[Client]] = defaultdict(list)
        for client in Client.objects.filter(clinic=clinic, erased_at=None).only(
            "id", "clinic_id", "first_name", "last_name", "email", "phone", "date_of_birth"
        ):
            for key in identity_keys(
                client.first_name, client.last_name, client.email, client.phone, client.date_of_birth
            ):
                self.by_key[key].append(client)
            self.by_key[("full", name_key(client.full_name))].append(client)

    def find(self, details: dict) -> tuple[Client | None, str]:
        """The one client the row's details name, or None and why not."""
        first, last = first_and_last(details["first_name"], details["last_name"], details["full_name"])
        name = f"{first.strip()} {last.strip()}".strip()
        keys = identity_keys(first, last, details["email"], details["phone"], details["date_of_birth"])
        if name:
            keys.append(("full", name_key(name)))
        for key in keys:
            found = {client.pk: client for client in self.by_key.get(key, [])}
            if len(found) == 1:
                return next(iter(found.values())), ""
            if len(found) > 1 and key[0] == "full":
                return None, (
                    f"{len(found)} clients are called {name}: give the client's email or phone in the file."
                )
        who = name or details["email"] or details["phone"]
        if not who:
            return None, "No client named: the row has no name, email or phone."
        return None, f"No client here is {who}: import the clients first, or register them."


def _names(queryset, name_of) -> dict[str, list]:
    by_name = defaultdict(list)
    for item in queryset:
        for name in name_of(item):
            if name and item not in by_name[name_key(name)]:
                by_name[name_key(name)].append(item)
    return by_name


def offered_services(clinic: Clinic):
    """The services a visit may be imported for: the clinic's active ones, by name."""
    return Service.objects.filter(clinic=clinic, is_active=True).order_by("name")


def bookable_practitioners(clinic: Clinic):
    """The practitioners a visit may be imported with: the clinic's active ones, by name."""
    active = StaffMember.objects.filter(clinic=clinic, is_active=True, role=StaffRole.PRACTITIONER)
    return active.order_by("display_name")


def services_by_name(clinic: Clinic) -> dict[str, list[Service]]:
    return _names(offered_services(clinic), lambda s: [s.name])


TITLES = {"dr", "doctor", "nurse", "mr", "mrs", "ms", "miss", "mx", "prof", "professor"}


def _first_word(display_name: str) -> str:
    """A name's first word that is not a title: "Sam" of "Sam Rivera", "Priya" of "Nurse Priya Shah"."""
    return next((word for word in display_name.split() if name_key(word) not in TITLES), "")


def practitioners_by_name(clinic: Clinic) -> dict[str, list[StaffMember]]:
    """Each active practitioner by the names a file may give them: as clients see it ("Dr Amara
    Lee"), their first and last name, and their first name alone where only they have it."""
    practitioners = list(bookable_practitioners(clinic).select_related("user"))
    by_name = _names(
        practitioners,
        lambda p: [
            p.display_name,
            f"{p.user.first_name} {p.user.last_name}",
            f"{p.user.last_name}, {p.user.first_name}",
        ],
    )
    firsts = _names(practitioners, lambda p: [p.user.first_name, _first_word(p.display_name)])
    for key, having in firsts.items():
        by_name.setdefault(key, having)
    return by_name


def _chosen(client_import: ClientImport, kind: str, candidates: dict, name: str):
    said = client_import.names_chosen.get(kind, {}).get(name)
    if said is not None:
        return next((c for found in candidates.values() for c in found if c.pk == said), None)
    found = candidates.get(name_key(name), [])
    return found[0] if len(found) == 1 else None


def visit_import_preview(client_import: ClientImport, *, now: dt.datetime | None = None) -> VisitPreview:
    """What importing the file as the manager set it up would do, row by row (four queries: the
    clinic's clients, services, practitioners, and the visits it holds in the file's days)."""
    now = now or timezone.now()
    clinic = client_import.clinic
    zone = clinic.zone
    rows = file_rows(client_import.text, client_import.delimiter, most=MAX_VISIT_ROWS, what="visits")[1:]
    mapping = client_import.mapping
    _order, why = date_order_of(
        rows, mapping, default=client_import.date_order, date_details=("start", "date")
    )
    problems = visit_mapping_problems(mapping)
    if problems:
        return VisitPreview(rows=[], problems=problems, date_order_why=why)
    today = timezone.localdate(now, timezone=zone)
    history_from = earliest_noted(today)
    clients = _Clients(clinic)
    services, practitioners = services_by_name(clinic), practitioners_by_name(clinic)
    unknown: dict[str, dict[str, int]] = {"service": defaultdict(int), "practitioner": defaultdict(int)}
    read: list[VisitRow] = []
    for line, cells in rows:
        row = VisitRow(line=line, cells=cells, outcome=BOOK)
        read.append(row)
        if len(cells) > len(mapping) and any(c.strip() for c in cells[len(mapping) :]):
            row.outcome, row.reason = (
                REFUSED,
                (
                    "This line has more cells than the first line names columns: a comma in a value without "
                    "quotes around it?"
                ),
            )
            continue
        raw = row_cells(cells, mapping)
        details = {name: raw.get(name, "") for name in VISIT_FIELDS}
        # the client first, whatever becomes of the row: one left out still names them (for erasure)
        if details["date_of_birth"]:
            try:
                details["date_of_birth"] = date_read(
                    details["date_of_birth"], client_import.date_order, today=today
                )
            except ValueError:
                details["date_of_birth"] = None
        else:
            details["date_of_birth"] = None
        row.client, why_not = clients.find(details)
        if name_key(details["status"]) in NOT_HAPPENING:
            row.outcome, row.reason = NOT_COMING, f"“{details['status']}” in the old software: not booked."
            continue
        reasons = []
        try:
            row.start = start_read(
                details["start"],
                details["date"],
                details["time"],
                order=client_import.date_order,
                zone=zone,
                today=today,
            )
        except ValueError as error:
            reasons.append(f"When: {error}")
        over = row.start is not None and row.start <= now
        if over:
            # a visit had: kept in the client's history, for the interval between sessions
            row.outcome = HISTORY
            kinds = (("service", services, "service"),)
            if row.given_on(zone) < history_from:
                row.outcome, row.reason = (
                    PAST,
                    (f"Over more than {EARLIEST_NOTED_YEARS} years ago: not kept (no interval reaches it)."),
                )
                continue
        else:
            kinds = (("service", services, "service"), ("practitioner", practitioners, "practitioner"))
        if why_not:
            reasons.append(why_not)
        for kind, candidates, label in kinds:
            name = details[kind]
            found = _chosen(client_import, kind, candidates, name) if name else None
            if found is None and name:
                unknown[kind][name] += 1
                reasons.append(f"No {label} here is called “{name}”: choose which it is above.")
            elif found is None:
                reasons.append(f"No {label} given.")
            setattr(row, kind, found)
        row.notes = details["notes"][:2000]
        if over:
            # who gave it, as the file names them: they may never have worked here
            name = details["practitioner"]
            known = _chosen(client_import, "practitioner", practitioners, name) if name else None
            row.given_by = known.display_name if known else name[:200]
            if reasons:
                row.outcome, row.reason = PAST, "Over already, and not kept: " + " ".join(reasons)
        elif reasons:
            row.outcome, row.reason = REFUSED, " ".join(reasons)
    # a visit the clinic holds already: the same client at the same start (a file imported twice),
    # and a session had that a client's history holds already (the same client, service and day)
    to_book = [row for row in read if row.outcome in (BOOK, HISTORY)]
    if to_book:
        held = set(
            Appointment.objects.filter(
                clinic=clinic,
                start__gte=min(row.start for row in to_book),
                start__lte=max(row.start for row in to_book),
            )
            .exclude(status__in=INACTIVE_STATUSES)
            .values_list("client_id", "start")
        )
        had = [row for row in to_book if row.outcome == HISTORY]
        kept = set()
        if had:
            kept = set(
                EarlierSession.objects.filter(
                    clinic=clinic,
                    removed_at=None,
                    given_on__gte=min(row.given_on(zone) for row in had),
                    given_on__lte=max(row.given_on(zone) for row in had),
                ).values_list("client_id", "service_id", "given_on")
            )
        for row in to_book:
            if (row.client.pk, row.start) in held:
                row.outcome, row.reason = ALREADY, "Booked here already."
            elif row.outcome == HISTORY and row.history_key(zone) in kept:
                row.outcome, row.reason = ALREADY, "In the client's history already."
    seen: dict[tuple, int] = {}
    for row in read:
        if row.outcome in (BOOK, HISTORY):
            key = (row.client.pk, row.start) if row.outcome == BOOK else row.history_key(zone)
            if key in seen:
                row.outcome, row.reason = ALREADY, f"The same visit as line {seen[key]}."
            else:
                seen[key] = row.line
    return VisitPreview(
        rows=read,
        problems=[],
        date_order_why=why,
        unknown={kind: dict(names) for kind, names in unknown.items() if names},
    )


# ---------------------------------------------------------------------------------------- writes


def visit_import_settings(
    client_import: ClientImport,
    *,
    mapping: list[str],
    date_order: str,
    names_chosen: dict[str, dict[str, int]],
    confirmations_sent: bool,
) -> ClientImport:
    """Say what each column holds, how the file writes dates, which service and practitioner here a
    name in the file is, and whether clients are emailed their visit's confirmation."""
    with transaction.atomic():
        locked = import_locked(client_import)
        if len(mapping) != len(locked.columns) or any(m and m not in VISIT_FIELDS for m in mapping):
            raise ClinicError("Choose what each column holds from its list.", code="bad_mapping")
        if date_order not in DateOrder.values:
            raise ClinicError("Choose how the file writes dates from the list.", code="bad_date_order")
        clinic = locked.clinic
        allowed = {
            "service": set(offered_services(clinic).values_list("pk", flat=True)),
            "practitioner": set(bookable_practitioners(clinic).values_list("pk", flat=True)),
        }
        kept = {kind: dict(locked.names_chosen.get(kind, {})) for kind in allowed}
        for kind, said in names_chosen.items():
            for name, pk in said.items():
                if pk is None:
                    kept[kind].pop(name, None)
                elif pk not in allowed[kind]:
                    raise ClinicError(f"Choose the {kind} from its list.", code="bad_choice")
                else:
                    kept[kind][name] = pk
        locked.mapping, locked.date_order = mapping, date_order
        locked.names_chosen = {kind: names for kind, names in kept.items() if names}
        locked.confirmations_sent = confirmations_sent
        locked.save(update_fields=["mapping", "date_order", "names_chosen", "confirmations_sent"])
        return locked


def _refuse_unless_bookable(preview: VisitPreview) -> None:
    if preview.problems:
        raise ClinicError(preview.problems[0], code="bad_mapping")
    if not preview.of(BOOK) and not preview.of(HISTORY):
        raise ClinicError(
            "No visit in this file can be booked or kept: nothing was imported. The rows below say why.",
            code="nothing_to_book",
        )


@transaction.atomic
def visit_import_queue(client_import: ClientImport, *, actor: StaffMember) -> ClientImport:
    """Ask for the file's visits to be booked: a worker books them (`visit_import_book`), as booking
    a few thousand visits one by one takes longer than a page waits. Once: under the import's row
    lock, a second click finds it being booked. Written before anyone is told; beat hands it to a
    worker again if the first one died (`visit_imports_unfinished`)."""
    locked = import_locked(client_import)
    _refuse_unless_bookable(visit_import_preview(locked))
    locked.status = ClientImportStatus.BOOKING
    locked.queued_at, locked.done_by = timezone.now(), actor
    locked.save(update_fields=["status", "queued_at", "done_by"])
    account_event_record(actor.user, AccountAction.IMPORTED_VISITS)
    pk = locked.pk
    transaction.on_commit(lambda: _kick_booking(pk), robust=True)
    return locked


def _kick_booking(import_id: int) -> None:
    """Ask a worker to book an import's visits; if the broker is down, beat asks again later."""
    from treatments.tasks import book_imported_visits_task

    try:
        book_imported_visits_task.apply_async(args=[import_id], retry=False, ignore_result=True)
    except Exception:  # noqa: BLE001 (any broker failure: the import waits in the database)
        logger.warning("could not reach the broker; import %s waits for beat", import_id, exc_info=True)


# What a row is left out with when booking it failed on a fault of ours, not one of the booking's rules
UNEXPECTED_FAULT = (
    "Not booked: something went wrong on our side with this visit (the clinic's administrator can see "
    "it in the logs). Book it by hand."
)
# visits booked in one transaction: a batch holds its clients' rows and its times while it books
BOOKING_BATCH = 100


def visit_import_book(import_id: int, *, batch: int = BOOKING_BATCH) -> ClientImport | None:
    """Book each visit of a queued file that is still ahead and not held already, as the desk books
    one; keep the rows not booked and why. None if it is not waiting to be booked (done already):
    safe to run twice.

    `batch` visits at a time, each batch one transaction under the import's row lock that also records
    which lines it booked (`booked_lines`) or left out: the desk's own bookings wait for a batch at
    most, never for the whole file, and a worker that dies loses only its batch, which the next
    worker books (the lines done are not read again). A visit the booking refuses (the time taken
    since the preview, outside the practitioner's hours, …) is left out with its reason; one whose
    booking fails on a fault of ours is left out to book by hand, logged, and the file goes on (it is
    not handed to a worker every ten minutes for ever). A database gone away stops the batch.
    """
    while True:
        with transaction.atomic():
            locked = (
                ClientImport.objects.select_for_update(of=("self",))
                .select_related("clinic", "done_by__user")
                .filter(pk=import_id, kind=ImportKind.VISITS, status=ClientImportStatus.BOOKING)
                .first()
            )
            if locked is None:
                return None
            kept_lines = set(
                EarlierSession.objects.filter(client_import=locked).values_list("import_line", flat=True)
            )
            done_lines = set(locked.booked_lines) | {row["line"] for row in locked.left_out} | kept_lines
            preview = visit_import_preview(locked)
            rows = [row for row in preview.rows if row.line not in done_lines]
            # the visits had first, in their clients' histories: the bookings' interval rule sees them
            _history_keep([row for row in rows if row.outcome == HISTORY], locked)
            to_book = sorted(
                (row for row in rows if row.outcome == BOOK), key=lambda row: (row.start, row.line)
            )
            not_to_book = [row for row in rows if row.outcome not in (BOOK, HISTORY)]
            actor = locked.done_by.user if locked.done_by else None
            for row in to_book[:batch]:
                try:
                    with transaction.atomic():
                        appointment_book(_booking_request(row, locked), actor=actor)
                except ClinicError as refusal:
                    row.outcome, row.reason = REFUSED, refusal.message
                    locked.left_out.append(_left_out(row))
                except (OperationalError, InterfaceError):
                    raise  # the database went away: the batch is lost, and beat hands the file on
                except Exception:  # noqa: BLE001 (a fault of ours in one row: the others still book)
                    logger.exception("visit import %s: line %s could not be booked", import_id, row.line)
                    row.outcome, row.reason = REFUSED, UNEXPECTED_FAULT
                    locked.left_out.append(_left_out(row))
                else:
                    locked.booked_lines.append(row.line)
            if len(to_book) <= batch:  # the last: the other rows are left out with why
                locked.left_out += [_left_out(row) for row in not_to_book]
                locked.left_out.sort(key=lambda row: row["line"])
                locked.status = ClientImportStatus.IMPORTED
                locked.done_at = timezone.now()
                locked.text = ""
            locked.imported_count = len(locked.booked_lines)
            locked.left_out_count = len(locked.left_out)
            locked.save()
            if locked.status == ClientImportStatus.IMPORTED:
                return locked


def _history_keep(rows: list[VisitRow], client_import: ClientImport) -> None:
    """Keep the visits over already in their clients' histories, where the interval between sessions
    counts them (`EarlierSession`), each with its line: in the first batch's transaction, so a run that
    dies before it commits keeps none, and the next keeps each once (its lines are done)."""
    zone = client_import.clinic.zone
    EarlierSession.objects.bulk_create(
        EarlierSession(
            clinic_id=client_import.clinic_id,
            client=row.client,
            service=row.service,
            given_on=row.given_on(zone),
            given_by=row.given_by,
            notes=row.notes[:EARLIER_SESSION_NOTE_MAX_CHARACTERS],
            source=EarlierSessionSource.IMPORTED,
            client_import=client_import,
            import_line=row.line,
            recorded_by=client_import.done_by,
        )
        for row in rows
    )


def _booking_request(row: VisitRow, client_import: ClientImport) -> BookingRequest:
    return BookingRequest(
        client=row.client,
        service=row.service,
        practitioner=row.practitioner,
        start=row.start,
        notes=row.notes,
        source=IMPORTED_SOURCE,
        confirmed=client_import.confirmations_sent,
    )


def _left_out(row: VisitRow) -> dict:
    """A row not booked as an import keeps it: the file's cells, its line, why, and the client it
    names (so that client's erasure takes it out, `clients.imports.imports_forget_client`)."""
    return {
        "line": row.line,
        "cells": row.cells,
        "reason": row.reason,
        "client": row.client.pk if row.client else None,
    }


def visit_imports_unfinished(*, now: dt.datetime | None = None) -> list[int]:
    """Hand to a worker again each file of visits asked to be booked `VISIT_IMPORT_STALE_SECONDS`
    ago (ten minutes) and not booked yet (its worker died, or the broker was down); the worker goes on
    from the lines not done. Returns their ids."""
    now = now or timezone.now()
    stale_after = dt.timedelta(seconds=settings.VISIT_IMPORT_STALE_SECONDS)
    with transaction.atomic():
        stale = list(
            ClientImport.objects.filter(
                status=ClientImportStatus.BOOKING, queued_at__lte=now - stale_after
            ).values_list("pk", flat=True)
        )
        ClientImport.objects.filter(pk__in=stale).update(queued_at=now)
    for pk in stale:
        _kick_booking(pk)
    return stale


# ---------------------------------------------------------------------------------------- sample

# The clients of the clients' sample file (`static/samples/clients-to-import.csv`): import that first.
SAMPLE_CLIENTS = [
    ("Olivia Smith", "olivia.smith@example.com", ""),
    ("Amara Okafor", "", "+44 7700 900456"),
    ("Priya Patel", "priya.patel@example.com", ""),
]


def sample_rows(clinic: Clinic, *, today: dt.date):
    """A file of visits as another booking tool writes one, for this clinic's own services (each with a
    practitioner qualified for it), late mornings and afternoons on Tuesdays to Thursdays ahead (the
    clients are the clients' sample file's); its last row cancelled, which an import leaves out."""
    from treatments.eligibility import is_qualified

    practitioners = list(bookable_practitioners(clinic).prefetch_related("qualifications"))
    pairs = []
    for service in offered_services(clinic).prefetch_related("protocols"):
        qualified = [p for p in practitioners if is_qualified(p, service)]
        if qualified:
            pairs.append((service, qualified[len(pairs) % len(qualified)]))
    month_first = clinic.time_zone.startswith("America/")
    ahead = (today + dt.timedelta(days=n) for n in range(7, 35))
    days = [day for day in ahead if day.weekday() in (1, 2, 3)]
    yield ["Client", "Client Email", "Client Mobile", "Service", "Staff", "Date", "Time", "Status", "Notes"]
    if not pairs:
        return
    rows = len(SAMPLE_CLIENTS) * 2
    for index, (name, email, phone) in enumerate(SAMPLE_CLIENTS * 2):
        service, practitioner = pairs[index % len(pairs)]
        yield [
            name,
            email,
            phone,
            service.name,
            practitioner.display_name,
            days[index * 2 % len(days)].strftime("%m/%d/%Y" if month_first else "%d/%m/%Y"),
            ("11:00", "12:30", "3:00 PM")[index % 3],
            "Cancelled" if index == rows - 1 else "Booked",
            "Booked in the old software" if index == 0 else "",
        ]
