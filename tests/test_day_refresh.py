"""The open day's list keeps itself up to date: it asks every little while for the day's fingerprint
(`day_version`), which changes with what the list shows of the day's visits (one booked, moved,
checked in, cancelled, noted, told of running late; a visit's client signing a form) and of its
schedule (time off, extra hours, a closure, a room or device out of service) and nothing else, then
reloads, or says so while someone is using the page (the browser test)."""

import datetime as dt

import pytest
from django.test import Client as BrowserClient
from django.urls import reverse

from tests.booking_world import build_world, local
from tests.factories import ConsentTemplateFactory, sign_consent
from treatments.booking import (
    BookingRequest,
    appointment_book,
    appointment_cancel,
    appointment_client_note,
    appointment_reschedule,
    appointment_set_status,
    running_late_tell,
)
from treatments.models import AppointmentStatus
from treatments.selectors import day_version

pytestmark = pytest.mark.django_db

# The suite's now is Tuesday 1 December 2026, 07:00 in London.
TODAY = (2026, 12, 1)


@pytest.fixture
def world(db):
    return build_world(slug="lumen-live")


def _book(world, hour, *, day=TODAY, name="Olivia"):
    return appointment_book(
        BookingRequest(
            client=world.client(first_name=name, email=f"{name.lower()}@example.com"),
            service=world.microcurrent,
            practitioner=world.dr_lee,
            start=local(world, *day, hour),
        ),
        actor=world.desk.user,
    )


def _today(world):
    return day_version(world.clinic, local(world, *TODAY, 12).date())


def test_each_change_the_list_shows_changes_the_fingerprint(world):
    seen = {_today(world)}

    def changed():
        now = _today(world)
        assert now not in seen, "the fingerprint did not change"
        seen.add(now)

    ten = _book(world, 10)
    changed()
    eleven = _book(world, 11, name="Ada")
    changed()
    appointment_reschedule(eleven, start=local(world, *TODAY, 14), actor=world.desk.user)
    changed()
    appointment_client_note(ten, note="Parking?")
    changed()
    running_late_tell(world.dr_lee, visit_ids=[ten.pk], minutes=20)
    changed()
    sign_consent(ten.client, ConsentTemplateFactory(clinic=world.clinic, modality="microcurrent"))
    changed()
    appointment_set_status(
        ten, status=AppointmentStatus.ARRIVED, actor=world.desk.user, now=local(world, *TODAY, 9, 55)
    )
    changed()
    appointment_cancel(eleven, actor=world.desk.user)
    changed()


def test_another_days_visits_leave_it_alone(world):
    _book(world, 10)
    before = _today(world)
    tomorrow = _book(world, 10, day=(2026, 12, 2), name="Ada")
    appointment_cancel(tomorrow, actor=world.desk.user)
    assert _today(world) == before


def test_the_page_and_the_address_it_asks_agree(world):
    _book(world, 10)
    desk = BrowserClient()
    desk.force_login(world.desk.user)
    page = desk.get(reverse("home")).content.decode()
    version = _today(world)
    assert f'data-version="{version}"' in page and 'data-url="/day/version/?date=2026-12-01"' in page
    assert 'src="/static/js/day-refresh.js"' in page
    answer = desk.get(reverse("day-version"), {"date": "2026-12-01"})
    assert answer.json() == {"version": version} and answer["Cache-Control"] == "no-store"
    # a mistyped day is today's; nobody signed out learns anything
    assert desk.get(reverse("day-version"), {"date": "yesterday"}).json() == {"version": version}
    assert BrowserClient().get(reverse("day-version")).status_code == 302


def test_the_calendars_week_asks_for_its_seven_days(world):
    desk = BrowserClient()
    desk.force_login(world.desk.user)
    monday = local(world, 2026, 11, 30, 12).date()  # the week of Tuesday 1 December
    page = desk.get(reverse("calendar"), {"view": "week", "date": "2026-12-01"}).content.decode()
    week = day_version(world.clinic, monday, last_day=monday + dt.timedelta(days=6))
    assert f'data-version="{week}"' in page
    assert 'data-url="/day/version/?date=2026-11-30&amp;days=7"' in page and "This week has changed" in page
    _book(world, 10, day=(2026, 12, 3))  # Thursday
    answer = desk.get(reverse("day-version"), {"date": "2026-11-30", "days": "7"}).json()
    assert answer["version"] != week
    assert answer["version"] == day_version(world.clinic, monday, last_day=monday + dt.timedelta(days=6))
    # a day's calendar asks for its day
    day_page = desk.get(reverse("calendar"), {"date": "2026-12-03"}).content.decode()
    assert 'data-url="/day/version/?date=2026-12-03&amp;days=1"' in day_page
    # at most a week is asked for, however many days the address says
    assert desk.get(reverse("day-version"), {"date": "2026-11-30", "days": "999"}).json() == answer


def test_the_days_schedule_changes_the_fingerprint_too(world):
    """Time off (a practitioner gone home ill), extra hours, a closure, a room or a device out of
    service: the calendar draws each, so adding or removing one over the day changes the fingerprint;
    one over another day leaves it alone."""
    from clinic.out_of_service import out_of_service_record, out_of_service_remove
    from clinic.time_off import (
        clinic_closure_record,
        extra_hours_record,
        time_off_record,
        time_off_remove,
    )

    _book(world, 10)
    seen = [_today(world)]

    def changed():
        now = _today(world)
        assert now != seen[-1], "the fingerprint did not change"
        seen.append(now)

    home_ill = time_off_record(
        clinic=world.clinic,
        practitioner=world.dr_lee,
        start=local(world, *TODAY, 13),
        end=local(world, *TODAY, 18),
        reason="Unwell",
    )
    changed()
    extra_hours_record(
        clinic=world.clinic,
        practitioner=world.sam,
        start=local(world, *TODAY, 18),
        end=local(world, *TODAY, 20),
    )
    changed()
    pen_away = out_of_service_record(
        clinic=world.clinic,
        start=local(world, *TODAY, 9),
        end=local(world, *TODAY, 12),
        device=world.pens[0],
    )
    changed()
    out_of_service_remove(clinic=world.clinic, period_id=pen_away.pk)
    changed()
    assert seen[-1] == seen[-3]  # back as before the pen went away: the page shows the same
    time_off_remove(clinic=world.clinic, time_off_id=home_ill.pk)
    changed()
    clinic_closure_record(
        clinic=world.clinic, start=local(world, *TODAY, 16), end=local(world, *TODAY, 23), reason="Burst pipe"
    )
    changed()
    before = _today(world)
    time_off_record(
        clinic=world.clinic,
        practitioner=world.dr_lee,
        start=local(world, 2026, 12, 2, 9),
        end=local(world, 2026, 12, 2, 18),
    )
    assert _today(world) == before


def test_the_fingerprint_takes_two_queries_however_full_the_day(world, django_assert_num_queries):
    with django_assert_num_queries(2):
        _today(world)
    for hour in (9, 10, 11, 12):
        _book(world, hour, name=f"Client{hour}")
    time_off_rows = [local(world, *TODAY, 15), local(world, *TODAY, 16)]
    from clinic.time_off import time_off_record

    time_off_record(clinic=world.clinic, practitioner=world.sam, start=time_off_rows[0], end=time_off_rows[1])
    with django_assert_num_queries(2):
        _today(world)
