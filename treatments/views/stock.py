"""The stock page: each product's lots, what is left of them, what to order, use first or throw away
(`treatments.stock`); for the practitioners and managers who give the products."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from clinic.errors import ClinicError
from clinic.permissions import staff_required
from treatments.models import ProductLot
from treatments.stock import EXPIRES_SOON, lot_count, lot_write_off, product_stock
from treatments.views.sessions import recorder

KEEPERS_ONLY = "Stock is kept by the clinic's practitioners and managers."


def _today(clinic):
    return timezone.localdate(timezone=clinic.zone)


@staff_required
def stock(request):
    """Every active product's lots with what is left, soonest to expire first."""
    member = recorder(request, why=KEEPERS_ONLY)
    clinic = member.clinic
    return render(
        request,
        "treatments/stock.html",
        {"products": product_stock(clinic, on=_today(clinic)), "soon_days": EXPIRES_SOON.days},
    )


def _lot_of_this_clinic(request, pk) -> ProductLot:
    return get_object_or_404(
        ProductLot.objects.select_related("product"), pk=pk, product__clinic=request.staff_member.clinic
    )


@staff_required
@require_POST
def lot_write_off_view(request, pk):
    member = recorder(request, why=KEEPERS_ONLY)
    lot = _lot_of_this_clinic(request, pk)
    try:
        written = lot_write_off(
            lot,
            volume_ml=request.POST.get("volume_ml"),
            reason=request.POST.get("reason", ""),
            by=member,
            on=_today(member.clinic),
        )
    except ClinicError as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(
            request,
            f"Wrote off {written.volume_ml.normalize():f} mL of {lot.product.name} lot {lot.lot_number}.",
        )
    return redirect(reverse("stock") + f"#lot-{lot.pk}")


@staff_required
@require_POST
def lot_count_view(request, pk):
    member = recorder(request, why=KEEPERS_ONLY)
    lot = _lot_of_this_clinic(request, pk)
    try:
        written = lot_count(
            lot, counted_ml=request.POST.get("counted_ml"), by=member, on=_today(member.clinic)
        )
    except ClinicError as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(
            request,
            f"{lot.product.name} lot {lot.lot_number}: "
            + (
                f"{written.volume_ml.normalize():f} mL fewer than the records said, written off."
                if written
                else "the count matches the records."
            ),
        )
    return redirect(reverse("stock") + f"#lot-{lot.pk}")
