"""What is left of each product: a lot's amount received, less what the treatment records gave of it,
less what was written off; lots to use first, products to order, lots to throw away; counts and
write-offs by practitioners and managers; two queries for the page's numbers however many lots."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.test import Client as BrowserClient
from django.urls import reverse

from clinic.errors import ClinicError, NotAllowedError
from tests.booking_world import build_world
from tests.test_lot_recall_notice import give
from treatments.models import LotWriteOff, Product, ProductLot
from treatments.stock import lot_count, lot_write_off, product_stock, stock_alerts, volume_given

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 12, 1)


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def cocktail(world):
    """HA cocktail: lot A (10 mL, given 2 mL), lot B (5 mL, expiring in 20 days), lot C (amount not
    entered), lot D (expired with 3 mL left), lot E (recalled with 4 mL left)."""
    product = Product.objects.create(clinic=world.clinic, name="HA cocktail", reorder_below_ml=Decimal("20"))

    def lot(number, expiry, received):
        return ProductLot.objects.create(
            product=product, lot_number=number, expiry_date=expiry, received_ml=received
        )

    lots = {
        "A": lot("A-1", dt.date(2027, 6, 30), Decimal("10")),
        "B": lot("B-1", TODAY + dt.timedelta(days=20), Decimal("5")),
        "C": lot("C-1", dt.date(2027, 9, 30), None),
        "D": lot("D-1", TODAY - dt.timedelta(days=1), Decimal("3")),
        "E": lot("E-1", dt.date(2027, 9, 30), Decimal("4")),
    }
    ProductLot.objects.filter(pk=lots["E"].pk).update(recalled_on=TODAY, recall_note="Sterility")
    give(world, world.client(first_name="Ann"), lots["A"], 10, areas=("face", "neck"))  # 1 mL each
    return product, lots


@pytest.mark.parametrize(
    ("typed", "volume"), [("2", "2.00"), ("1.5", "1.50"), ("0,5", "0.50"), ("3 mL", "3.00")]
)
def test_volumes_are_read_as_typed(typed, volume):
    assert volume_given(typed) == Decimal(volume)


@pytest.mark.parametrize("typed", ["", "two", "1.234", "NaN", None])
def test_a_volume_that_is_not_one_is_refused_in_words(typed):
    with pytest.raises(ClinicError, match="is not an amount in mL"):
        volume_given(typed)


def test_each_lot_is_what_it_held_less_what_was_given_and_written_off(
    world, cocktail, django_assert_num_queries
):
    product, lots = cocktail
    LotWriteOff.objects.create(lot=lots["A"], volume_ml=Decimal("1"), reason="A vial broke", by=world.dr_lee)
    with django_assert_num_queries(2):
        [stock] = product_stock(world.clinic, on=TODAY)
        assert stock.product.name == "HA cocktail"
    by_number = {s.lot.lot_number: s for s in stock.lots}
    assert list(by_number) == ["B-1", "A-1", "C-1"]  # usable, soonest to expire first
    a = by_number["A-1"]
    assert (a.given, a.written_off, a.left, a.expires_soon) == (
        Decimal("2"),
        Decimal("1"),
        Decimal("7"),
        False,
    )
    assert by_number["B-1"].expires_soon and by_number["B-1"].left == Decimal("5")
    assert by_number["C-1"].left is None
    assert (stock.left, stock.unknown) == (Decimal("12"), 1)
    assert not stock.to_order  # a lot's amount is unknown: no call to order on half the numbers
    assert [(s.lot.lot_number, s.left) for s in stock.to_throw_away] == [
        ("D-1", Decimal("3")),
        ("E-1", Decimal("4")),
    ]

    ProductLot.objects.filter(pk=lots["C"].pk).update(received_ml=Decimal("2"))
    [stock] = product_stock(world.clinic, on=TODAY)
    assert stock.left == Decimal("14") and stock.to_order  # below 20 mL
    alerts = stock_alerts(world.clinic, on=TODAY)
    assert [p.product.name for p in alerts.to_order] == ["HA cocktail"]
    assert [s.lot.lot_number for s in alerts.expiring] == ["B-1"]
    assert [s.lot.lot_number for s in alerts.to_throw_away] == ["D-1", "E-1"]


def test_a_lot_given_more_than_it_held_says_so(world, cocktail):
    _, lots = cocktail
    ProductLot.objects.filter(pk=lots["A"].pk).update(received_ml=Decimal("1.5"))
    [stock] = product_stock(world.clinic, on=TODAY)
    a = next(s for s in stock.lots if s.lot.lot_number == "A-1")
    assert (a.left, a.over_given) == (Decimal("0"), Decimal("0.5"))


def test_a_write_off_says_why_and_takes_no_more_than_is_left(world, cocktail):
    _, lots = cocktail
    with pytest.raises(NotAllowedError, match="practitioners and managers"):
        lot_write_off(lots["A"], volume_ml="1", reason="Broke", by=world.desk, on=TODAY)
    with pytest.raises(ClinicError, match="Say why"):
        lot_write_off(lots["A"], volume_ml="1", reason=" ", by=world.dr_lee, on=TODAY)
    with pytest.raises(ClinicError, match="more than nothing"):
        lot_write_off(lots["A"], volume_ml="0", reason="Broke", by=world.dr_lee, on=TODAY)
    with pytest.raises(ClinicError, match=r"Lot A-1 holds 8 mL by the records: write off at most that\."):
        lot_write_off(lots["A"], volume_ml="9", reason="Broke", by=world.dr_lee, on=TODAY)
    written = lot_write_off(lots["A"], volume_ml="1.5", reason="A vial broke", by=world.dr_lee, on=TODAY)
    assert (written.volume_ml, written.by) == (Decimal("1.50"), world.dr_lee)
    # a lot of unknown amount: written off as said
    lot_write_off(lots["C"], volume_ml="2", reason="Spilt", by=world.manager, on=TODAY)
    with pytest.raises(IntegrityError), transaction.atomic():
        LotWriteOff.objects.create(lot=lots["A"], volume_ml=Decimal("1"), reason="", by=world.dr_lee)
    with pytest.raises(IntegrityError), transaction.atomic():
        ProductLot.objects.filter(pk=lots["A"].pk).update(received_ml=Decimal("0"))


def test_a_count_writes_off_what_is_missing(world, cocktail):
    _, lots = cocktail
    assert lot_count(lots["A"], counted_ml="8", by=world.dr_lee, on=TODAY) is None  # as the records say
    written = lot_count(lots["A"], counted_ml="6.5", by=world.dr_lee, on=TODAY)
    assert (written.volume_ml, written.reason) == (
        Decimal("1.50"),
        "Counted 6.5 mL left, the records said 8 mL",
    )
    with pytest.raises(ClinicError, match="less than the 7 mL counted: correct what it held"):
        lot_count(lots["A"], counted_ml="7", by=world.dr_lee, on=TODAY)
    with pytest.raises(ClinicError, match="Nobody entered what lot C-1 held"):
        lot_count(lots["C"], counted_ml="1", by=world.dr_lee, on=TODAY)
    with pytest.raises(NotAllowedError):
        lot_count(lots["A"], counted_ml="1", by=world.desk, on=TODAY)


def test_the_stock_page_and_todays_list(world, cocktail, desk):
    _, lots = cocktail
    assert desk.get(reverse("stock")).status_code == 403
    assert "stock-alerts" not in desk.get(reverse("home")).content.decode()
    practitioner = BrowserClient()
    practitioner.force_login(world.dr_lee.user)
    page = practitioner.get(reverse("stock")).content.decode()
    assert "<strong>13 mL left</strong> and 1 lot with no amount entered" in page
    assert "Lot D-1 expired on 30 Nov 2026 and still holds 3 mL by the records" in page
    assert "Lot E-1 was recalled on 1 Dec 2026" in page
    response = practitioner.post(
        reverse("lot-write-off", args=[lots["D"].pk]),
        {"volume_ml": "3", "reason": "Expired: thrown away"},
        follow=True,
    )
    assert "Wrote off 3 mL of HA cocktail lot D-1." in response.content.decode()
    assert "Lot D-1 expired" not in response.content.decode()
    response = practitioner.post(
        reverse("lot-count", args=[lots["A"].pk]), {"counted_ml": "seven"}, follow=True
    )
    assert "“seven” is not an amount in mL" in response.content.decode()
    response = practitioner.post(reverse("lot-count", args=[lots["A"].pk]), {"counted_ml": "7"}, follow=True)
    assert "HA cocktail lot A-1: 1 mL fewer than the records said, written off." in response.content.decode()
    assert desk.post(reverse("lot-count", args=[lots["A"].pk]), {"counted_ml": "1"}).status_code == 403
    home = practitioner.get(reverse("home")).content.decode()
    assert 'id="stock-alerts"' in home
    assert "use first" in home and "HA cocktail lot B-1, expires 21 Dec" in home
    assert "throw away" in home and "HA cocktail lot E-1" in home
    other = build_world(slug="other")
    outsider = BrowserClient()
    outsider.force_login(other.dr_lee.user)
    assert outsider.post(reverse("lot-count", args=[lots["A"].pk]), {"counted_ml": "1"}).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_the_database_keeps_a_write_off_as_it_was_written():
    from django.db import DatabaseError

    world = build_world()
    product = Product.objects.create(clinic=world.clinic, name="HA cocktail")
    lot = ProductLot.objects.create(
        product=product, lot_number="A-1", expiry_date=dt.date(2027, 6, 30), received_ml=Decimal("10")
    )
    written = lot_write_off(lot, volume_ml="1", reason="A vial broke", by=world.dr_lee, on=TODAY)
    with pytest.raises(DatabaseError, match="a write-off can never be changed"), transaction.atomic():
        LotWriteOff.objects.filter(pk=written.pk).update(volume_ml=Decimal("0.5"))
    assert LotWriteOff.objects.get().volume_ml == Decimal("1.00")


def test_the_record_page_says_what_is_left_of_each_lot(world, cocktail):
    from treatments.forms import MesotherapyEntryForm
    from treatments.selectors import usable_lots
    from treatments.stock import with_stock_left

    _, lots = cocktail
    ProductLot.objects.filter(pk=lots["B"].pk).update(received_ml=Decimal("0.5"))
    LotWriteOff.objects.create(lot=lots["B"], volume_ml=Decimal("0.5"), reason="Broke", by=world.dr_lee)
    form = MesotherapyEntryForm(lots=with_stock_left(usable_lots(world.clinic, on=TODAY)), protocol_areas={})
    labels = [label for value, label in form.fields["lot"].choices if value]
    assert labels == [
        "HA cocktail · lot B-1 · expires 21 Dec 2026 · none left by the records",
        "HA cocktail · lot A-1 · expires 30 Jun 2027 · 8 mL left",
        "HA cocktail · lot C-1 · expires 30 Sep 2027",
    ]
