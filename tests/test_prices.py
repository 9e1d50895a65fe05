"""Prices are shown with the clinic's currency: "260.00" alone leaves a client guessing."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from clinic.models import Clinic
from tests.booking_world import build_world

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("currency", "amount", "text"),
    [
        ("GBP", Decimal("260.00"), "£260"),
        ("GBP", Decimal("85.50"), "£85.50"),
        ("GBP", Decimal("1250"), "£1,250"),
        ("USD", Decimal("0.99"), "$0.99"),
        ("EUR", Decimal("120"), "€120"),
        ("CHF", Decimal("2400.05"), "CHF 2,400.05"),
    ],
)
def test_a_price_reads_as_clients_write_it(currency, amount, text):
    assert Clinic(currency=currency).price_text(amount) == text


def test_a_new_clinic_prices_in_pounds_until_its_manager_says_otherwise(db):
    assert build_world().clinic.currency == "GBP"


def test_the_public_pages_give_the_price_in_the_clinics_currency(client):
    world = build_world(slug="harbour", time_zone="America/New_York")
    world.clinic.currency = "USD"
    world.clinic.save(update_fields=["currency"])
    world.microcurrent.price = Decimal("85.50")
    world.microcurrent.save(update_fields=["price"])
    services = client.get("/p/harbour/").content.decode()
    assert "45 minutes · $85.50" in services
    day = timezone.localdate(timezone=world.clinic.zone) + dt.timedelta(days=7)
    details = client.get(
        f"/p/harbour/book/{world.microcurrent.id}/details/",
        {"start": f"{day.isoformat()}T10:00", "practitioner": world.dr_lee.id},
    )
    assert details.status_code == 200
    assert "45 minutes · $85.50" in details.content.decode()


def test_the_api_gives_each_service_its_currency(db):
    world = build_world()
    api = APIClient()
    api.force_authenticate(world.desk.user)
    services = api.get("/api/v1/services/").json()
    rows = services["results"] if isinstance(services, dict) else services
    assert rows and {(s["price"], s["currency"]) for s in rows} == {("100.00", "GBP")}


def test_the_database_refuses_a_currency_the_pages_cannot_write(db):
    world = build_world()
    with pytest.raises(IntegrityError, match="clinic_currency_known"), transaction.atomic():
        Clinic.objects.filter(pk=world.clinic.pk).update(currency="XYZ")


def test_every_currency_a_manager_can_pick_has_a_symbol_to_write():
    from clinic.models import CURRENCY_SYMBOLS, Currency

    assert set(CURRENCY_SYMBOLS) == set(Currency.values)
