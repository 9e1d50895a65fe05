"""A rota changed after visits were booked is said where the desk looks, as a sick day is.

Sam used to work every day 09:00–17:00; from now on he stops at 13:00. His afternoon visits stay
booked (nothing is moved behind the desk's back) and are flagged until someone moves them.
"""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.booking_world import build_world, local
from treatments.booking import BookingRequest, appointment_book, appointment_reschedule
from treatments.selectors import outside_working_hours

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def rota_change(world):
    """Sam's visits at 10:00 and 14:00 on Tuesday 8 December; then his hours end at 13:00."""
    morning = _book(world, 10)
    afternoon = _book(world, 14)
    world.sam.working_hours.update(end_time=dt.time(13))
    return morning, afternoon


def _book(world, hour, practitioner=None):
    return appointment_book(
        BookingRequest(
            client=world.client(),
            service=world.microcurrent,
            practitioner=practitioner or world.sam,
            start=local(world, 2026, 12, 8, hour),
        )
    )


def test_only_the_visit_the_new_hours_leave_out_is_flagged(world, rota_change):
    morning, afternoon = rota_change
    assert outside_working_hours([morning, afternoon], world.clinic.zone) == {afternoon.pk}


def test_a_visit_whose_buffer_runs_past_the_new_end_is_flagged_as_booking_would_refuse_it(world):
    # 12:00–12:45 with 10 minutes after: held until 12:55
    visit = _book(world, 12)
    world.sam.working_hours.update(end_time=dt.time(12, 50))
    assert outside_working_hours([visit], world.clinic.zone) == {visit.pk}


def test_the_check_takes_one_query_however_many_visits(world):
    visits = [_book(world, hour, world.sam) for hour in (9, 11, 13)]
    visits += [_book(world, hour, world.dr_lee) for hour in (10, 12, 14)]
    with CaptureQueriesContext(connection) as queries:
        outside_working_hours(visits, world.clinic.zone)
    assert len(queries) == 1


def test_the_day_list_the_calendar_and_the_clients_page_flag_it(desk, world, rota_change):
    _morning, afternoon = rota_change
    visit_page = reverse("appointment-detail", args=[afternoon.pk])
    move_link = f'href="{visit_page}#reschedule">Not working then. Move it</a>'
    day_list = desk.get("/?date=2026-12-08").content.decode()
    assert day_list.count("Not working then") == 1 and move_link in day_list
    calendar = desk.get("/calendar/?date=2026-12-08").content.decode()
    assert f'data-appointment-id="{afternoon.pk}" title="Sam Rivera does not work then"' in calendar
    assert calendar.count("booking status-booked clash") == 1
    client_page = desk.get(reverse("client-detail", args=[afternoon.client_id])).content.decode()
    assert move_link in client_page


def test_the_visit_page_says_so_and_offers_a_colleagues_times_until_it_is_moved(desk, world, rota_change):
    _morning, afternoon = rota_change
    url = reverse("appointment-detail", args=[afternoon.pk])
    page = desk.get(url).content.decode()
    assert 'id="off-hours-clash"' in page and "their working hours changed after it was booked" in page
    assert 'aria-label="Move to Tue 8 Dec 14:00 with Dr Amara Lee"' in page
    appointment_reschedule(afternoon, start=local(world, 2026, 12, 8, 14), practitioner=world.dr_lee)
    assert 'id="off-hours-clash"' not in desk.get(url).content.decode()


def test_a_visit_in_time_off_is_said_once_as_time_off(desk, world, rota_change):
    from clinic.models import TimeOff

    _morning, afternoon = rota_change
    TimeOff.objects.create(
        staff_member=world.sam,
        start=local(world, 2026, 12, 8, 0),
        end=local(world, 2026, 12, 9, 0),
        reason="Sick",
    )
    page = desk.get("/?date=2026-12-08").content.decode()
    assert page.count("Off then: Sick. Move it") == 2 and "Not working then" not in page
