"""Money taken at the desk for visits, and given back: the one door for payments and refunds.

A payment is taken for one visit (`payment_take`), by whoever is at the desk, in the clinic's
currency (card, cash, bank transfer, a gift voucher: `treatments.vouchers`, or other), and never for
more than the visit still owes: its price as booked (`Appointment.price`), less the refunds it need
not pay again, less what was taken for it net of refunds. A deposit before the visit, the rest after
it, a course paid up front (`course_pay`) or a fee for a visit cancelled or missed are all payments
toward that price. A refund (`payment_refund`) gives back part or all of one payment, says why and
whether the client still owes it, and is a manager's to give. Neither is ever changed once written
(a database trigger refuses an UPDATE): a payment taken by mistake is refunded, so the day's takings
(`takings_of_day`) add up to what the drawer and the card terminal say.

Each write locks the visit's row first (then a voucher's), so two people taking the rest of a visit
at once cannot take it twice. A receipt, when the client has an address and the desk asks for one,
is an outbox row written in the same transaction (`payment_receipt`, essential mail: it concerns
money already taken).
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from clinic.errors import ClinicError
from clinic.models import Clinic, StaffMember
from clinic.outbox import outbox_message, outbox_write
from clinic.parsing import text_typed
from clinic.permissions import require_manager_of
from treatments.models import (
    DAY_CLOSE_NOTE_MAX_CHARACTERS,
    INACTIVE_STATUSES,
    PAYMENT_REASON_MAX_CHARACTERS,
    Appointment,
    AppointmentStatus,
    Course,
    DayClose,
    GiftVoucher,
    Payment,
    PaymentMethod,
)
from treatments.selectors import NO_MONEY, cancelled_late, local_day_bounds, with_paid
from treatments.vouchers import left_on, voucher_to_spend

RECEIPT = "payment_receipt"
# A visit the client came to: what it costs is owed from then on.
HAD = (AppointmentStatus.ARRIVED, AppointmentStatus.CHECKED_IN, AppointmentStatus.FULFILLED)
# A visit's price is at most 999,999.99 (`Appointment.price`): no payment is larger.
LARGEST_AMOUNT = Decimal("999999.99")


def amount_given(text, *, may_be_nothing: bool = False) -> Decimal:
    """An amount as someone types it ("45", "45.5", "£1,250.00") as a Decimal, or ClinicError; nothing
    ("0") only where `may_be_nothing` (a visit's price)."""
    cleaned = str(text if text is not None else "").strip().replace(",", "").lstrip("£$€ ")
    unreadable = ClinicError(f"“{text}” is not an amount: type it as 45 or 45.50.", code="amount_unreadable")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        raise unreadable from None
    if not amount.is_finite() or amount.as_tuple().exponent < -2:
        raise unreadable
    if amount < 0 or (amount == 0 and not may_be_nothing):
        raise ClinicError("Give an amount of more than nothing.", code="amount_not_positive")
    if amount > LARGEST_AMOUNT:
        raise ClinicError("That amount is more than any visit's price.", code="amount_too_large")
    return amount.quantize(Decimal("0.01"))


def paid_and_waived(appointment_id: int) -> tuple[Decimal, Decimal]:
    """What was taken for a visit less what was given back, and the refunds it need not pay again
    (one query, as `selectors.with_paid` adds them up)."""
    sums = with_paid(Appointment.objects.filter(pk=appointment_id)).values("paid", "waived").get()
    return sums["paid"], sums["waived"]


def _owed(visit: Appointment) -> Decimal:
    paid, waived = paid_and_waived(visit.pk)
    return visit.price - waived - paid


@dataclass(frozen=True)
class VisitMoney:
    """A visit's price as booked, the refunds it need not pay again, what was paid for it (net of
    refunds), what it still owes, and each payment with what can still be given back of it.

    A visit cancelled or missed owes nothing: what can still be taken for it (`chargeable`, up to
    its price) is a fee the clinic chooses to charge.
    """

    price: Decimal
    waived: Decimal
    paid: Decimal
    payments: list[Payment] = field(default_factory=list)
    had_or_ahead: bool = True

    @property
    def settled(self) -> Decimal:
        """Paid or let go: what the price cannot go below."""
        return self.paid + self.waived

    @property
    def chargeable(self) -> Decimal:
        return max(self.price - self.waived - self.paid, Decimal("0.00"))

    @property
    def owed(self) -> Decimal:
        return self.chargeable if self.had_or_ahead else Decimal("0.00")


def visit_money(appointment: Appointment) -> VisitMoney:
    """The visit's payments and refunds in one query, each payment with `refundable` set."""
    rows = list(
        Payment.objects.filter(appointment=appointment)
        .select_related("taken_by", "refund_of", "voucher")
        .order_by("taken_at", "id")
    )
    given_back: dict[int, Decimal] = {}
    for row in rows:
        if row.refund_of_id:
            given_back[row.refund_of_id] = given_back.get(row.refund_of_id, Decimal("0")) + row.amount
    for row in rows:
        row.refundable = (
            Decimal("0") if row.refund_of_id else row.amount - given_back.get(row.pk, Decimal("0"))
        )
    return VisitMoney(
        price=appointment.price,
        waived=sum((r.amount for r in rows if r.waived), Decimal("0.00")),
        paid=sum((-r.amount if r.refund_of_id else r.amount for r in rows), Decimal("0.00")),
        payments=rows,
        had_or_ahead=appointment.status not in INACTIVE_STATUSES,
    )


def fee_offered(visit: Appointment, money: VisitMoney) -> Decimal | None:
    """The clinic's fee for a visit missed, or cancelled within its cancellation window, less what was
    paid for it, at most what can still be taken: what its page offers to charge (None: no fee)."""
    fee = visit.clinic.missed_visit_fee
    if not fee or money.had_or_ahead or money.paid >= fee or not money.chargeable:
        return None
    late = visit.status == AppointmentStatus.NOSHOW or (
        visit.status == AppointmentStatus.CANCELLED
        and Appointment.objects.filter(pk=visit.pk).filter(cancelled_late(visit.clinic)).exists()
    )
    return min(fee - money.paid, money.chargeable) if late else None


def payment_method(method: str) -> str:
    if method not in PaymentMethod.values:
        raise ClinicError(
            "Choose how it was paid: card, cash, bank transfer, gift voucher or other.", code="method"
        )
    return method


def payment_reference(reference: str) -> str:
    reference = text_typed(reference)
    if len(reference) > Payment._meta.get_field("reference").max_length:
        raise ClinicError("Keep the slip or voucher number to 60 characters.", code="reference_too_long")
    return reference


@transaction.atomic
def payment_take(
    appointment: Appointment,
    *,
    amount,
    method: str,
    by: StaffMember,
    reference: str = "",
    email_receipt: bool = False,
) -> Payment:
    """Take a payment toward a visit's price, or raise ClinicError saying why not.

    Paid with a gift voucher (method "voucher"), `reference` is its code: the voucher is locked
    after the visit and must hold the amount (`treatments.vouchers.voucher_to_spend`).
    """
    visit = (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("clinic", "client", "service")
        .get(pk=appointment.pk)
    )
    if by.clinic_id != visit.clinic_id:
        raise ClinicError("This visit is another clinic's.", code="other_clinic")
    amount, method, reference = amount_given(amount), payment_method(method), payment_reference(reference)
    paid, waived = paid_and_waived(visit.pk)
    owed = visit.price - waived - paid
    clinic = visit.clinic
    if owed <= 0:
        raise ClinicError(
            f"Nothing is owed for this visit: its price, {clinic.price_text(visit.price)}, is paid"
            + (f" ({clinic.price_text(waived)} of it let go)." if waived else "."),
            code="nothing_owed",
        )
    if amount > owed:
        raise ClinicError(
            f"This visit owes {clinic.price_text(owed)}: {clinic.price_text(amount)} is more than that. "
            "Take at most what it owes.",
            code="more_than_owed",
        )
    voucher = voucher_to_spend(clinic, reference, amount) if method == PaymentMethod.VOUCHER else None
    payment = Payment.objects.create(
        clinic=clinic,
        appointment=visit,
        voucher=voucher,
        amount=amount,
        method=method,
        reference=voucher.code if voucher else reference,
        taken_by=by,
    )
    if email_receipt:
        _receipt(payment, visit, owed_after=owed - amount)
    return payment


@transaction.atomic
def payment_refund(
    payment: Payment,
    *,
    amount,
    reason: str,
    by: StaffMember,
    waive: bool,
    method: str | None = None,
    email_receipt: bool = False,
) -> Payment:
    """Give back part or all of one payment, saying why; a manager's to do. Or raise ClinicError.

    `waive`: the client need not pay it again (goodwill, a treatment not given), so the visit's
    price is lowered by it; otherwise (taken by mistake, the wrong way or amount) the visit owes it
    again, to be taken the right way. A payment made with a gift voucher is given back onto it. The
    sale of a gift voucher is given back at most what is left on the voucher (`waive` means nothing
    there).
    """
    require_manager_of(payment.clinic, by, to="give a refund")
    original = Payment.objects.select_related("clinic").get(pk=payment.pk)
    visit = sold = None
    if original.appointment_id:  # the visit first, as taking a payment locks it
        visit = (
            Appointment.objects.select_for_update(of=("self",))
            .select_related("clinic", "client", "service")
            .get(pk=original.appointment_id)
        )
    if original.voucher_sold_id or original.voucher_id:
        locked = GiftVoucher.objects.select_for_update().get(
            pk=original.voucher_sold_id or original.voucher_id
        )
        sold = locked if original.voucher_sold_id else None
    if original.refund_of_id:
        raise ClinicError(
            "This is a refund already: refund the payment it gave back.", code="refund_of_refund"
        )
    amount = amount_given(amount)
    reason = text_typed(reason)
    if not reason:
        raise ClinicError(
            "Say why the money is given back: the day's takings show it.", code="reason_missing"
        )
    if len(reason) > PAYMENT_REASON_MAX_CHARACTERS:
        raise ClinicError(
            f"Keep the reason to {PAYMENT_REASON_MAX_CHARACTERS} characters.", code="reason_too_long"
        )
    refunded = Payment.objects.filter(refund_of=original).aggregate(total=Coalesce(Sum("amount"), NO_MONEY))[
        "total"
    ]
    left = original.amount - refunded
    clinic = original.clinic
    if left <= 0:
        raise ClinicError("This payment was given back in full already.", code="refunded_already")
    on_voucher = max(left_on(sold), Decimal("0.00")) if sold is not None else None
    if on_voucher is not None and on_voucher < left:
        left = on_voucher
        if left <= 0:
            raise ClinicError(
                f"Gift voucher {sold.code} has been spent: nothing of its sale can be given back.",
                code="voucher_spent",
            )
        if amount > left:
            raise ClinicError(
                f"Gift voucher {sold.code} has {clinic.price_text(left)} left: give back at most that.",
                code="more_than_left_on_voucher",
            )
    if amount > left:
        raise ClinicError(
            f"At most {clinic.price_text(left)} of this payment can be given back"
            + (f" ({clinic.price_text(refunded)} was already)." if refunded else "."),
            code="more_than_paid",
        )
    refund = Payment.objects.create(
        clinic=clinic,
        appointment=visit,
        voucher_sold=sold,
        voucher=original.voucher,
        amount=amount,
        # back the way it came: onto the voucher it was taken from
        method=original.method if original.voucher_id else payment_method(method or original.method),
        refund_of=original,
        reason=reason,
        waived=bool(waive) and visit is not None,
        taken_by=by,
    )
    if email_receipt and visit is not None:
        _receipt(refund, visit, owed_after=max(_owed(visit), Decimal("0.00")))
    return refund


def course_to_pay(course: Course) -> list[tuple[Appointment, Decimal]]:
    """The sessions of a course that still owe something (not cancelled or missed), with what each
    owes; one query."""
    return sessions_owing(
        with_paid(course.appointments.select_related("clinic", "client", "service")).order_by("start", "id")
    )


def sessions_owing(sessions) -> list[tuple[Appointment, Decimal]]:
    """Of a course's sessions read `with_paid`, those not cancelled or missed that still owe, with what."""
    return [(s, s.owed) for s in sessions if s.status not in INACTIVE_STATUSES and s.owed > 0]


@transaction.atomic
def course_pay(
    course: Course, *, method: str, by: StaffMember, reference: str = "", email_receipt: bool = False
) -> list[Payment]:
    """Take what every session of a course still owes, in one go (a package paid up front): one
    payment per session, each as `payment_take` takes it, all or none; one receipt for them."""
    owing = course_to_pay(course)
    if not owing:
        raise ClinicError("Every session of this course is paid.", code="nothing_owed")
    payments = []
    for visit, owed in owing:
        try:
            payments.append(payment_take(visit, amount=owed, method=method, reference=reference, by=by))
        except ClinicError as refusal:
            when = timezone.localtime(visit.start, visit.clinic.zone)
            refusal.message = f"The session of {when:%a} {when.day} {when:%b %H:%M}: {refusal.message}"
            raise
    if email_receipt:
        _course_receipt(course, payments)
    return payments


def _course_receipt(course: Course, payments: list[Payment]) -> None:
    first = payments[0].appointment
    clinic = first.clinic

    def said(visit):
        local = timezone.localtime(visit.start, clinic.zone)
        return f"{local:%A} {local.day} {local:%B %Y at %H:%M}"

    _write_receipt(
        payments[0],
        first,
        topic=f"course:{course.pk}",
        amount=sum((p.amount for p in payments), Decimal("0")),
        said={
            "visit_day": "",
            "sessions": [f"{said(p.appointment)}: {clinic.price_text(p.amount)}" for p in payments],
            "price": clinic.price_text(sum((p.appointment.price for p in payments), Decimal("0"))),
            "owed": "",
        },
    )


def _receipt(payment: Payment, visit: Appointment, *, owed_after: Decimal) -> None:
    """Write the client's receipt for a payment or refund to the outbox, once per payment."""
    clinic = visit.clinic
    local = timezone.localtime(visit.start, clinic.zone)
    _write_receipt(
        payment,
        visit,
        topic=f"appointment:{visit.pk}",
        amount=payment.amount,
        said={
            "visit_day": f"{local:%A} {local.day} {local:%B %Y at %H:%M}",
            "price": clinic.price_text(visit.price),
            "owed": clinic.price_text(owed_after) if owed_after > 0 else "",
        },
    )


def _write_receipt(payment: Payment, visit: Appointment, *, topic: str, amount: Decimal, said: dict) -> None:
    """One receipt in the outbox, keyed by its (first) payment; refused in words without an address."""
    client, clinic = visit.client, visit.clinic
    if not client.email or client.erased_at:
        raise ClinicError(
            f"{client.full_name} has no email address for a receipt: print or write one instead.",
            code="no_address",
        )
    outbox_write(
        [
            outbox_message(
                clinic=clinic,
                recipient_email=client.email,
                recipient_name=client.full_name,
                template_key=RECEIPT,
                dedupe_key=f"payment-receipt:{payment.pk}",
                topic=topic,
                client_id=client.pk,
                context={
                    "client_first_name": client.first_name,
                    "is_refund": payment.is_refund,
                    "amount": clinic.price_text(amount),
                    "method": payment.get_method_display().lower(),
                    "reference": payment.reference,
                    "reason": payment.reason,
                    "service_name": visit.service.name,
                    "sessions": [],
                    "receipt_number": f"{clinic.pk}-{payment.pk}",
                    "taken_on": timezone.localtime(payment.taken_at, clinic.zone).strftime("%d/%m/%Y %H:%M"),
                    **said,
                },
            )
        ]
    )


@dataclass(frozen=True)
class MethodTotal:
    method: str
    label: str
    taken: Decimal
    given_back: Decimal

    @property
    def net(self) -> Decimal:
        return self.taken - self.given_back


@dataclass(frozen=True)
class Takings:
    """One local day's money: each payment and refund, the money's totals by method and by whoever
    took it, what gift vouchers paid (their money was taken when they were sold), and the visits of
    the day that were had and still owe something."""

    day: dt.date
    rows: list[Payment]
    by_method: list[MethodTotal]  # money: not the gift vouchers spent
    by_person: list[tuple[str, Decimal]]
    to_collect: list[Appointment]
    vouchers_spent: MethodTotal | None = None

    @property
    def net(self) -> Decimal:
        return sum((m.net for m in self.by_method), Decimal("0.00"))


def takings_of_day(clinic: Clinic, day: dt.date) -> Takings:
    """The day's takings in the clinic's zone; two queries however many payments and visits."""
    start, end = local_day_bounds(clinic, day)
    rows = list(
        Payment.objects.filter(clinic=clinic, taken_at__gte=start, taken_at__lt=end)
        .select_related(
            "taken_by", "appointment__client", "appointment__service", "refund_of", "voucher_sold"
        )
        .order_by("taken_at", "id")
    )
    by_method = []
    for method in PaymentMethod:
        of_method = [r for r in rows if r.method == method.value]
        if of_method:
            by_method.append(
                MethodTotal(
                    method=method.value,
                    label=method.label,
                    taken=sum((r.amount for r in of_method if not r.refund_of_id), Decimal("0.00")),
                    given_back=sum((r.amount for r in of_method if r.refund_of_id), Decimal("0.00")),
                )
            )
    people: dict[str, Decimal] = {}
    for r in rows:
        if r.method != PaymentMethod.VOUCHER:
            name = r.taken_by.display_name
            people[name] = people.get(name, Decimal("0.00")) + (-r.amount if r.refund_of_id else r.amount)
    return Takings(
        day=day,
        rows=rows,
        by_method=[m for m in by_method if m.method != PaymentMethod.VOUCHER],
        by_person=sorted(people.items()),
        to_collect=visits_owing(clinic, start, end),
        vouchers_spent=next((m for m in by_method if m.method == PaymentMethod.VOUCHER), None),
    )


def taken_by_method(clinic: Clinic, start: dt.datetime, end: dt.datetime) -> list[MethodTotal]:
    """Money taken and given back in [start, end), by method, in one grouped query (the report's); not
    what gift vouchers paid (their money was taken when they were sold, and is here then)."""
    sums = {
        row["method"]: row
        for row in Payment.objects.filter(clinic=clinic, taken_at__gte=start, taken_at__lt=end)
        .exclude(method=PaymentMethod.VOUCHER)
        .values("method")
        .annotate(
            taken=Coalesce(Sum("amount", filter=Q(refund_of=None)), NO_MONEY),
            given_back=Coalesce(Sum("amount", filter=~Q(refund_of=None)), NO_MONEY),
        )
        .order_by()
    }
    return [
        MethodTotal(method.value, method.label, sums[method.value]["taken"], sums[method.value]["given_back"])
        for method in PaymentMethod
        if method.value in sums
    ]


def _had_and_owing(visits) -> list[Appointment]:
    """Of these visits, the ones had (checked in or completed) that still owe something, in time
    order; one query however many."""
    return list(
        with_paid(visits.filter(status__in=HAD, price__gt=0)).filter(owed__gt=0).order_by("start", "id")
    )


def client_owing(client) -> list[Appointment]:
    """The visits a client had that still owe something, oldest first."""
    return _had_and_owing(Appointment.objects.filter(client=client).select_related("service"))


def visits_owing(clinic: Clinic, start: dt.datetime, end: dt.datetime) -> list[Appointment]:
    """The visits starting in [start, end) that were had and still owe something."""
    return _had_and_owing(
        Appointment.objects.filter(clinic=clinic, start__gte=start, start__lt=end).select_related(
            "client", "service", "practitioner"
        )
    )


@transaction.atomic
def day_close(
    clinic: Clinic, day: dt.date, *, cash_counted, by: StaffMember, card_counted=None, note: str = ""
) -> DayClose:
    """Record the desk's count at the end of a day beside what the day's payments say it should be;
    a difference needs a note. The clinic's row is locked, so two counts at once are one after the
    other; a day ahead cannot be counted."""
    Clinic.objects.select_for_update().filter(pk=clinic.pk).first()
    if by.clinic_id != clinic.pk:
        raise ClinicError("This is another clinic's.", code="other_clinic")
    if day > timezone.localdate(timezone=clinic.zone):
        raise ClinicError("A day is counted once it has come: this one is ahead.", code="day_ahead")
    cash = amount_given(cash_counted, may_be_nothing=True)
    card = None if card_counted in (None, "") else amount_given(card_counted, may_be_nothing=True)
    note = text_typed(note)
    if len(note) > DAY_CLOSE_NOTE_MAX_CHARACTERS:
        raise ClinicError(
            f"Keep the note to {DAY_CLOSE_NOTE_MAX_CHARACTERS} characters.", code="note_too_long"
        )
    nets = {m.method: m.net for m in takings_of_day(clinic, day).by_method}
    cash_expected = nets.get(PaymentMethod.CASH, Decimal("0.00"))
    card_expected = nets.get(PaymentMethod.CARD, Decimal("0.00"))
    differences = []
    if cash != cash_expected:
        differences.append(f"the cash is {_over_or_short(clinic, cash - cash_expected)}")
    if card is not None and card != card_expected:
        differences.append(f"the card terminal is {_over_or_short(clinic, card - card_expected)}")
    if differences and not note:
        raise ClinicError(
            f"By the day's payments {' and '.join(differences)}: count again, or say why in the note.",
            code="difference_unexplained",
        )
    return DayClose.objects.create(
        clinic=clinic,
        day=day,
        cash_counted=cash,
        cash_expected=cash_expected,
        card_counted=card,
        card_expected=card_expected,
        note=note,
        closed_by=by,
    )


def _over_or_short(clinic: Clinic, difference: Decimal) -> str:
    return f"{clinic.price_text(abs(difference))} {'over' if difference > 0 else 'short'}"


def day_closes(clinic: Clinic, day: dt.date) -> list[DayClose]:
    """The day's counts, the latest last (one query)."""
    return list(
        DayClose.objects.filter(clinic=clinic, day=day)
        .select_related("closed_by")
        .order_by("closed_at", "id")
    )
