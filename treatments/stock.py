"""What is left of each product: the lots received, less what the treatment records gave of them, less
what was written off; the lots to use first, the products to order, the lots to throw away.

A lot's `received_ml` is what it held when it came (all its vials or ampoules, in mL; unknown when
empty, and then nothing is worked out for it). What the mesotherapy records gave of it and what was
written off (`LotWriteOff`: a vial broken, the rest of an expired or recalled lot thrown away, a count
that found less) are taken away. Nothing here stops a treatment: the records are what was given, and a
lot the numbers say is empty may still hold what a miscount missed; the stock page says so instead.
Two queries however many products and lots (`product_stock`).
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import DecimalField, ExpressionWrapper, F, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from clinic.errors import ClinicError, NotAllowedError
from clinic.models import Clinic, StaffMember
from clinic.parsing import text_typed
from clinic.permissions import may_read_health_data
from treatments.models import (
    WRITE_OFF_REASON_MAX_CHARACTERS,
    LotWriteOff,
    MesotherapyRecord,
    Product,
    ProductLot,
)

# A lot expiring within this many days is to use first, and said so.
EXPIRES_SOON = dt.timedelta(days=30)
VOLUME = DecimalField(max_digits=10, decimal_places=2)
NO_VOLUME = Value(Decimal("0.00"), output_field=VOLUME)


@dataclass
class LotStock:
    lot: ProductLot
    given: Decimal
    written_off: Decimal
    usable: bool  # not expired, not recalled
    expires_soon: bool

    @property
    def left(self) -> Decimal | None:
        """What the lot still holds by the numbers (never below nothing); None when its amount is unknown."""
        if self.lot.received_ml is None:
            return None
        return max(self.lot.received_ml - self.given - self.written_off, Decimal("0.00"))

    @property
    def over_given(self) -> Decimal:
        """How much more was given and written off than the lot was received with (a miscount)."""
        if self.lot.received_ml is None:
            return Decimal("0")
        return max(self.given + self.written_off - self.lot.received_ml, Decimal("0"))


@dataclass
class ProductStock:
    product: Product
    lots: list[LotStock] = field(default_factory=list)  # usable, soonest to expire first
    to_throw_away: list[LotStock] = field(default_factory=list)  # expired or recalled, with some left

    @property
    def left(self) -> Decimal:
        return sum((s.left for s in self.lots if s.left is not None), Decimal("0.00"))

    @property
    def unknown(self) -> int:
        """Usable lots whose received amount nobody entered: their stock is not counted."""
        return sum(1 for s in self.lots if s.left is None)

    @property
    def to_order(self) -> bool:
        threshold = self.product.reorder_below_ml
        return threshold is not None and not self.unknown and self.left < threshold


def _summed(model, field_name: str):
    rows = model.objects.filter(lot=OuterRef("pk")).order_by().values("lot")
    return Coalesce(
        Subquery(rows.annotate(total=Sum(field_name)).values("total"), output_field=VOLUME), NO_VOLUME
    )


def _with_amounts(lots: QuerySet[ProductLot]) -> QuerySet[ProductLot]:
    """Annotate each lot with `given` (by the mesotherapy records) and `written_off`: no more queries."""
    return lots.annotate(
        given=_summed(MesotherapyRecord, "volume_ml"), written_off=_summed(LotWriteOff, "volume_ml")
    )


def with_stock_left(lots: QuerySet[ProductLot]) -> QuerySet[ProductLot]:
    """Annotate each lot with `left_ml`: what it held less what was given and written off (never
    below nothing shown; NULL when what it held is unknown). No more queries."""
    left = F("received_ml") - F("given") - F("written_off")
    return _with_amounts(lots).annotate(left_ml=ExpressionWrapper(left, output_field=VOLUME))


def stock_said(lot: ProductLot) -> str:
    """What is left of a lot `with_stock_left` annotated, as the record's list of lots says it:
    " · 7 mL left", " · none left by the records", or nothing when unknown."""
    left = getattr(lot, "left_ml", None)
    if left is None:
        return ""
    return f" · {left.normalize():f} mL left" if left > 0 else " · none left by the records"


def _stock_of(lot: ProductLot, on: dt.date) -> LotStock:
    """A lot read `_with_amounts`, as it stands on the day `on`."""
    usable = lot.expiry_date >= on and lot.recalled_on is None
    return LotStock(
        lot=lot,
        given=lot.given,
        written_off=lot.written_off,
        usable=usable,
        expires_soon=usable and lot.expiry_date < on + EXPIRES_SOON,
    )


def product_stock(clinic: Clinic, *, on: dt.date) -> list[ProductStock]:
    """The clinic's active products, by name, each with its lots' stock on the day `on`; two queries."""
    products = {
        p.pk: ProductStock(p) for p in Product.objects.filter(clinic=clinic, is_active=True).order_by("name")
    }
    lots = _with_amounts(ProductLot.objects.filter(product_id__in=list(products))).order_by(
        "expiry_date", "lot_number", "id"
    )
    for lot in lots:
        lot.product = products[lot.product_id].product
        stock = _stock_of(lot, on)
        if stock.usable:
            products[lot.product_id].lots.append(stock)
        elif stock.left:
            products[lot.product_id].to_throw_away.append(stock)
    return list(products.values())


def lot_stock(lot: ProductLot, *, on: dt.date) -> LotStock:
    """One lot's stock (one query); the writes below lock the lot's row before they read it."""
    return _stock_of(
        _with_amounts(ProductLot.objects.filter(pk=lot.pk)).select_related("product__clinic").get(), on
    )


def volume_given(text) -> Decimal:
    """An amount in mL as typed ("2", "1.5", "0,5") or ClinicError."""
    cleaned = (
        str(text if text is not None else "").strip().lower().removesuffix("ml").strip().replace(",", ".")
    )
    try:
        volume = Decimal(cleaned)
    except InvalidOperation:
        raise ClinicError(
            f"“{text}” is not an amount in mL: type it as 2 or 1.5.", code="volume_unreadable"
        ) from None
    if not volume.is_finite() or volume.as_tuple().exponent < -2 or volume >= Decimal("100000000"):
        raise ClinicError(f"“{text}” is not an amount in mL: type it as 2 or 1.5.", code="volume_unreadable")
    return volume.quantize(Decimal("0.01"))


def _refuse_unless_keeper(lot: ProductLot, by: StaffMember) -> None:
    if by.clinic_id != lot.product.clinic_id or not may_read_health_data(by):
        raise NotAllowedError("Stock is kept by the clinic's practitioners and managers.")


@transaction.atomic
def lot_write_off(lot: ProductLot, *, volume_ml, reason: str, by: StaffMember, on: dt.date) -> LotWriteOff:
    """Write off stock of a lot that will not be given, saying why; or raise ClinicError."""
    lot = ProductLot.objects.select_for_update().select_related("product").get(pk=lot.pk)
    _refuse_unless_keeper(lot, by)
    volume = volume_given(volume_ml)
    reason = text_typed(reason)
    if volume <= 0:
        raise ClinicError("Write off more than nothing.", code="volume_not_positive")
    if not reason:
        raise ClinicError(
            "Say why it will not be given (broken, expired, thrown away…).", code="reason_missing"
        )
    if len(reason) > WRITE_OFF_REASON_MAX_CHARACTERS:
        raise ClinicError(
            f"Keep the reason to {WRITE_OFF_REASON_MAX_CHARACTERS} characters.", code="reason_too_long"
        )
    left = lot_stock(lot, on=on).left
    if left is not None and volume > left:
        raise ClinicError(
            f"Lot {lot.lot_number} holds {_ml(left)} by the records: write off at most that.",
            code="more_than_left",
        )
    return LotWriteOff.objects.create(lot=lot, volume_ml=volume, reason=reason, by=by)


@transaction.atomic
def lot_count(lot: ProductLot, *, counted_ml, by: StaffMember, on: dt.date) -> LotWriteOff | None:
    """Record what a count found left in a lot: less than the records say writes the difference off;
    the same writes nothing; more is refused (the lot's received amount is wrong: correct it)."""
    lot = ProductLot.objects.select_for_update().select_related("product").get(pk=lot.pk)
    _refuse_unless_keeper(lot, by)
    counted = volume_given(counted_ml)
    if counted < 0:
        raise ClinicError("A count finds nothing or more.", code="volume_not_positive")
    left = lot_stock(lot, on=on).left
    if left is None:
        raise ClinicError(
            f"Nobody entered what lot {lot.lot_number} held when it came: "
            "enter it in the product's settings first.",
            code="received_unknown",
        )
    if counted > left:
        raise ClinicError(
            f"The records say lot {lot.lot_number} holds {_ml(left)}, less than the {_ml(counted)} counted: "
            "correct what it held when it came in the product's settings.",
            code="more_than_left",
        )
    if counted == left:
        return None
    return LotWriteOff.objects.create(
        lot=lot,
        volume_ml=left - counted,
        reason=f"Counted {_ml(counted)} left, the records said {_ml(left)}",
        by=by,
    )


def _ml(volume: Decimal) -> str:
    return f"{volume.normalize():f} mL"


@dataclass(frozen=True)
class StockAlerts:
    to_order: list[ProductStock]
    expiring: list[LotStock]  # usable, with some left, expiring within EXPIRES_SOON
    to_throw_away: list[LotStock]

    def __bool__(self) -> bool:
        return bool(self.to_order or self.expiring or self.to_throw_away)


def stock_alerts(clinic: Clinic, *, on: dt.date) -> StockAlerts:
    """What the stock page would ask of someone now: products to order, lots to use first or throw away."""
    stock = product_stock(clinic, on=on)
    return StockAlerts(
        to_order=[p for p in stock if p.to_order],
        expiring=[s for p in stock for s in p.lots if s.expires_soon and (s.left is None or s.left > 0)],
        to_throw_away=[s for p in stock for s in p.to_throw_away],
    )
