"""Extra hours: a practitioner works outside their weekly hours once (covers a Saturday, stays late).

They are bookable like the weekly hours, everywhere those count (availability, booking, the calendar,
the flags on visits), time off still wins, and taking them back flags the visits booked in them.
"""

import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clinic.errors import ClinicError, ConflictError
from clinic.models import ExtraHours, OutboxMessage, TimeOff
from clinic.time_off import extra_hours_record
from tests.booking_world import build_world, local
from treatments.availability import available_slots
from treatments.booking import BookingRequest, appointment_book
from treatments.selectors import outside_working_hours
from treatments.waitlist import waitlist_add

pytestmark = pytest.mark.django_db

MONDAY = dt.date(2026, 12, 7)
SATURDAY = dt.date(2026, 12, 12)


@pytest.fixture
def world(db):
    return build_world()


def _extra(world, start, end, who=None):
    return extra_hours_record(clinic=world.clinic, practitioner=who or world.sam, start=start, end=end)


def _sam_starts(world, day) -> list[str]:
    slots = available_slots(
        service=world.microcurrent, start_date=day, end_date=day, practitioner_id=world.sam.pk
    )
    return [f"{s.start.astimezone(world.clinic.zone):%H:%M}" for s in slots]


def _book_sam(world, day, hour, minute=0):
    return appointment_book(
        BookingRequest(
            client=world.client(),
            service=world.microcurrent,
            practitioner=world.sam,
            start=dt.datetime.combine(day, dt.time(hour, minute), tzinfo=world.clinic.zone),
        )
    )


def test_a_late_evening_is_bookable_and_joins_the_day_it_follows(world):
    # microcurrent: 45 minutes and 10 after; Sam works 09:00–17:00
    assert _sam_starts(world, MONDAY)[-1] == "16:00"
    _extra(world, local(world, 2026, 12, 7, 17), local(world, 2026, 12, 7, 19))
    starts = _sam_starts(world, MONDAY)
    # one stretch 09:00–19:00: 16:30 runs across five o'clock, and the last start ends by seven
    assert "16:30" in starts and "17:30" in starts
    assert starts[-1] == "18:00"
    assert len(starts) == len(set(starts))  # no time offered twice


def test_a_day_not_worked_is_bookable_in_its_extra_hours_only(world):
    world.sam.working_hours.filter(weekday=SATURDAY.weekday()).delete()
    assert _sam_starts(world, SATURDAY) == []
    _extra(world, local(world, 2026, 12, 12, 10), local(world, 2026, 12, 12, 12))
    assert _sam_starts(world, SATURDAY) == ["10:00", "10:15", "10:30", "10:45", "11:00"]


def test_booking_takes_the_extra_hours_and_refuses_past_them(world):
    _extra(world, local(world, 2026, 12, 7, 17), local(world, 2026, 12, 7, 19))
    across_five = _book_sam(world, MONDAY, 16, 30)
    assert across_five.status == "booked"
    with pytest.raises(ConflictError, match="Sam Rivera does not work Mon 07 Dec 18:30–19:25"):
        _book_sam(world, MONDAY, 18, 30)


def test_time_off_still_wins_over_extra_hours(world):
    _extra(world, local(world, 2026, 12, 7, 17), local(world, 2026, 12, 7, 19))
    TimeOff.objects.create(
        staff_member=world.sam, start=local(world, 2026, 12, 7, 17), end=local(world, 2026, 12, 7, 19)
    )
    assert "17:30" not in _sam_starts(world, MONDAY)
    with pytest.raises(ConflictError, match="Sam Rivera is off"):
        _book_sam(world, MONDAY, 17, 30)


def test_a_visit_in_extra_hours_is_not_flagged_until_they_are_taken_back(desk, world):
    extra = _extra(world, local(world, 2026, 12, 7, 17), local(world, 2026, 12, 7, 19))
    visit = _book_sam(world, MONDAY, 17, 30)
    assert outside_working_hours([visit], world.clinic.zone) == set()
    response = desk.post(reverse("extra-hours-remove", args=[extra.pk]), follow=True)
    page = response.content.decode()
    assert "Taken back: Sam Rivera&#x27;s extra hours" in page
    assert "1 booked visit now falls outside their hours: move it below." in page
    assert outside_working_hours([visit], world.clinic.zone) == {visit.pk}
    assert not ExtraHours.objects.exists()


def test_the_desk_records_extra_hours_and_the_waitlist_hears_of_them(desk, world):
    olivia = world.client(first_name="Olivia", email="olivia@example.com")
    waitlist_add(
        client=olivia,
        service=world.microcurrent,
        practitioner=world.sam,
        first_day=MONDAY,
        last_day=MONDAY,
        from_time=dt.time(17, 30),
    )
    response = desk.post(
        reverse("extra-hours"),
        {
            "extra-practitioner": world.sam.pk,
            "extra-start": "2026-12-07T17:00",
            "extra-end": "2026-12-07T19:00",
            "extra-reason": "Late clinic",
        },
        follow=True,
    )
    page = response.content.decode()
    assert "Saved: Sam Rivera works" in page
    assert "1 client on the waitlist emailed the link to book." in page
    assert "(Late clinic)" in page
    [offer] = OutboxMessage.objects.filter(template_key="waitlist_offer")
    assert offer.context["times"][0] == "Monday 7 December at 17:30 with Sam Rivera"
    calendar = desk.get(reverse("calendar"), {"date": "2026-12-07"}).content.decode()
    assert 'aria-label="Book Sam Rivera at 18:00"' in calendar
    assert "Extra 17:00–19:00 (Late clinic)" in calendar
    assert 'aria-label="Book Dr Amara Lee at 18:00"' not in calendar


@pytest.mark.parametrize(
    ("start", "end", "said"),
    [
        ((2026, 12, 7, 19), (2026, 12, 7, 17), "must end after they start"),
        ((2026, 12, 7, 6), (2026, 12, 7, 23), "more than 16 hours"),
        ((2026, 11, 30, 17), (2026, 11, 30, 19), "Those hours are over"),
        ((2026, 12, 7, 18), (2026, 12, 7, 20), "Sam Rivera already has extra hours Mon 07 Dec 17:00–19:00"),
    ],
)
def test_extra_hours_that_make_no_sense_are_refused_in_words(desk, world, start, end, said):
    _extra(world, local(world, 2026, 12, 7, 17), local(world, 2026, 12, 7, 19))
    with pytest.raises(ClinicError, match=said):
        _extra(world, local(world, *start), local(world, *end))
    response = desk.post(
        reverse("extra-hours"),
        {
            "extra-practitioner": world.sam.pk,
            "extra-start": local(world, *start).strftime("%Y-%m-%dT%H:%M"),
            "extra-end": local(world, *end).strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert response.status_code == 400
    assert said.replace("’", "'") in response.content.decode().replace("&#x27;", "'")
    assert ExtraHours.objects.count() == 1


def test_the_database_keeps_extra_hours_to_one_shift(world):
    with pytest.raises(IntegrityError), transaction.atomic():
        ExtraHours.objects.create(
            staff_member=world.sam, start=local(world, 2026, 12, 7, 6), end=local(world, 2026, 12, 7, 23)
        )


def test_availability_takes_the_same_queries_with_one_extra_stretch_or_five(world):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            available_slots(
                service=world.microcurrent, start_date=MONDAY, end_date=MONDAY + dt.timedelta(days=6)
            )
        return len(captured)

    _extra(world, local(world, 2026, 12, 7, 17), local(world, 2026, 12, 7, 19))
    one = queries()
    for day in (8, 9, 10, 11):
        _extra(world, local(world, 2026, 12, day, 17), local(world, 2026, 12, day, 19), who=world.dr_lee)
    assert queries() == one


def test_extra_hours_entered_in_the_admin_are_offered_to_the_waitlist(client, world):
    from django.contrib.auth.models import User

    from tests.test_working_hours_clash import _admin_change

    waitlist_add(
        client=world.client(first_name="Olivia", email="olivia@example.com"),
        service=world.microcurrent,
        practitioner=world.sam,
        first_day=MONDAY,
        last_day=MONDAY,
        from_time=dt.time(17, 30),
    )
    client.force_login(User.objects.create_superuser("owner", "owner@example.com", "pw"))
    _admin_change(
        client,
        world.sam,
        **{
            "extra_hours-TOTAL_FORMS": "1",
            "extra_hours-0-start_0": "2026-12-07",
            "extra_hours-0-start_1": "17:00",
            "extra_hours-0-end_0": "2026-12-07",
            "extra_hours-0-end_1": "19:00",
            "extra_hours-0-reason": "Late clinic",
        },
    )
    assert ExtraHours.objects.get().reason == "Late clinic"
    [offer] = OutboxMessage.objects.filter(template_key="waitlist_offer")
    assert offer.context["times"][0] == "Monday 7 December at 17:30 with Sam Rivera"
