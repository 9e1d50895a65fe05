"""The clinic's own data as spreadsheets: every client and every visit, for a manager to keep a copy or
to move to other software (a clinic's data is its own, and tools that make leaving hard are one of the
complaints about the paid ones).

Four CSV files (clients, visits, payments, sessions had before), written row by row as they are read
(`iterator()`, a fixed number of queries however many rows), so a clinic with years of visits downloads
them without the server holding them in memory.
Times are the clinic's local time with the offset, so a spreadsheet reads them as the calendar shows
them and no daylight-saving change is ambiguous. Health records are not in them: each client's are
exported whole as FHIR from their page (`/clients/<id>/fhir/everything/`).

A cell a client typed (a name on the online booking page) that begins like a formula is written with
an apostrophe first, so a spreadsheet shows it rather than running it (CSV injection).
"""

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

from django.utils import timezone

from clients.models import Client
from clinic.models import Clinic
from clinic.spreadsheets import cell
from treatments.models import Appointment, EarlierSession, Payment
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
EARLIER_SESSION_COLUMNS = [
    "Client id",
    "Client",
    "Service",
    "Day",
    "Where",
    "Given by",
    "Notes",
    "Noted",
]
PAYMENT_COLUMNS = [
    "Payment id",
    "Taken",
    "Kind",
    "Method",
    "Amount",
    "Refund of",
    "Let go",
    "Visit id",
    "Client",
    "Service",
    "Visit start",
    "Gift voucher sold",
    "Gift voucher used",
    "Reference",
    "Reason",
    "Taken by",
]


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


def earlier_session_rows(clinic: Clinic) -> Iterator[list[str]]:
    """The sessions clients had before this calendar held them (imported from the software used
    before, or noted from what they said), by day. One query."""
    zone = clinic.zone
    yield EARLIER_SESSION_COLUMNS
    sessions = (
        EarlierSession.objects.filter(clinic=clinic, removed_at=None)
        .select_related("client", "service")
        .order_by("given_on", "id")
    )
    for earlier in sessions.iterator(chunk_size=2000):
        yield [
            cell(value)
            for value in (
                earlier.client_id,
                earlier.client.full_name,
                earlier.service.name,
                earlier.given_on.isoformat(),
                earlier.get_source_display(),
                earlier.given_by,
                earlier.notes,
                _local(earlier.recorded_at, zone),
            )
        ]


def payment_rows(clinic: Clinic) -> Iterator[list[str]]:
    """Every payment and refund, gift vouchers sold included, in the order taken; a refund's amount
    negative, so a column's sum is the money kept. One query."""
    zone = clinic.zone
    yield [f"{name} ({clinic.currency})" if name == "Amount" else name for name in PAYMENT_COLUMNS]
    payments = (
        Payment.objects.filter(clinic=clinic)
        .select_related("appointment__client", "appointment__service", "voucher_sold", "voucher", "taken_by")
        .order_by("taken_at", "id")
    )
    for payment in payments.iterator(chunk_size=2000):
        visit = payment.appointment
        yield [
            cell(value)
            for value in (
                payment.pk,
                _local(payment.taken_at, zone),
                ("voucher sale " if payment.voucher_sold_id else "")
                + ("refund" if payment.refund_of_id else "payment"),
                payment.method,
                (-payment.amount if payment.refund_of_id else payment.amount).quantize(Decimal("0.01")),
                payment.refund_of_id or "",
                _yes_no(payment.waived) if payment.refund_of_id and visit else "",
                visit.pk if visit else "",
                visit.client.full_name if visit else payment.voucher_sold.bought_by,
                visit.service.name if visit else "",
                _local(visit.start, zone) if visit else "",
                payment.voucher_sold.code if payment.voucher_sold_id else "",
                payment.voucher.code if payment.voucher_id else "",
                payment.reference,
                payment.reason,
                payment.taken_by.display_name,
            )
        ]
