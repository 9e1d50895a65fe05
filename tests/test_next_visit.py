"""Booking the next visit before the client leaves: the visit's page, once they are in, says when the
protocol allows the next one and opens the finder there, or names the one already booked."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.booking_world import build_world, local
from treatments.booking import BookingRequest, appointment_book, appointment_set_status, course_book
from treatments.models import AppointmentStatus
from treatments.selectors import next_visit_after

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    return build_world(slug="lumen-next")


@pytest.fixture
def olivia(world):
    return world.client(first_name="Olivia", last_name="Smith", email="olivia@example.com")


def _book(world, client, start, service=None, practitioner=None):
    return appointment_book(
        BookingRequest(
            client=client,
            service=service or world.microneedling,
            practitioner=practitioner or world.sam,
            start=start,
        )
    )


def test_a_visit_not_yet_come_to_offers_no_next_one(client, world, olivia):
    visit = _book(world, olivia, local(world, 2026, 12, 1, 10))
    assert next_visit_after(visit, now=timezone.now()) is None
    client.force_login(world.desk.user)
    assert 'id="next-visit"' not in client.get(f"/appointments/{visit.pk}/").content.decode()


def test_once_the_client_is_in_the_page_opens_the_finder_where_the_protocol_allows_the_next(
    client, world, olivia
):
    visit = _book(world, olivia, local(world, 2026, 12, 1, 10))
    visit = appointment_set_status(visit, status=AppointmentStatus.ARRIVED)
    with CaptureQueriesContext(connection) as queries:
        following = next_visit_after(visit, now=timezone.now())
    assert len(queries) == 2
    assert (following.booked, following.earliest, following.interval_days) == (
        None,
        dt.date(2026, 12, 29),
        28,
    )

    client.force_login(world.desk.user)
    page = client.get(f"/appointments/{visit.pk}/").content.decode()
    assert "The protocol asks 28 days between sessions: the next from Tue 29 Dec." in page
    link = (
        f"/book/?service={world.microneedling.pk}&amp;client={olivia.pk}&amp;practitioner={world.sam.pk}"
        "&amp;date=2026-12-29"
    )
    assert link in page
    finder = client.get(link.replace("&amp;", "&")).content.decode()
    assert "Tue 29 Dec" in finder or "29 Dec" in finder
    assert "Sam Rivera" in finder


def test_the_next_visit_already_booked_is_named_instead(client, world, olivia):
    visit = _book(world, olivia, local(world, 2026, 12, 1, 10))
    visit = appointment_set_status(visit, status=AppointmentStatus.ARRIVED)
    ahead = _book(world, olivia, local(world, 2027, 1, 5, 11), practitioner=world.dr_lee)
    following = next_visit_after(visit, now=timezone.now())
    assert following.booked == ahead
    client.force_login(world.desk.user)
    page = client.get(f"/appointments/{visit.pk}/").content.decode()
    assert "Microneedling facial with Dr Amara Lee" in page and "Tue 5 Jan 2027 11:00</a>: booked." in page
    assert 'id="book-next"' not in page


def test_a_visit_of_another_treatment_ahead_does_not_count(world, olivia):
    visit = _book(world, olivia, local(world, 2026, 12, 1, 10))
    visit = appointment_set_status(visit, status=AppointmentStatus.ARRIVED)
    _book(world, olivia, local(world, 2026, 12, 15, 10), service=world.microcurrent)
    assert next_visit_after(visit, now=timezone.now()).booked is None


def test_a_course_with_sessions_ahead_has_its_next_session_already(world, olivia):
    first, *_ = course_book(
        client=olivia,
        service=world.microcurrent,
        practitioner=world.sam,
        starts=[local(world, 2026, 12, 1, 10), local(world, 2026, 12, 4, 10)],
    ).appointments.order_by("start")
    first = appointment_set_status(first, status=AppointmentStatus.ARRIVED)
    assert next_visit_after(first, now=timezone.now()) is None


def test_a_visit_long_past_offers_the_next_from_today(world, olivia):
    visit = _book(world, olivia, local(world, 2026, 12, 1, 10), service=world.microcurrent)
    visit = appointment_set_status(visit, status=AppointmentStatus.ARRIVED)
    later = timezone.now() + dt.timedelta(days=10)
    assert next_visit_after(visit, now=later).earliest == timezone.localdate(later, world.clinic.zone)


def test_the_finder_for_a_client_leaves_out_times_too_soon_after_their_last_session(client, world, olivia):
    visit = _book(world, olivia, local(world, 2026, 12, 1, 10))
    visit = appointment_set_status(visit, status=AppointmentStatus.ARRIVED)
    client.force_login(world.desk.user)
    url = (
        f"/book/?service={world.microneedling.pk}&client={olivia.pk}&practitioner={world.sam.pk}"
        "&date=2026-12-29"
    )
    page = client.get(url).content.decode()
    times = [t for t in ("09:00", "09:45", "10:00", "10:15", "14:00") if f"start=2026-12-29T{t}" in page]
    assert times == ["10:00", "10:15", "14:00"]  # 28 days after Tue 1 Dec 10:00, not before
    assert "Olivia has the same treatment on Tue 1 Dec 10:00: times within 28 days of it" in page
    # without a client, every free time that day is listed
    assert "start=2026-12-29T09:45" in client.get(url.replace(f"&client={olivia.pk}", "")).content.decode()
    # and a time the finder offers for her books
    booked = client.post(
        "/book/",
        {
            "service": world.microneedling.pk,
            "client": olivia.pk,
            "practitioner": world.sam.pk,
            "start": "2026-12-29T10:00",
        },
    )
    assert booked.status_code == 302
