"""A client checks themselves in from their visit's page once at the clinic (from 20 minutes before the
visit until it ends); the desk's list and the visit's history say so, and the page tells them what they
must still fill in. The same page gives the visit as a calendar file, the emailed invite's own event."""

import icalendar
import pytest
import time_machine
from django.test import Client as BrowserClient
from django.urls import reverse

from clinic.errors import ClinicError
from tests.booking_world import build_world, local
from tests.test_forms_request import book, forms_world
from treatments.booking import BookingRequest, appointment_book, appointment_cancel, appointment_set_status
from treatments.invites import appointment_uid
from treatments.links import manage_token
from treatments.models import AppointmentEvent, AppointmentStatus

pytestmark = pytest.mark.django_db

# The suite's now is Tuesday 1 December 2026, 07:00 in London.


@pytest.fixture
def world(db):
    return build_world(slug="lumen-arrive")


@pytest.fixture
def visit(world):
    return appointment_book(
        BookingRequest(
            client=world.client(first_name="Olivia", last_name="Smith", email="olivia@example.com"),
            service=world.microcurrent,
            practitioner=world.dr_lee,
            start=local(world, 2026, 12, 1, 10),
        ),
        actor=world.desk.user,
    )


def _page(visit):
    return reverse("public-manage", args=[manage_token(visit)])


def test_at_the_clinic_the_client_checks_in_and_the_desk_sees_it(world, visit, desk):
    with time_machine.travel(local(world, 2026, 12, 1, 9, 45), tick=False):
        public = BrowserClient()
        page = public.get(_page(visit)).content.decode()
        assert "I’m here: check me in" in page
        assert "Confirm I’m coming" not in page
        answer = public.post(_page(visit), {"action": "check_in"}, follow=True)
        text = answer.content.decode()
        assert "You are checked in. Please take a seat: Dr Amara Lee will come for you." in text
        assert "Since 09:45." in text
        visit.refresh_from_db()
        assert visit.status == AppointmentStatus.ARRIVED
        [event] = AppointmentEvent.objects.filter(appointment=visit, action="status:arrived")
        assert event.details == {"from": "booked", "to": "arrived", "by_client": True}
        assert event.actor is None
        day = desk.get(reverse("home")).content.decode()
        assert "By themselves" in day
        history = desk.get(reverse("appointment-detail", args=[visit.pk])).content.decode()
        assert "Checked in by the client, from their visit&#x27;s page" in history


def test_before_the_window_the_page_says_when_and_a_post_is_refused(world, visit):
    public = BrowserClient()
    page = public.get(_page(visit)).content.decode()
    assert "I’m here: check me in" not in page
    assert "You can check in here when you arrive, from 09:40 on Tuesday 1 December." in page
    answer = public.post(_page(visit), {"action": "check_in"}, follow=True)
    assert "You can check in here when you arrive, from 09:40" in answer.content.decode()
    visit.refresh_from_db()
    assert visit.status == AppointmentStatus.BOOKED


def test_once_the_visit_is_over_it_is_refused(world, visit):
    with (
        time_machine.travel(local(world, 2026, 12, 1, 10, 45), tick=False),
        pytest.raises(ClinicError) as refusal,
    ):
        appointment_set_status(visit, status=AppointmentStatus.ARRIVED, by_client=True)
    assert refusal.value.code == "too_late"


def test_a_cancelled_visit_cannot_be_checked_in(world, visit):
    appointment_cancel(visit, actor=world.desk.user)
    with time_machine.travel(local(world, 2026, 12, 1, 9, 50), tick=False):
        with pytest.raises(ClinicError) as refusal:
            appointment_set_status(visit, status=AppointmentStatus.ARRIVED, by_client=True)
        assert refusal.value.code == "not_booked"
        assert "check me in" not in BrowserClient().get(_page(visit)).content.decode()


def test_a_client_sets_no_other_status(world, visit):
    with (
        time_machine.travel(local(world, 2026, 12, 1, 10, 30), tick=False),
        pytest.raises(ClinicError) as refusal,
    ):
        appointment_set_status(visit, status=AppointmentStatus.NOSHOW, by_client=True)
    assert refusal.value.code == "bad_status"
    visit.refresh_from_db()
    assert visit.status == AppointmentStatus.BOOKED


def test_checking_in_twice_keeps_one_check_in(world, visit):
    with time_machine.travel(local(world, 2026, 12, 1, 9, 50), tick=False):
        public = BrowserClient()
        public.post(_page(visit), {"action": "check_in"})
        answer = public.post(_page(visit), {"action": "check_in"}, follow=True)
    assert "You are checked in." in answer.content.decode()
    assert AppointmentEvent.objects.filter(appointment=visit, action="status:arrived").count() == 1


def test_checked_in_with_forms_still_to_fill_the_page_links_them():
    world = forms_world()
    treatment = book(
        world, world.client(first_name="Ada", email="ada@example.com"), local(world, 2026, 12, 1, 11)
    )
    with time_machine.travel(local(world, 2026, 12, 1, 10, 50), tick=False):
        public = BrowserClient()
        before = public.get(_page(treatment)).content.decode()
        assert "Before your treatment, you will be asked to fill in:" in before
        page = public.post(_page(treatment), {"action": "check_in"}, follow=True).content.decode()
    assert "Before your treatment, please fill in: Health questionnaire, Microneedling consent." in page
    assert "Fill them in now" in page and "/clients/forms/" in page


def test_the_visit_as_a_calendar_file_is_the_invites_own_event(world, visit):
    answer = BrowserClient().get(reverse("public-calendar-file", args=[manage_token(visit)]))
    assert answer.status_code == 200
    assert answer["Content-Type"] == "text/calendar; charset=utf-8"
    assert answer["Content-Disposition"] == f'attachment; filename="visit-{visit.pk}.ics"'
    calendar = icalendar.Calendar.from_ical(answer.content)
    assert calendar["METHOD"] == "PUBLISH"
    [event] = calendar.walk("VEVENT")
    assert str(event["UID"]) == appointment_uid(visit)
    assert event["SEQUENCE"] == 0 and str(event["STATUS"]) == "CONFIRMED"
    assert event["DTSTART"].params["TZID"] == "Europe/London"
    assert event.decoded("DTSTART").hour == 10
    [zone] = calendar.walk("VTIMEZONE")
    assert str(zone["TZID"]) == "Europe/London"
    page = BrowserClient().get(_page(visit)).content.decode()
    assert reverse("public-calendar-file", args=[manage_token(visit)]) in page


def test_a_cancelled_visits_calendar_file_says_cancelled(world, visit):
    cancelled = appointment_cancel(visit, actor=world.desk.user)
    calendar = icalendar.Calendar.from_ical(
        BrowserClient().get(reverse("public-calendar-file", args=[manage_token(visit)])).content
    )
    [event] = calendar.walk("VEVENT")
    assert str(event["STATUS"]) == "CANCELLED" and event["SEQUENCE"] == cancelled.sequence


def test_a_bad_link_gets_the_clients_page_not_a_file(world):
    answer = BrowserClient().get(reverse("public-calendar-file", args=["not-a-real-token"]))
    assert answer.status_code == 404
    assert "text/html" in answer["Content-Type"]
