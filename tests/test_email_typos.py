"""A mistyped email domain (gmial.com) is asked about while the address is typed, once.

Caught there, the confirmation goes to the right mailbox instead of being refused after it was due.
The question never refuses a real address: sent again as it was typed, it is kept.
"""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from clients.addresses import likely_typo
from clients.models import Client
from tests.booking_world import build_world
from tests.test_booking_pages import _book_new_client
from tests.test_client_edit import _details

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("olivia@gmial.com", "olivia@gmail.com"),
        ("olivia@gmail.con", "olivia@gmail.com"),
        ("olivia@gmai.com", "olivia@gmail.com"),
        ("olivia@hotmial.co.uk", "olivia@hotmail.co.uk"),
        ("olivia@outlok.com", "olivia@outlook.com"),
        ("Olivia.Smith@ICLOUD.CO", "Olivia.Smith@icloud.com"),
    ],
)
def test_a_near_miss_of_a_common_provider_is_a_likely_typo(typed, meant):
    assert likely_typo(typed) == meant


@pytest.mark.parametrize(
    "typed",
    [
        "olivia@gmail.com",
        "olivia@mail.com",  # a real provider that looks like gmail.com
        "olivia@ymail.com",
        "olivia@email.com",
        "olivia@example.com",
        "olivia@lumen-clinic.co.uk",
        "olivia@nhs.net",
        "not an address",
        "",
    ],
)
def test_an_address_at_a_provider_or_an_unlike_domain_is_not_questioned(typed):
    assert likely_typo(typed) is None


@pytest.fixture
def world(db):
    return build_world(slug="lumen")


def _public_details(client, world, email, **sent_back):
    """Give Olivia's details on the public page for a time a week ahead with Sam."""
    day = timezone.localdate(timezone=world.clinic.zone) + dt.timedelta(days=7)
    fields = {
        "start": f"{day.isoformat()}T10:00",
        "practitioner": world.sam.id,
        "first_name": "Olivia",
        "last_name": "Smith",
        "email": email,
        **sent_back,
    }
    return client.post(f"/p/lumen/book/{world.microcurrent.id}/details/", fields, follow=True)


def test_the_public_booking_page_asks_about_a_mistyped_domain_and_books_nothing_yet(client, world):
    page = _public_details(client, world, "olivia@gmial.com").content.decode()
    assert "Did you mean olivia@gmail.com?" in page
    assert 'name="email_as_typed" value="olivia@gmial.com"' in page
    assert not Client.objects.filter(last_name="Smith").exists()
    assert world.clinic.appointments.count() == 0


def test_the_address_sent_again_as_typed_is_kept(client, world):
    # the page gave the address back with what it asked about; sent again as it is
    page = _public_details(client, world, "olivia@gmial.com", email_as_typed="olivia@gmial.com")
    assert "Did you mean" not in page.content.decode()
    assert Client.objects.get(last_name="Smith").email == "olivia@gmial.com"
    assert world.clinic.appointments.count() == 1


def test_a_different_address_sent_after_the_question_is_asked_about_again(client, world):
    page = _public_details(client, world, "olivia@hotmial.com", email_as_typed="olivia@gmial.com")
    assert "Did you mean olivia@hotmail.com?" in page.content.decode()
    assert world.clinic.appointments.count() == 0


def test_the_suggested_address_is_taken_at_once(client, world):
    page = _public_details(client, world, "olivia@gmail.com").content.decode()
    assert "Did you mean" not in page
    assert Client.objects.get(last_name="Smith").email == "olivia@gmail.com"
    assert world.clinic.appointments.count() == 1


def test_the_desk_correcting_an_address_is_asked_too(desk, world):
    olivia = world.client(first_name="Olivia", last_name="Smith", email="olivia@example.com")
    edit = reverse("client-edit", args=[olivia.pk])
    page = desk.post(edit, _details(olivia, email="olivia@hotmial.com")).content.decode()
    assert "Did you mean olivia@hotmail.com?" in page
    assert 'name="email_as_typed" value="olivia@hotmial.com"' in page
    olivia.refresh_from_db()
    assert olivia.email == "olivia@example.com"
    # sent again as it was
    desk.post(edit, {**_details(olivia, email="olivia@hotmial.com"), "email_as_typed": "olivia@hotmial.com"})
    olivia.refresh_from_db()
    assert olivia.email == "olivia@hotmial.com"


def test_the_desk_booking_a_new_client_is_asked_once_then_books(desk, world):
    asked = _book_new_client(desk, world, **{"new-email": "nia@yaho.co.uk"})
    assert "Did you mean nia@yahoo.co.uk?" in asked.content.decode()
    assert not world.clinic.appointments.exists()
    booked = _book_new_client(
        desk, world, **{"new-email": "nia@yaho.co.uk", "new-email_as_typed": "nia@yaho.co.uk"}
    )
    assert "Booked Nia Cole" in booked.content.decode()
    assert Client.objects.get(last_name="Cole").email == "nia@yaho.co.uk"
