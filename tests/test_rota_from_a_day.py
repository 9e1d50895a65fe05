"""A practitioner's new rota from a day: entered ahead, it holds from that day on, and their earlier
hours until then. Availability, booking, the flags on visits booked before it, the calendar and the
report all read the hours in force on each day (`clinic.models.working_hours_on`)."""

import datetime as dt

import pytest
from django.forms.models import inlineformset_factory
from django.test import Client as BrowserClient
from django.urls import reverse
from django.utils import timezone

from clinic.admin import WorkingHoursFormSet
from clinic.errors import ClinicError
from clinic.models import StaffMember, WorkingHours, working_hours_on
from tests.booking_world import build_world, local
from treatments.availability import available_slots
from treatments.booking import BookingRequest, appointment_book
from treatments.report import clinic_report
from treatments.selectors import outside_working_hours

pytestmark = pytest.mark.django_db

FRIDAY, SATURDAY, MONDAY = dt.date(2026, 12, 11), dt.date(2026, 12, 12), dt.date(2026, 12, 14)


@pytest.fixture
def world(db):
    """Sam works every day 09:00–17:00; from Monday 14 December, weekdays 12:00–19:00 only."""
    world = build_world()
    WorkingHours.objects.bulk_create(
        WorkingHours(
            staff_member=world.sam,
            weekday=day,
            start_time=dt.time(12),
            end_time=dt.time(19),
            applies_from=MONDAY,
        )
        for day in range(5)
    )
    return world


def sams_days(world, first, last):
    """Each day's first start and last end of Sam's free microcurrent times, local clock."""
    days = {}
    for slot in available_slots(
        service=world.microcurrent, start_date=first, end_date=last, practitioner_id=world.sam.pk
    ):
        start, end = slot.start.astimezone(world.clinic.zone), slot.end.astimezone(world.clinic.zone)
        first_start, last_end = days.get(start.date(), (start.time(), end.time()))
        days[start.date()] = (min(first_start, start.time()), max(last_end, end.time()))
    return days


def test_the_hours_in_force_are_those_of_the_latest_rota_begun(world):
    hours = list(world.sam.working_hours.all())
    assert [(h.start_time, h.applies_from) for h in working_hours_on(hours, FRIDAY)] == [(dt.time(9), None)]
    assert [(h.start_time, h.applies_from) for h in working_hours_on(hours, MONDAY)] == [
        (dt.time(12), MONDAY)
    ]
    assert working_hours_on(hours, MONDAY + dt.timedelta(days=5)) == []  # no Saturday in the new rota
    starting_later = [h for h in hours if h.applies_from]  # a practitioner who starts in the new year
    assert working_hours_on(starting_later, FRIDAY) == []


def test_availability_offers_each_day_the_hours_then_in_force(world):
    days = sams_days(world, FRIDAY, MONDAY + dt.timedelta(days=6))
    assert days[FRIDAY] == (dt.time(9), dt.time(16, 45))  # 45 minutes and 10 after, to 17:00
    assert days[SATURDAY][0] == dt.time(9) and days[dt.date(2026, 12, 13)][0] == dt.time(9)
    assert days[MONDAY] == (dt.time(12), dt.time(18, 45))
    assert dt.date(2026, 12, 19) not in days and dt.date(2026, 12, 20) not in days  # weekends off from then


def test_booking_follows_the_rota_of_the_visits_day(world):
    def book(day, hour):
        return appointment_book(
            BookingRequest(
                client=world.client(),
                service=world.microcurrent,
                practitioner=world.sam,
                start=local(world, day.year, day.month, day.day, hour),
            )
        )

    assert book(FRIDAY, 10).pk
    with pytest.raises(ClinicError) as refused:
        book(MONDAY, 10)
    assert refused.value.code == "outside_working_hours"
    assert book(MONDAY, 18).pk


def test_visits_booked_before_a_new_rota_that_it_no_longer_holds_are_flagged(world):
    WorkingHours.objects.filter(staff_member=world.sam, applies_from=MONDAY).delete()
    early = appointment_book(
        BookingRequest(
            client=world.client(),
            service=world.microcurrent,
            practitioner=world.sam,
            start=local(world, 2026, 12, 21, 10),
        )
    )
    before = appointment_book(
        BookingRequest(
            client=world.client(),
            service=world.microcurrent,
            practitioner=world.sam,
            start=local(world, 2026, 12, 11, 10),
        )
    )
    assert outside_working_hours([early, before], world.clinic.zone) == set()
    WorkingHours.objects.create(
        staff_member=world.sam, weekday=0, start_time=dt.time(12), end_time=dt.time(19), applies_from=MONDAY
    )
    assert outside_working_hours([early, before], world.clinic.zone) == {early.pk}


def test_the_calendar_and_the_report_read_each_days_rota(world):
    report = clinic_report(world.clinic, first_day=FRIDAY, last_day=MONDAY)
    sam = next(line for line in report.lines if line.name == "Sam Rivera")
    assert sam.open_hours == 8 * 3 + 7  # Friday to Sunday of the old rota, Monday of the new
    browser = BrowserClient()
    browser.force_login(world.desk.user)
    saturday_after = browser.get(reverse("calendar"), {"date": "2026-12-19"}).content.decode()
    saturday_before = browser.get(reverse("calendar"), {"date": "2026-12-12"}).content.decode()
    assert saturday_after.count("Not working") == saturday_before.count("Not working") + 1  # Sam


def test_one_rotas_hours_on_a_day_do_not_overlap(world):
    HoursFormSet = inlineformset_factory(
        StaffMember,
        WorkingHours,
        formset=WorkingHoursFormSet,
        fields=["weekday", "start_time", "end_time", "applies_from"],
        extra=2,
    )
    member = world.manager  # no hours yet

    def rows(*windows):
        data = {"working_hours-TOTAL_FORMS": str(len(windows)), "working_hours-INITIAL_FORMS": "0"}
        for n, (start, end, since) in enumerate(windows):
            data |= {
                f"working_hours-{n}-weekday": "0",
                f"working_hours-{n}-start_time": start,
                f"working_hours-{n}-end_time": end,
                f"working_hours-{n}-applies_from": since,
            }
        return HoursFormSet(data, instance=member)

    overlapping = rows(("09:00", "13:00", ""), ("12:00", "17:00", ""))
    assert not overlapping.is_valid()
    assert overlapping.non_form_errors() == [
        "Two of the hours on Monday overlap (09:00–13:00 and 12:00–17:00): make them one, or end one before "
        "the other starts."
    ]
    assert rows(("09:00", "13:00", ""), ("14:00", "17:00", "")).is_valid()  # a lunch break
    assert rows(("09:00", "17:00", ""), ("12:00", "19:00", "2026-12-14")).is_valid()  # two rotas


def test_the_time_off_page_says_each_practitioners_hours_and_the_rota_to_come(world):
    from clinic.wording import rotas_said, weekdays_said

    assert weekdays_said([0, 1, 2, 3, 4]) == "Mon–Fri"
    assert weekdays_said([0, 2, 5, 6]) == "Mon, Wed, Sat, Sun"
    assert weekdays_said([0, 1, 3, 4, 5]) == "Mon, Tue, Thu–Sat"
    WorkingHours.objects.create(
        staff_member=world.sam, weekday=5, start_time=dt.time(10), end_time=dt.time(13), applies_from=MONDAY
    )
    WorkingHours.objects.create(
        staff_member=world.sam, weekday=5, start_time=dt.time(14), end_time=dt.time(16), applies_from=MONDAY
    )
    hours = list(world.sam.working_hours.all())
    new_rota = "Mon–Fri 12:00–19:00; Sat 10:00–13:00 and 14:00–16:00"
    assert rotas_said(hours, FRIDAY) == [(None, "Mon–Sun 09:00–17:00"), (MONDAY, new_rota)]
    assert rotas_said(hours, MONDAY) == [(None, new_rota)]  # in force: no date to say any more

    browser = BrowserClient()
    browser.force_login(world.desk.user)
    page = browser.get(reverse("time-off")).content.decode()
    sams = page[page.index("Sam Rivera", page.index('id="rotas"')) :]
    sams = sams[: sams.index("</tr>")]
    assert "Mon–Sun 09:00–17:00" in sams and "From Mon 14 Dec 2026:</strong> " + new_rota in sams


@pytest.fixture
def admin_site(client, world):
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_superuser("owner", "owner@example.com", "pw"))
    return client


def test_a_new_rota_saved_in_the_admin_offers_the_waitlist_the_times_it_opens(admin_site, world):
    """Nadia waits for a microcurrent visit with Sam starting 17:30–18:30 in the week of 14 December:
    Sam works to 17:00. A new rota from that Monday, 12:00–19:00 on Mondays, opens Monday evening:
    she is offered it, once (saving the page again opens nothing new)."""
    from clinic.models import OutboxMessage, OutboxStatus
    from tests.test_working_hours_clash import _admin_change
    from treatments.waitlist import OFFER, waitlist_add

    WorkingHours.objects.filter(staff_member=world.sam, applies_from__isnull=False).delete()
    nadia = world.client(first_name="Nadia", email="nadia@example.com")
    waitlist_add(
        client=nadia,
        service=world.microcurrent,
        practitioner=world.sam,
        first_day=MONDAY,
        last_day=MONDAY + dt.timedelta(days=4),
        from_time=dt.time(17, 30),
        until_time=dt.time(18, 30),
    )
    offers = OutboxMessage.objects.filter(client_id=nadia.pk, template_key=OFFER)
    assert not offers.exists()

    page = _admin_change(
        admin_site,
        world.sam,
        **{
            "working_hours-TOTAL_FORMS": "8",
            "working_hours-7-weekday": "0",
            "working_hours-7-start_time": "12:00",
            "working_hours-7-end_time": "19:00",
            "working_hours-7-applies_from": "2026-12-14",
        },
    )
    assert "was changed successfully" in page
    assert WorkingHours.objects.filter(staff_member=world.sam, applies_from=MONDAY).count() == 1
    (offer,) = offers
    assert offer.context["times"] == [
        "Monday 14 December at 17:30 with Sam Rivera",
        "Monday 14 December at 17:45 with Sam Rivera",
        "Monday 14 December at 18:00 with Sam Rivera",
    ]

    offers.update(status=OutboxStatus.SENT, sent_at=timezone.now())  # gone: another would be one more email
    # a change that opens nothing for her: the new rota's Mondays start at 13:00
    assert "was changed successfully" in _admin_change(
        admin_site, world.sam, **{"working_hours-7-start_time": "13:00"}
    )
    assert WorkingHours.objects.get(staff_member=world.sam, applies_from=MONDAY).start_time == dt.time(13)
    assert offers.count() == 1
