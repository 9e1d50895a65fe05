"""Taking a payment on a visit's page, a manager's refund, and the day's takings (`treatments.payments`)."""

import csv
from decimal import Decimal

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from clinic.errors import ClinicError
from clinic.parsing import parse_id
from clinic.permissions import require_manager_of, staff_required
from clinic.spreadsheets import cell
from treatments.forms import parse_local_date
from treatments.models import Course, Payment, PaymentMethod
from treatments.payments import (
    course_pay,
    day_close,
    day_closes,
    payment_refund,
    payment_take,
    takings_of_day,
)
from treatments.views.booking import visit_of_this_clinic


def _to_payments(pk: int):
    return redirect(reverse("appointment-detail", args=[pk]) + "#payments")


@staff_required
@require_POST
def payment_take_view(request, pk):
    """Take a payment toward the visit's price, from its page."""
    visit = visit_of_this_clinic(request, pk)
    clinic = visit.clinic
    try:
        payment = payment_take(
            visit,
            amount=request.POST.get("amount"),
            method=request.POST.get("method", ""),
            reference=request.POST.get("reference", ""),
            email_receipt=request.POST.get("email_receipt") == "on",
            by=request.staff_member,
        )
    except ClinicError as refusal:
        messages.error(request, refusal.message)
    else:
        receipt = (
            f" A receipt is on its way to {visit.client.email}." if request.POST.get("email_receipt") else ""
        )
        messages.success(
            request,
            f"Took {clinic.price_text(payment.amount)} by {payment.get_method_display().lower()} "
            f"from {visit.client.full_name}.{receipt}",
        )
    return _to_payments(pk)


@staff_required
@require_POST
def course_pay_view(request, pk):
    """Take what every session of a course still owes, from the course's part of a visit's page."""
    course = get_object_or_404(
        Course.objects.select_related("client"), pk=pk, clinic=request.staff_member.clinic
    )
    back_to = course.appointments.filter(pk=parse_id(request.POST.get("appointment"))).first()
    try:
        taken = course_pay(
            course,
            method=request.POST.get("method", ""),
            reference=request.POST.get("reference", ""),
            email_receipt=request.POST.get("email_receipt") == "on",
            by=request.staff_member,
        )
    except ClinicError as refusal:
        messages.error(request, refusal.message)
    else:
        total = sum((p.amount for p in taken), Decimal("0"))
        messages.success(
            request,
            f"Took {course.clinic.price_text(total)} from {course.client.full_name} for "
            f"{len(taken)} session{'s' if len(taken) != 1 else ''} of the course.",
        )
    if back_to is not None:
        return redirect(reverse("appointment-detail", args=[back_to.pk]) + "?show=course#course-sessions")
    return redirect("client-detail", course.client_id)


@staff_required
@require_POST
def payment_refund_view(request, pk):
    """A manager gives back part or all of one payment, saying why."""
    payment = get_object_or_404(
        Payment.objects.select_related("clinic", "appointment__client", "voucher_sold"),
        pk=pk,
        clinic=request.staff_member.clinic,
    )
    who = payment.appointment.client.full_name if payment.appointment_id else payment.voucher_sold.bought_by
    try:
        # a manager's, said before anything typed is read
        require_manager_of(payment.clinic, request.staff_member, to="give a refund")
        refund = payment_refund(
            payment,
            amount=request.POST.get("amount"),
            reason=request.POST.get("reason", ""),
            waive=_waive(request.POST.get("waive")),
            email_receipt=request.POST.get("email_receipt") == "on",
            by=request.staff_member,
        )
    except ClinicError as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(
            request,
            f"Gave back {payment.clinic.price_text(refund.amount)} to {who} "
            + (
                "onto the gift voucher."
                if refund.voucher_id
                else f"by {refund.get_method_display().lower()}."
            ),
        )
    if payment.voucher_sold_id:
        return redirect("voucher-detail", payment.voucher_sold_id)
    return _to_payments(payment.appointment_id)


def _waive(answer: str | None) -> bool:
    if answer not in ("yes", "no"):
        raise ClinicError("Say whether the client still owes what is given back.", code="waive_unanswered")
    return answer == "yes"


@staff_required
@require_http_methods(["GET", "POST"])
def takings(request):
    """One day's payments and refunds, totals by method and person, and the visits still owing; CSV too."""
    clinic = request.staff_member.clinic
    day, day_error = parse_local_date(request.GET.get("day"), timezone.localdate(timezone=clinic.zone))
    if request.method == "POST":
        try:
            counted = day_close(
                clinic,
                day,
                cash_counted=request.POST.get("cash_counted"),
                card_counted=request.POST.get("card_counted", "").strip() or None,
                note=request.POST.get("note", ""),
                by=request.staff_member,
            )
        except ClinicError as refusal:
            messages.error(request, refusal.message)
        else:
            messages.success(
                request,
                f"The count of {counted.day.day} {counted.day:%B} is recorded"
                + ("." if not counted.note else f", with your note: {counted.note}"),
            )
            return redirect(reverse("takings") + f"?day={day:%Y-%m-%d}#day-close")
    money = takings_of_day(clinic, day)
    if request.GET.get("format") == "csv":
        return _takings_csv(clinic, money)
    closes = day_closes(clinic, day)
    last = closes[-1] if closes else None
    taken_since = (
        sum(
            (-p.amount if p.refund_of_id else p.amount)
            for p in money.rows
            if p.taken_at > last.closed_at and p.method in (PaymentMethod.CASH, PaymentMethod.CARD)
        )
        if last
        else 0
    )
    return render(
        request,
        "treatments/takings.html",
        {
            "takings": money,
            "day_error": day_error,
            "closes": closes,
            "taken_since_count": taken_since,
            "today": timezone.localdate(timezone=clinic.zone),
            "typed": request.POST if request.method == "POST" else {},
        },
        status=400 if request.method == "POST" else 200,
    )


def _takings_csv(clinic, money) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="takings-{money.day:%Y-%m-%d}.csv"'
    writer = csv.writer(response)
    writer.writerow(
        ["time", "kind", "method", "amount", "currency", "client", "visit", "reference", "reason", "by"]
    )
    for row in money.rows:
        visit, sold = row.appointment, row.voucher_sold
        writer.writerow(
            [
                timezone.localtime(row.taken_at, clinic.zone).isoformat(timespec="seconds"),
                ("voucher sale " if sold else "") + ("refund" if row.refund_of_id else "payment"),
                row.method,
                f"-{row.amount}" if row.refund_of_id else f"{row.amount}",
                clinic.currency,
                cell(visit.client.full_name if visit else sold.bought_by),
                timezone.localtime(visit.start, clinic.zone).isoformat(timespec="minutes") if visit else "",
                cell(row.reference),
                cell(row.reason),
                cell(row.taken_by.display_name),
            ]
        )
    return response
