"""One address cannot fill the calendar or send the clinic's emails by the hundred: past a number of
booking and waitlist requests from the public pages in an hour, the next is refused in words before
anything is written; and a client may hold only so many visits ahead that they booked themselves."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from clients.models import Client
from clinic.errors import ClinicError
from clinic.public_limits import PUBLIC_WRITES_PER_HOUR
from tests.booking_world import build_world, local
from tests.test_book_by_phone import ADA, _book_online
from treatments.booking import (
    OWN_VISITS_AHEAD_MAX,
    BookingRequest,
    appointment_book,
    appointment_cancel,
    online_booking_refusal,
)
from treatments.models import Appointment

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    world = build_world(slug="lumen-limits")
    world.clinic.phone = "020 7946 0000"
    world.clinic.save(update_fields=["phone"])
    return world


def test_an_address_sending_too_many_requests_is_refused_for_an_hour(client, world):
    waitlist = reverse("public-waitlist-join", args=[world.clinic.slug, world.microcurrent.pk])
    for _ in range(PUBLIC_WRITES_PER_HOUR):  # made-up clients, half-typed forms: each counts
        assert client.post(waitlist, {"first_name": "Bot"}).status_code == 400
    refused = _book_online(client, world, ADA)
    assert refused.status_code == 429
    said = refused.content.decode()
    assert "many requests from your connection in the last hour" in said and "020 7946 0000" in said
    assert not Client.objects.filter(email="ada@example.com").exists()
    assert client.post(waitlist, {"first_name": "Bot"}).status_code == 429
    # another address is not held up, and an hour later this one may book again
    assert (
        _book_online(client, world, ADA, start="2026-12-08T11:00", REMOTE_ADDR="192.0.2.7").status_code == 302
    )
    with time_machine.travel(timezone.now() + dt.timedelta(hours=1, minutes=1)):
        assert _book_online(client, world, ADA, start="2026-12-11T10:00").status_code == 302
    assert Appointment.objects.filter(client__email="ada@example.com").count() == 2


def test_a_client_books_only_so_many_visits_ahead_themselves(world):
    ada = world.client(first_name="Ada", last_name="Lovelace", email="ada@example.com")

    def book(day, source="online"):
        return appointment_book(
            BookingRequest(
                client=ada,
                service=world.microcurrent,
                practitioner=world.sam,
                start=local(world, 2026, 12, day, 10),
                source=source,
            )
        )

    visits = [book(7 + 2 * n) for n in range(OWN_VISITS_AHEAD_MAX)]  # microcurrent: 2 days apart
    refusal = online_booking_refusal(ada)
    assert refusal.code == "own_visits_ahead"
    assert refusal.message == (
        f"You already have {OWN_VISITS_AHEAD_MAX} visits booked ahead online. "
        "Please call us on 020 7946 0000 to book another."
    )
    with pytest.raises(ClinicError, match="visits booked ahead online"):
        book(17)
    book(17, source="staff")  # the front desk books any number
    appointment_cancel(visits[0])
    assert online_booking_refusal(ada) is None
    book(19)


def test_a_form_whose_out_of_sight_field_is_filled_is_refused_before_anything_is_written(client, world):
    """People do not see the "Leave this empty" field; a script filling every field does."""
    from clinic.models import PublicWrite

    url = reverse("public-details", args=[world.clinic.slug, world.microcurrent.pk])
    page = client.get(f"{url}?start=2026-12-08T10:00&practitioner={world.dr_lee.pk}").content.decode()
    assert 'name="website" value="" tabindex="-1"' in page and ">Leave this empty</label>" in page
    refused = _book_online(client, world, {**ADA, "website": "http://spam.example"})
    assert refused.status_code == 400
    assert "This request looks automatic, so it was not sent." in refused.content.decode()
    waitlist = reverse("public-waitlist-join", args=[world.clinic.slug, world.microcurrent.pk])
    joined = client.post(
        waitlist, {**ADA, "website": "x", "first_day": "2026-12-08", "last_day": "2026-12-10"}
    )
    assert joined.status_code == 400 and "looks automatic" in joined.content.decode()
    assert not Client.objects.filter(email="ada@example.com").exists()
    assert not PublicWrite.objects.exists()  # not even counted
    assert _book_online(client, world, {**ADA, "website": ""}).status_code == 302  # left empty: booked
