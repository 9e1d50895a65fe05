"""Clients book online up to the clinic's number of days ahead (60 unless it chooses otherwise): the
booking page offers those days only and says until when, a booking or a move past them from a crafted
request is refused in words, and the front desk books any day."""

import pytest
from django.db import IntegrityError, transaction
from django.test import Client as BrowserClient
from django.urls import reverse

from clinic.models import Clinic
from tests.booking_world import build_world, local
from treatments.booking import BookingRequest, appointment_book
from treatments.links import manage_token
from treatments.models import Appointment

pytestmark = pytest.mark.django_db

# The suite's now is Tuesday 1 December 2026, 07:00 in London; Lumen works 09:00–17:00 every day.
ADA = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "phone": "+44 7700 900123"}


@pytest.fixture
def world(db):
    world = build_world(slug="lumen-days")
    world.microcurrent.bookable_online = True
    world.microcurrent.save(update_fields=["bookable_online"])
    Clinic.objects.filter(pk=world.clinic.pk).update(online_booking_days_ahead=10, phone="020 7946 0000")
    world.clinic.refresh_from_db()
    return world


def _times(world, day):
    return BrowserClient().get(
        reverse("public-times", args=[world.clinic.slug, world.microcurrent.pk]), {"date": day}
    )


def _book_online(world, start):
    url = reverse("public-details", args=[world.clinic.slug, world.microcurrent.pk])
    return BrowserClient().post(
        f"{url}?start={start}&practitioner={world.dr_lee.pk}",
        {**ADA, "note": "", "start": start, "practitioner": world.dr_lee.pk},
    )


def test_the_page_offers_the_days_up_to_the_last_and_says_until_when(world):
    last = _times(world, "2026-12-11")
    page = last.content.decode()
    assert last.status_code == 200 and "Friday 11 December" in page
    assert (
        "?start=2026-12-11T10:00&amp;practitioner" in page or "?start=2026-12-11T10:00&practitioner" in page
    )
    assert 'max="2026-12-11"' in page and 'min="2026-12-01"' in page
    assert (
        "We take bookings online up to Friday 11 December; for a later day, call us on 020 7946 0000." in page
    )
    assert "Next day ›" not in page  # the last day
    beyond = _times(world, "2026-12-12").content.decode()
    assert (
        "Choose a day between today and Friday 11 December: we take bookings online up to 10 days ahead."
        in beyond
    )
    assert "2026-12-12T10:00" not in beyond


def test_a_booking_past_the_last_day_is_refused_in_words(world):
    answer = _book_online(world, "2026-12-12T10:00")
    assert answer.status_code == 400
    assert (
        "We take bookings online up to 10 days ahead, until Friday 11 December. For a later day, please "
        "call us on 020 7946 0000."
    ) in answer.content.decode()
    assert not Appointment.objects.exists()
    assert _book_online(world, "2026-12-11T10:00").status_code == 302
    assert Appointment.objects.count() == 1


def test_the_desk_books_any_day(world):
    far = appointment_book(
        BookingRequest(
            client=world.client(first_name="Olivia", last_name="Smith"),
            service=world.microcurrent,
            practitioner=world.dr_lee,
            start=local(world, 2027, 3, 2, 10),
        ),
        actor=world.desk.user,
    )
    assert far.pk


def test_a_client_moves_their_visit_only_within_the_days(world):
    _book_online(world, "2026-12-08T10:00")
    visit = Appointment.objects.get()
    url = reverse("public-manage", args=[manage_token(visit)])
    public = BrowserClient()
    refused = public.post(url, {"action": "reschedule", "start": "2026-12-14T10:00"}, follow=True)
    assert (
        "We take bookings online up to 10 days ahead, until Friday 11 December." in refused.content.decode()
    )
    visit.refresh_from_db()
    assert visit.start == local(world, 2026, 12, 8, 10)
    moved = public.post(url, {"action": "reschedule", "start": "2026-12-10T10:00"}, follow=True)
    assert "Your visit has moved." in moved.content.decode()
    visit.refresh_from_db()
    assert visit.start == local(world, 2026, 12, 10, 10)


@pytest.mark.parametrize("days", [0, 731])
def test_the_database_keeps_the_days_between_one_and_two_years(world, days):
    with pytest.raises(IntegrityError), transaction.atomic():
        Clinic.objects.filter(pk=world.clinic.pk).update(online_booking_days_ahead=days)
