"""Gift vouchers at the desk: sell one, find one by its code or a name, read what is left on it and
where it was spent (`treatments.vouchers`)."""

import datetime as dt

from django.contrib import messages
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from clinic.errors import ClinicError
from clinic.parsing import text_typed
from clinic.permissions import staff_required
from treatments.forms import parse_local_date
from treatments.models import MONEY_PAYMENT_METHODS, GiftVoucher, Payment
from treatments.vouchers import code_typed, voucher_sell, with_left

# The day a voucher sold today is offered as good until (the seller may change it): a year on.
OFFERED_VALIDITY = dt.timedelta(days=365)
LISTED = 50


@staff_required
def vouchers(request):
    """The vouchers sold, newest first or those a search finds, and the form to sell one."""
    clinic = request.staff_member.clinic
    today = timezone.localdate(timezone=clinic.zone)
    if request.method == "POST":
        expires_on, unreadable = parse_local_date(request.POST.get("expires_on"), today)
        expires_on = None if unreadable or not request.POST.get("expires_on") else expires_on
        try:
            sold = voucher_sell(
                clinic=clinic,
                amount=request.POST.get("amount"),
                method=request.POST.get("method", ""),
                reference=request.POST.get("reference", ""),
                bought_by=request.POST.get("bought_by", ""),
                for_whom=request.POST.get("for_whom", ""),
                email=request.POST.get("email", ""),
                expires_on=expires_on,
                by=request.staff_member,
            )
        except ClinicError as refusal:
            messages.error(request, refusal.message)
            return render(
                request,
                "treatments/vouchers.html",
                _page(request, clinic, today, typed=request.POST),
                status=400,
            )
        emailed = f" It is emailed to {sold.email}." if sold.email else ""
        messages.success(
            request,
            f"Sold gift voucher {sold.code} for {clinic.price_text(sold.amount)}: give the code to "
            f"{sold.bought_by}.{emailed}",
        )
        return redirect("voucher-detail", sold.pk)
    return render(request, "treatments/vouchers.html", _page(request, clinic, today))


def _page(request, clinic, today, typed=None) -> dict:
    query = text_typed(request.GET.get("q"))[:100]
    found = with_left(GiftVoucher.objects.filter(clinic=clinic))
    if query:
        found = found.filter(
            Q(code=code_typed(query)) | Q(bought_by__icontains=query) | Q(for_whom__icontains=query)
        )
    return {
        "vouchers": list(found.order_by("-sold_at", "-id")[:LISTED]),
        "query": query,
        "today": today,
        "methods": MONEY_PAYMENT_METHODS,
        "typed": typed or {},
        "offered_expiry": today + OFFERED_VALIDITY,
    }


@staff_required
def voucher_detail(request, pk):
    """One voucher: what it was bought for, what is left, each payment it made and was given back."""
    voucher = get_object_or_404(
        with_left(GiftVoucher.objects.select_related("sold_by")), pk=pk, clinic=request.staff_member.clinic
    )
    payments = list(
        Payment.objects.filter(Q(voucher=voucher) | Q(voucher_sold=voucher))
        .select_related("taken_by", "appointment__client", "appointment__service")
        .order_by("taken_at", "id")
    )
    sale = next((p for p in payments if p.voucher_sold_id and not p.refund_of_id), None)
    today = timezone.localdate(timezone=voucher.clinic.zone)
    return render(
        request,
        "treatments/voucher_detail.html",
        {"voucher": voucher, "payments": payments, "sale": sale, "expired": voucher.expires_on < today},
    )
