"""The front desk records a sick call in the app, and sees at once the booked visits it leaves to move."""

import datetime as dt

import pytest
from django.urls import reverse

from clinic.models import TimeOff
from tests.booking_world import build_world, local
from tests.factories import ClinicFactory, PractitionerFactory
from treatments.booking import BookingRequest, appointment_book

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    return build_world()


def _book(world, practitioner, hour, day=8):
    return appointment_book(
        BookingRequest(
            client=world.client(first_name="Olivia", last_name=f"Smith{hour}"),
            service=world.microcurrent if practitioner == world.dr_lee else world.microneedling,
            practitioner=practitioner,
            start=local(world, 2026, 12, day, hour),
        )
    )


def _record(desk, world, start="2026-12-08T00:00", end="2026-12-09T00:00", reason="Sick", **extra):
    fields = {"practitioner": world.dr_lee.pk, "start": start, "end": end, "reason": reason, **extra}
    return desk.post(reverse("time-off"), fields, follow=True)


def test_a_sick_day_is_recorded_and_the_visits_in_it_are_listed_to_move(desk, world):
    morning, afternoon = _book(world, world.dr_lee, 10), _book(world, world.dr_lee, 15)
    other_day = _book(world, world.dr_lee, 10, day=9)
    sams = _book(world, world.sam, 11)
    response = _record(desk, world)
    page = response.content.decode()
    assert "Saved: Dr Amara Lee off Tue 8 Dec 00:00 – Wed 9 Dec 00:00. 2 booked visits fall in it" in page
    off = TimeOff.objects.get()
    assert (off.staff_member, off.start, off.end, off.reason) == (
        world.dr_lee,
        local(world, 2026, 12, 8, 0),
        local(world, 2026, 12, 9, 0),
        "Sick",
    )
    section = page[page.index(f'id="time-off-{off.pk}"') :].split("</section>")[0]
    for visit in (morning, afternoon):
        assert f'href="{reverse("appointment-detail", args=[visit.pk])}#reschedule"' in section
    for visit in (other_day, sams):
        assert reverse("appointment-detail", args=[visit.pk]) not in section


def test_time_off_ending_before_it_starts_is_refused_in_words_and_nothing_saved(desk, world):
    response = _record(desk, world, start="2026-12-08T17:00", end="2026-12-08T09:00")
    assert response.status_code == 400
    assert "The time off must end after it starts." in response.content.decode()
    assert not TimeOff.objects.exists()


def test_a_mistyped_year_is_refused(desk, world):
    response = _record(desk, world, end="2028-12-09T00:00")
    assert response.status_code == 400
    assert "more than a year of time off" in response.content.decode()
    assert not TimeOff.objects.exists()


@pytest.mark.parametrize(
    "fields",
    [
        {"start": "tomorrow"},
        {"end": ""},
        {"practitioner": "x"},
        {"practitioner": "99999"},
        {"start": "2026-03-29T01:30"},  # London's clocks skip 01:00-02:00 that night
        {"reason": "Sick\x00"},
    ],
)
def test_odd_input_is_refused_with_a_400_and_nothing_saved(desk, world, fields):
    response = _record(desk, world, **fields)
    assert response.status_code == 400
    assert not TimeOff.objects.exists()


def test_the_form_sent_as_it_came_records_no_one_as_off(desk, world):
    """Nobody is chosen beforehand: an accidental click on "Record" does not mark the first name off."""
    page = desk.get(reverse("time-off")).content.decode()
    assert '<option value="" selected>Choose…</option>' in page
    response = desk.post(reverse("time-off"), {"start": "2026-12-08T00:00", "end": "2026-12-09T00:00"})
    assert response.status_code == 400
    assert "Choose who is off." in response.content.decode()
    assert not TimeOff.objects.exists()


def test_another_clinics_practitioner_cannot_be_given_time_off(desk, world):
    theirs = PractitionerFactory(clinic=ClinicFactory(), display_name="Elsewhere")
    response = _record(desk, world, practitioner=theirs.pk)
    assert response.status_code == 400
    assert not TimeOff.objects.exists()


def test_time_off_entered_by_mistake_is_taken_back(desk, world):
    _record(desk, world)
    off = TimeOff.objects.get()
    response = desk.post(reverse("time-off-remove", args=[off.pk]), follow=True)
    assert "Taken back: Dr Amara Lee off Tue 8 Dec 00:00 – Wed 9 Dec 00:00." in response.content.decode()
    assert not TimeOff.objects.exists()
    again = desk.post(reverse("time-off-remove", args=[off.pk]), follow=True)
    assert "That time off was already taken back." in again.content.decode()


def test_another_clinics_time_off_is_neither_shown_nor_taken_back(desk, world):
    elsewhere = build_world(slug="elsewhere")
    theirs = TimeOff.objects.create(
        staff_member=elsewhere.dr_lee, start=local(world, 2026, 12, 8, 0), end=local(world, 2026, 12, 9, 0)
    )
    assert f'id="time-off-{theirs.pk}"' not in desk.get(reverse("time-off")).content.decode()
    desk.post(reverse("time-off-remove", args=[theirs.pk]))
    assert TimeOff.objects.filter(pk=theirs.pk).exists()


def test_the_page_takes_the_same_queries_for_one_time_off_or_ten(desk, world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert desk.get(reverse("time-off")).status_code == 200
        return len(captured)

    _book(world, world.dr_lee, 10)
    _record(desk, world)
    one = queries()
    for day in range(10, 19):
        _book(world, world.dr_lee, 10, day=day)
        _record(desk, world, start=f"2026-12-{day:02d}T00:00", end=f"2026-12-{day + 1:02d}T00:00")
    assert TimeOff.objects.count() == 10
    assert queries() == one


def test_the_times_typed_are_the_clinics_local_times_in_summer_too(desk, world):
    _record(desk, world, start="2027-06-08T09:00", end="2027-06-08T13:00", reason="Training")
    off = TimeOff.objects.get()
    assert off.start.astimezone(dt.UTC) == dt.datetime(2027, 6, 8, 8, 0, tzinfo=dt.UTC)  # 09:00 BST
    assert off.end == local(world, 2027, 6, 8, 13)


def test_the_visits_in_a_time_off_are_handed_over_to_a_colleague_where_they_are_free(desk, world):
    morning, afternoon = _book(world, world.dr_lee, 10), _book(world, world.dr_lee, 15)
    _book(world, world.sam, 15)  # Sam is busy at 15:00
    _record(desk, world)
    off = TimeOff.objects.get()
    response = desk.post(reverse("time-off-hand-over", args=[off.pk]), {"to": world.sam.pk}, follow=True)
    page = response.content.decode()
    assert "Moved 1 of 2 visits to Sam Rivera; each client will be told." in page
    assert "Not moved: Tue 8 Dec 15:00 Olivia Smith15. Sam Rivera is already booked 14:45" in page
    morning.refresh_from_db()
    afternoon.refresh_from_db()
    assert (morning.practitioner, morning.start) == (world.sam, local(world, 2026, 12, 8, 10))
    assert afternoon.practitioner == world.dr_lee
    assert morning.events.get(action="rescheduled").details["reason"] == "Dr Amara Lee away"
    # and what is left to move is what the page lists under the time off
    section = page[page.index(f'id="time-off-{off.pk}"') :].split("</section>")[0]
    assert reverse("appointment-detail", args=[afternoon.pk]) in section
    assert reverse("appointment-detail", args=[morning.pk]) not in section


@pytest.mark.parametrize("to", ["", "x", "99999", "lee"])
def test_handing_over_to_no_colleague_is_refused_in_words(desk, world, to):
    visit = _book(world, world.dr_lee, 10)
    _record(desk, world)
    off = TimeOff.objects.get()
    choice = world.dr_lee.pk if to == "lee" else to
    response = desk.post(reverse("time-off-hand-over", args=[off.pk]), {"to": choice}, follow=True)
    assert "Pick a colleague from the list to take the visits." in response.content.decode()
    visit.refresh_from_db()
    assert visit.practitioner == world.dr_lee and visit.sequence == 0


def test_the_clinic_closed_for_a_bank_holiday_puts_everyone_off(desk, world):
    visit = _book(world, world.sam, 10, day=25)
    response = _record(
        desk,
        world,
        start="2026-12-25T00:00",
        end="2026-12-27T00:00",
        reason="Christmas",
        practitioner="everyone",
    )
    offs = TimeOff.objects.filter(start=local(world, 2026, 12, 25, 0)).order_by("staff_member__display_name")
    assert [(o.staff_member.display_name, o.reason) for o in offs] == [
        ("Dr Amara Lee", "Christmas"),
        ("Sam Rivera", "Christmas"),
    ]
    page = response.content.decode()
    assert "Saved: the clinic is closed Fri 25 Dec 00:00 – Sun 27 Dec 00:00." in page
    assert "1 booked visit falls in it: move it below." in page
    assert f"/appointments/{visit.pk}/#reschedule" in page
    from treatments.availability import available_slots

    assert (
        available_slots(
            service=world.microcurrent, start_date=dt.date(2026, 12, 25), end_date=dt.date(2026, 12, 26)
        )
        == []
    )


def test_who_is_off_must_be_one_of_the_list(desk, world):
    response = _record(desk, world, practitioner="999999")
    assert response.status_code == 400
    assert "Choose who is off." in response.content.decode()
    assert not TimeOff.objects.exists()
