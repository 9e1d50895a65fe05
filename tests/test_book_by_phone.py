"""A clinic can ask clients who missed visits to call to book: after the number of no-shows in twelve
months it sets, booking online and from the waitlist's link is refused in words with the clinic's
number; the front desk (and the API) still book them, and their page says so."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from clinic.errors import ClinicError
from tests.booking_world import build_world, local
from tests.factories import AppointmentFactory
from treatments.booking import BookingRequest, appointment_book, online_booking_refusal
from treatments.models import Appointment
from treatments.waitlist import waitlist_add

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    world = build_world(slug="lumen-phone")
    world.clinic.phone = "020 7946 0000"
    world.clinic.phone_booking_after_no_shows = 2
    world.clinic.save(update_fields=["phone", "phone_booking_after_no_shows"])
    return world


@pytest.fixture
def ada(world):
    return world.client(first_name="Ada", last_name="Lovelace", email="ada@example.com")


def _missed(world, client, *days_ago):
    for days in days_ago:
        AppointmentFactory(
            clinic=world.clinic,
            client=client,
            service=world.microcurrent,
            practitioner=world.sam,
            start=timezone.now() - dt.timedelta(days=days),
            status="noshow",
        )


def _book_online(client, world, details, start="2026-12-08T10:00", **headers):
    url = reverse("public-details", args=[world.clinic.slug, world.microcurrent.pk])
    return client.post(
        f"{url}?start={start}&practitioner={world.dr_lee.pk}",
        {**details, "start": start, "practitioner": world.dr_lee.pk},
        **headers,
    )


ADA = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "phone": "+44 7700 900123"}


def test_two_no_shows_this_year_mean_calling_to_book_online(client, world, ada):
    _missed(world, ada, 10, 200)
    answer = _book_online(client, world, ADA)
    assert answer.status_code == 400
    assert "Please call us on 020 7946 0000 to book: after missed visits, we book by phone." in (
        answer.content.decode()
    )
    assert not Appointment.objects.filter(client=ada, status="booked").exists()


def test_fewer_or_older_no_shows_book_online_as_anyone(client, world, ada):
    _missed(world, ada, 10, 400)  # the second is more than a year ago
    answer = _book_online(client, world, ADA)
    assert answer.status_code == 302
    assert Appointment.objects.filter(client=ada, status="booked").count() == 1


def test_without_the_setting_anyone_books_online(client, world, ada):
    world.clinic.phone_booking_after_no_shows = None
    world.clinic.save(update_fields=["phone_booking_after_no_shows"])
    _missed(world, ada, 10, 20, 30)
    assert online_booking_refusal(ada) is None
    assert _book_online(client, world, ADA).status_code == 302


def test_the_front_desk_still_books_them_and_sees_why_they_call(desk, world, ada):
    _missed(world, ada, 10, 20)
    visit = appointment_book(
        BookingRequest(
            client=ada,
            service=world.microcurrent,
            practitioner=world.dr_lee,
            start=local(world, 2026, 12, 8, 10),
            source="staff",
        ),
        actor=world.desk.user,
    )
    assert visit.status == "booked"
    page = desk.get(reverse("client-detail", args=[ada.pk])).content.decode()
    assert 'id="books-by-phone"' in page and "Books by phone, not online" in page
    assert "Books by phone" in desk.get(reverse("appointment-detail", args=[visit.pk])).content.decode()


def test_a_client_with_one_no_show_is_not_flagged(desk, world, ada):
    _missed(world, ada, 10)
    assert "Books by phone" not in desk.get(reverse("client-detail", args=[ada.pk])).content.decode()


def test_booking_from_the_waitlists_link_is_refused_the_same_way(world, ada):
    _missed(world, ada, 10, 20)
    with pytest.raises(ClinicError) as refused:
        appointment_book(
            BookingRequest(
                client=ada,
                service=world.microcurrent,
                practitioner=world.dr_lee,
                start=local(world, 2026, 12, 8, 10),
                source="waitlist",
            )
        )
    assert refused.value.code == "book_by_phone"


def test_joining_the_waitlist_online_is_refused_too_and_nothing_is_kept(client, world, ada):
    _missed(world, ada, 10, 20)
    url = reverse("public-waitlist-join", args=[world.clinic.slug, world.microcurrent.pk])
    answer = client.post(url, {**ADA, "first_day": "2026-12-08", "last_day": "2026-12-12"})
    assert answer.status_code == 400
    assert "Please call us on 020 7946 0000 to book" in answer.content.decode()
    assert not ada.waitlist_entries.exists()
    # the desk can still put them on it
    waitlist_add(
        client=ada, service=world.microcurrent, first_day=dt.date(2026, 12, 8), last_day=dt.date(2026, 12, 12)
    )
    assert ada.waitlist_entries.count() == 1


def test_a_zero_limit_is_refused_by_the_database(world):
    from django.db import IntegrityError, transaction

    world.clinic.phone_booking_after_no_shows = 0
    with pytest.raises(IntegrityError), transaction.atomic():
        world.clinic.save(update_fields=["phone_booking_after_no_shows"])
