"""The clinic's own data as spreadsheets: every client and every visit, for a manager to keep a copy or
to move to other software (a clinic's data is its own, and tools that make leaving hard are one of the
complaints about the paid ones).

Two CSV files, written row by row as they are read (`iterator()`, a fixed number of queries however
many rows), so a clinic with years of visits downloads them without the server holding them in memory.
Times are the clinic's local time with the offset, so a spreadsheet reads them as the calendar shows
them and no daylight-saving change is ambiguous. Health records are not in them: each client's are
exported whole as FHIR from their page (`/clients/<id>/fhir/everything/`).

A cell a client typed (a name on the online booking page) that begins like a formula is written with
an apostrophe first, so a spreadsheet shows it rather than running it (CSV injection).
"""

import datetime as dt
from collections.abc import Iterator

from django.utils import timezone

from clients.models import Client
from clinic.models import Clinic
from treatments.models import Appointment
from treatments.selectors import with_paid

CLIENT_COLUMNS = [
    "Client id",
    "First name",
    "Last name",
    "Email",
    "Phone",
    "Date of birth",
    "Emergency contact",
    "Emergency contact phone",
    "GP",
    "Notes",
    "Aftercare emails",
    "Marketing emails",
    "Unsubscribed",
    "Registered",
]
VISIT_COLUMNS = [
    "Visit id",
    "Client id",
    "Client",
    "Service",
    "Practitioner",
    "Room",
    "Device",
    "Second device",
    "Start",
    "End",
    "Status",
    "Price",
    "Paid",
    "Course id",
    "Booked",
    "Cancellation reason",
]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value) -> str:
    """A value as a CSV cell a spreadsheet shows as written (see the module's note on formulas)."""
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _local(instant: dt.datetime | None, zone) -> str:
    return timezone.localtime(instant, zone).isoformat(timespec="minutes") if instant else ""


def _yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


def client_rows(clinic: Clinic) -> Iterator[list[str]]:
    """The clinic's clients (erased records, which hold nothing, left out), by name. One query."""
    zone = clinic.zone
    yield CLIENT_COLUMNS
    for client in (
        Client.objects.filter(clinic=clinic, erased_at=None)
        .order_by("last_name", "first_name", "id")
        .iterator(chunk_size=2000)
    ):
        yield [
            cell(value)
            for value in (
                client.pk,
                client.first_name,
                client.last_name,
                client.email,
                client.phone,
                client.date_of_birth.isoformat() if client.date_of_birth else "",
                client.emergency_contact_name,
                client.emergency_contact_phone,
                client.gp_details,
                client.notes,
                _yes_no(client.accepts_aftercare_email),
                _yes_no(client.accepts_marketing_email),
                _local(client.unsubscribed_at, zone),
                _local(client.created_at, zone),
            )
        ]


def visit_rows(clinic: Clinic) -> Iterator[list[str]]:
    """The clinic's visits, past, cancelled and ahead, in time order. One query."""
    zone = clinic.zone
    yield [f"{name} ({clinic.currency})" if name in ("Price", "Paid") else name for name in VISIT_COLUMNS]
    visits = with_paid(
        Appointment.objects.filter(clinic=clinic)
        .select_related("client", "service", "practitioner", "room", "device", "second_device")
        .order_by("start", "id")
    )
    for visit in visits.iterator(chunk_size=2000):
        yield [
            cell(value)
            for value in (
                visit.pk,
                visit.client_id,
                visit.client.full_name,
                visit.service.name,
                visit.practitioner.display_name,
                visit.room.name if visit.room else "",
                visit.device.name if visit.device else "",
                visit.second_device.name if visit.second_device else "",
                _local(visit.start, zone),
                _local(visit.end, zone),
                visit.status,
                f"{visit.price:.2f}",
                f"{visit.paid:.2f}",
                visit.course_id or "",
                _local(visit.created_at, zone),
                visit.cancellation_reason,
            )
        ]
