"""Links and forms people edit by hand: a mistyped id or a far-off year is a plain answer, never a 500."""

import datetime as dt

import pytest
from rest_framework.test import APIClient

from clinic.parsing import parse_id
from tests.booking_world import build_world, local
from treatments.booking import BookingRequest, appointment_book
from treatments.forms import parse_local_date, parse_local_datetime
from treatments.models import Appointment

pytestmark = pytest.mark.django_db

NOT_IDS = ["x", "12abc", "-3", "1.5", "", " ", "²", "9" * 19, "null"]


@pytest.fixture
def world(db):
    return build_world(slug="lumen")


@pytest.fixture
def visit(world):
    """Dr Lee's microcurrent visit at 10:00 on Monday 7 December."""
    return appointment_book(
        BookingRequest(
            client=world.client(),
            service=world.microcurrent,
            practitioner=world.dr_lee,
            start=local(world, 2026, 12, 7, 10),
        )
    )


@pytest.fixture
def api(world):
    api = APIClient()
    api.force_authenticate(world.desk.user)
    return api


@pytest.mark.parametrize("raw", NOT_IDS)
def test_anything_but_a_plain_number_is_no_id(raw):
    assert parse_id(raw) == 0


def test_a_plain_number_is_the_id():
    assert parse_id(" 42 ") == 42
    assert parse_id("9" * 18) == int("9" * 18)


@pytest.mark.parametrize("raw", ["x", "12abc", "9" * 19])
def test_the_booking_form_with_a_mistyped_id_opens_the_finder(desk, world, raw):
    start = local(world, 2026, 12, 7, 10).strftime("%Y-%m-%dT%H:%M")
    for query in (
        {"practitioner": raw, "start": start},
        {"practitioner": world.dr_lee.pk, "start": start, "service": raw, "client": raw},
        {"service": raw},
    ):
        response = desk.get("/book/", query)
        assert response.status_code == 200, query


def test_posting_the_booking_form_with_mistyped_ids_asks_for_the_service_and_books_nothing(desk, world):
    start = local(world, 2026, 12, 7, 10).strftime("%Y-%m-%dT%H:%M")
    response = desk.post(
        "/book/", {"practitioner": world.dr_lee.pk, "start": start, "service": "x", "client": "x"}
    )
    assert response.status_code == 400
    assert "Choose the service to book." in response.content.decode()
    assert not Appointment.objects.exists()


def test_the_course_page_with_mistyped_ids_goes_back_to_the_finder(desk, world):
    response = desk.get("/book/course/", {"practitioner": "x", "service": "x", "client": "x", "start": "x"})
    assert response.status_code == 302
    assert response["Location"].endswith("/book/")


def test_the_public_details_page_with_a_mistyped_practitioner_is_not_found(client, world):
    start = local(world, 2026, 12, 7, 10).strftime("%Y-%m-%dT%H:%M")
    response = client.get(
        f"/p/lumen/book/{world.microcurrent.pk}/details/", {"practitioner": "x", "start": start}
    )
    assert response.status_code == 404


@pytest.mark.parametrize("raw", ["9999-12-31T23:59", "0001-01-01T00:00", "3000-01-01T10:00"])
def test_a_time_outside_the_calendar_is_no_time(world, raw):
    assert parse_local_datetime(raw, world.clinic.zone) is None


def test_a_date_outside_the_calendar_shows_the_default_and_says_why():
    today = dt.date(2026, 12, 1)
    assert parse_local_date("9999-12-31", today) == (
        today,
        "9999 is outside the calendar; showing 01 Dec 2026. Check the year.",
    )
    assert parse_local_date("2999-12-31", today) == (dt.date(2999, 12, 31), "")


@pytest.mark.parametrize("path", ["/", "/calendar/", "/book/?service=0"])
def test_staff_pages_asked_for_year_9999_show_today_with_a_note(desk, world, path):
    response = desk.get(path, {"date": "9999-12-31"})
    assert response.status_code == 200
    assert "9999 is outside the calendar" in response.content.decode()


def test_the_course_page_for_year_9999_goes_back_to_the_finder(desk, world):
    response = desk.get(
        "/book/course/",
        {"practitioner": world.dr_lee.pk, "service": world.microcurrent.pk, "start": "9999-12-31T23:59"},
    )
    assert response.status_code == 302


def test_the_api_refuses_dates_outside_the_calendar_field_by_field(api, world):
    for path in (
        f"/api/v1/availability/?service={world.microcurrent.pk}&start=9999-12-30&end=9999-12-31",
        "/api/v1/appointments/?start=9999-12-30&end=9999-12-31",
        "/api/v1/appointments/?start=0001-01-01&end=0001-01-01",
    ):
        response = api.get(path)
        assert response.status_code == 400, path
        assert response.json()["start"] == ["Give a date between 1900-01-01 and 2999-12-31."]


@pytest.mark.parametrize("start", ["9999-12-31T23:30:00Z", "9999-12-31T23:30:00", "2062-12-07T10:00:00Z"])
def test_a_booking_years_ahead_is_refused_as_a_mistyped_year(api, world, start):
    payload = {
        "client": world.client().pk,
        "service": world.microcurrent.pk,
        "practitioner": world.dr_lee.pk,
        "start": start,
    }
    response = api.post("/api/v1/appointments/", payload, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "too_far_ahead"
    assert "more than five years ahead. Check the year." in response.json()["detail"]
    assert not Appointment.objects.exists()


def test_moving_a_visit_years_ahead_is_refused_and_leaves_it_where_it_was(api, world, visit):
    response = api.post(
        f"/api/v1/appointments/{visit.pk}/reschedule/", {"start": "9999-12-31T10:00:00Z"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "too_far_ahead"
    visit.refresh_from_db()
    assert visit.start == local(world, 2026, 12, 7, 10)


def test_a_booking_four_years_ahead_is_still_taken(api, world):
    payload = {
        "client": world.client().pk,
        "service": world.microcurrent.pk,
        "practitioner": world.dr_lee.pk,
        "start": local(world, 2030, 11, 18, 10).isoformat(),
    }
    response = api.post("/api/v1/appointments/", payload, format="json")
    assert response.status_code == 201, response.content


@pytest.mark.parametrize("next_url", ["x", "appointment-detail", "//evil.example/", "https://evil.example/"])
def test_a_next_that_is_not_a_path_here_goes_back_to_the_visit(desk, visit, next_url):
    response = desk.post(f"/appointments/{visit.pk}/cancel/", {"reason": "", "next": next_url})
    assert response.status_code == 302
    assert response["Location"] == f"/appointments/{visit.pk}/"
