"""A rota changed after visits were booked is said where the desk looks, as a sick day is.

Sam used to work every day 09:00–17:00; from now on he stops at 13:00. His afternoon visits stay
booked (nothing is moved behind the desk's back) and are flagged until someone moves them.
"""

import datetime as dt
from html.parser import HTMLParser

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


def test_the_check_takes_two_queries_however_many_visits(world):
    visits = [_book(world, hour, world.sam) for hour in (9, 11, 13)]
    visits += [_book(world, hour, world.dr_lee) for hour in (10, 12, 14)]
    with CaptureQueriesContext(connection) as queries:
        outside_working_hours(visits, world.clinic.zone)
    assert len(queries) == 2  # the weekly hours, the extra hours


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


class _FormFields(HTMLParser):
    """The values a browser would send from a page's main form: inputs, selected options, textareas."""

    def __init__(self):
        super().__init__()
        self.fields: dict[str, str] = {}
        self._select = self._textarea = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in ("submit", "button", "file"):
            if attrs.get("type") in ("checkbox", "radio") and "checked" not in attrs:
                return
            self.fields[name] = attrs.get("value") or ("on" if attrs.get("type") == "checkbox" else "")
        elif tag == "select" and name:
            self._select = name
            self.fields.setdefault(name, "")
        elif tag == "option" and self._select and "selected" in attrs:
            self.fields[self._select] = attrs.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.fields[name] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.fields[self._textarea] += data


def _admin_change(client, member, **changes):
    """Send the staff member's admin page as it is, but for `changes`; return the page it leads to."""
    url = reverse("admin:clinic_staffmember_change", args=[member.pk])
    parser = _FormFields()
    parser.feed(client.get(url).content.decode())
    fields = {k: v for k, v in parser.fields.items() if "__prefix__" not in k}
    fields.update(changes)
    response = client.post(url, fields, follow=True)
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def admin_site(client, world):
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_superuser("owner", "owner@example.com", "pw"))
    return client


def _hours_field(world, member, weekday, field):
    """The admin inline's name for one of the member's working-hours rows, by its weekday."""
    rows = list(member.working_hours.order_by("weekday", "start_time", "id"))
    index = next(n for n, h in enumerate(rows) if h.weekday == weekday)
    return f"working_hours-{index}-{field}"


def test_shortening_hours_in_the_admin_names_the_visits_left_outside_them(admin_site, world):
    morning, afternoon = _book(world, 10), _book(world, 14)
    tuesday = 1
    page = _admin_change(
        admin_site, world.sam, **{_hours_field(world, world.sam, tuesday, "end_time"): "13:00"}
    )
    assert "was changed successfully" in page
    note = reverse("appointment-detail", args=[afternoon.pk])
    assert "Sam Rivera has 1 booked visit ahead without them:" in page
    assert f'<a href="{note}">Tue 8 Dec 14:00 {afternoon.client.full_name}</a> (not working then)' in page
    assert reverse("appointment-detail", args=[morning.pk]) not in page
    # nothing was moved behind the desk's back
    afternoon.refresh_from_db()
    assert afternoon.practitioner_id == world.sam.pk and afternoon.status == "booked"


def test_time_off_added_in_the_admin_names_its_visits_and_points_to_the_hand_over(admin_site, world):
    visit = _book(world, 10)
    page = _admin_change(
        admin_site,
        world.sam,
        **{
            "time_off-TOTAL_FORMS": "1",
            "time_off-0-start_0": "2026-12-08",
            "time_off-0-start_1": "00:00",
            "time_off-0-end_0": "2026-12-09",
            "time_off-0-end_1": "00:00",
            "time_off-0-reason": "Course",
        },
    )
    assert "was changed successfully" in page
    assert f"Tue 8 Dec 10:00 {visit.client.full_name}</a> (time off)" in page
    assert f'The <a href="{reverse("time-off")}">time off page</a> hands them' in page


def test_a_practitioner_made_inactive_is_told_of_every_visit_they_leave(admin_site, world):
    visits = [_book(world, hour) for hour in (9, 10, 11)]
    fields = {"is_active": ""}
    page = _admin_change(admin_site, world.sam, **fields)
    assert "Sam Rivera has 3 booked visits ahead without them:" in page
    assert page.count("(no longer active)") == 3
    assert all(reverse("appointment-detail", args=[v.pk]) in page for v in visits)


def test_saving_a_practitioner_whose_visits_all_fit_says_nothing_more(admin_site, world):
    _book(world, 10)
    page = _admin_change(admin_site, world.sam)
    assert "was changed successfully" in page and "without them" not in page


def test_the_visits_left_out_take_six_queries_however_many(world):
    from treatments.selectors import visits_left_without_their_practitioner

    for hour in (9, 10, 11, 12, 13, 14, 15):
        _book(world, hour)
    world.sam.working_hours.update(end_time=dt.time(12))
    sam = type(world.sam).objects.select_related("clinic").get(pk=world.sam.pk)
    with CaptureQueriesContext(connection) as queries:
        left = visits_left_without_their_practitioner(sam, now=local(world, 2026, 12, 1, 9))
    # the visits, time off, working hours, extra hours, then the protocols and qualifications of those
    # that fit
    assert len(queries) == 6
    assert [timezone_hour(v.start, world) for v, _why in left] == [12, 13, 14, 15]


def timezone_hour(instant, world):
    return instant.astimezone(world.clinic.zone).hour


def test_visits_of_someone_who_left_stay_on_the_calendar_flagged_until_moved(desk, world):
    """Sam leaves with a visit still booked: it must not vanish with his column."""
    visit = _book(world, 14)
    type(world.sam).objects.filter(pk=world.sam.pk).update(is_active=False)
    calendar = desk.get("/calendar/?date=2026-12-08").content.decode()
    assert "Sam Rivera" in calendar and "No longer active: move these visits" in calendar
    assert f'data-appointment-id="{visit.pk}" title="Sam Rivera does not work then"' in calendar
    # nothing can be booked in his column: no free time is offered with him
    assert f"practitioner={world.sam.pk}" not in calendar
    assert "Not working then. Move it" in desk.get("/?date=2026-12-08").content.decode()
    page = desk.get(reverse("appointment-detail", args=[visit.pk])).content.decode()
    assert "Does not work then (no longer active here)" in page
    assert 'aria-label="Move to Tue 8 Dec 14:00 with Dr Amara Lee"' in page
    # moved to Dr Lee, the column goes with the last visit in it
    appointment_reschedule(visit, start=visit.start, practitioner=world.dr_lee)
    assert "Sam Rivera" not in desk.get("/calendar/?date=2026-12-08").content.decode()


def test_someone_who_left_without_visits_that_day_has_no_column(desk, world):
    _book(world, 14)
    type(world.sam).objects.filter(pk=world.sam.pk).update(is_active=False)
    assert "Sam Rivera" not in desk.get("/calendar/?date=2026-12-09").content.decode()


def test_a_room_taken_out_of_use_keeps_its_column_while_visits_are_booked_in_it(desk, world):
    visit = _book(world, 14)
    room = visit.room
    type(room).objects.filter(pk=room.pk).update(is_active=False)
    by_room = desk.get("/calendar/?date=2026-12-08&by=room").content.decode()
    assert room.name in by_room and "Not in use: move these visits" in by_room
    assert f'data-appointment-id="{visit.pk}"' in by_room


def test_the_time_off_page_lists_visits_outside_new_hours_and_hands_them_over_at_the_same_times(
    desk, world, rota_change
):
    morning, afternoon = rota_change
    page = desk.get(reverse("time-off")).content.decode()
    assert 'id="off-hours"' in page
    assert "<strong>Sam Rivera</strong> does not work then:" in page and "1 booked visit to move" in page
    assert f'{reverse("appointment-detail", args=[afternoon.pk])}#reschedule">Tue 8 Dec 14:00' in page
    assert reverse("appointment-detail", args=[morning.pk]) not in page
    response = desk.post(
        reverse("off-hours-hand-over", args=[world.sam.pk]), {"to": world.dr_lee.pk}, follow=True
    )
    assert "Moved 1 of 1 visit to Dr Amara Lee; each client will be told." in response.content.decode()
    afternoon.refresh_from_db()
    morning.refresh_from_db()
    assert afternoon.practitioner_id == world.dr_lee.pk and afternoon.start == local(world, 2026, 12, 8, 14)
    assert morning.practitioner_id == world.sam.pk
    moved = afternoon.events.get(action="rescheduled")
    assert moved.details["reason"] == "Sam Rivera not working then"
    assert 'id="off-hours"' not in desk.get(reverse("time-off")).content.decode()


def test_a_visit_the_colleague_cannot_take_stays_and_the_desk_is_told_why(desk, world, rota_change):
    _morning, afternoon = rota_change
    world.keep_lee_busy(local(world, 2026, 12, 8, 14))
    response = desk.post(
        reverse("off-hours-hand-over", args=[world.sam.pk]), {"to": world.dr_lee.pk}, follow=True
    )
    page = response.content.decode()
    assert f"Not moved: Tue 8 Dec 14:00 {afternoon.client.full_name}." in page
    afternoon.refresh_from_db()
    assert afternoon.practitioner_id == world.sam.pk


def test_the_visits_of_someone_who_left_are_handed_over_from_the_same_page(desk, world):
    visits = [_book(world, hour) for hour in (10, 14)]
    type(world.sam).objects.filter(pk=world.sam.pk).update(is_active=False)
    page = desk.get(reverse("time-off")).content.decode()
    assert "<strong>Sam Rivera</strong> is no longer active:" in page and "2 booked visits to move" in page
    desk.post(reverse("off-hours-hand-over", args=[world.sam.pk]), {"to": world.dr_lee.pk})
    assert {v.practitioner_id for v in type(visits[0]).objects.filter(pk__in=[v.pk for v in visits])} == {
        world.dr_lee.pk
    }


def test_handing_over_to_nobody_or_to_themselves_is_refused_in_words(desk, world, rota_change):
    for to in ("", "abc", world.sam.pk):
        response = desk.post(reverse("off-hours-hand-over", args=[world.sam.pk]), {"to": to}, follow=True)
        assert "Pick a colleague from the list to take the visits." in response.content.decode()
    _morning, afternoon = rota_change
    afternoon.refresh_from_db()
    assert afternoon.practitioner_id == world.sam.pk


def test_todays_list_says_what_in_the_next_fortnight_has_nobody_to_see_the_client(desk, world, rota_change):
    _morning, afternoon = rota_change
    today = desk.get("/").content.decode()
    assert "1 visit in the next two weeks has nobody to see the client then" in today
    assert f'<a href="{reverse("time-off")}">Move it</a>' in today
    # another day's list keeps to that day
    assert 'id="to-move"' not in desk.get("/?date=2026-12-09").content.decode()
    appointment_reschedule(afternoon, start=afternoon.start, practitioner=world.dr_lee)
    assert 'id="to-move"' not in desk.get("/").content.decode()


def test_a_visit_further_ahead_is_left_to_the_time_off_page(desk, world):
    visit = appointment_book(
        BookingRequest(
            client=world.client(),
            service=world.microcurrent,
            practitioner=world.sam,
            start=local(world, 2026, 12, 22, 14),
        )
    )
    world.sam.working_hours.update(end_time=dt.time(13))
    assert 'id="to-move"' not in desk.get("/").content.decode()
    assert reverse("appointment-detail", args=[visit.pk]) in desk.get(reverse("time-off")).content.decode()
