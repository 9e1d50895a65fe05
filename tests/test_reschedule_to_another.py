"""Moving a visit to another practitioner, and a move checked again as a booking is.

Dr Lee is off sick: the front desk moves her visits to Sam, at the same time or another. The move
is checked as a booking would be, with whoever will see the client and on the new day.
"""

import datetime as dt

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from clients.models import ClientCondition, IntakeQuestionnaire, IntakeResponse
from clinic.errors import ClinicError, ConflictError
from clinic.models import OutboxMessage, PractitionerQualification, TimeOff
from clinic.outbox import render_outbox_message
from tests.booking_world import build_world, local
from tests.factories import PractitionerFactory
from treatments.booking import BookingRequest, appointment_book, appointment_reschedule

pytestmark = pytest.mark.django_db
TEN = (2026, 12, 8, 10)  # Tuesday 8 December, 10:00 in London


@pytest.fixture
def world(db):
    return build_world()


def _book(world, *, service=None, start=None, practitioner=None, client=None):
    return appointment_book(
        BookingRequest(
            client=client or world.client(first_name="Olivia", email="olivia@example.com"),
            service=service or world.microcurrent,
            practitioner=practitioner or world.dr_lee,
            start=start or local(world, *TEN),
        )
    )


def test_a_visit_moves_to_another_practitioner_at_the_same_time(world):
    visit = _book(world)
    moved = appointment_reschedule(visit, start=visit.start, practitioner=world.sam, reason="Dr Lee unwell")
    moved.refresh_from_db()
    assert moved.practitioner == world.sam and moved.start == visit.start
    assert moved.sequence == visit.sequence + 1
    event = moved.events.get(action="rescheduled")
    assert event.details["practitioner_from"] == "Dr Amara Lee"
    assert event.details["practitioner_to"] == "Sam Rivera"
    # the client is told who they will see, with the calendar invite updated (SEQUENCE 1)
    notice = OutboxMessage.objects.get(dedupe_key=f"appointment:{visit.pk}:rescheduled:{moved.sequence}")
    assert notice.context["practitioner_name"] == "Sam Rivera"
    assert "SEQUENCE:1" in notice.context["ics"]
    email = render_outbox_message(notice)
    assert (
        email.subject
        == "Changed: Microcurrent workout is on Tuesday 8 December 2026 at 10:00 (GMT) with Sam Rivera"
    )
    assert "has changed. It is now:\n\n  Microcurrent workout with Sam Rivera" in email.body
    # and Dr Lee's time is free again: another client can take it
    assert world.keep_lee_busy(visit.start).practitioner == world.dr_lee


def test_the_same_time_with_the_same_practitioner_is_not_a_move(world):
    visit = _book(world)
    with pytest.raises(ClinicError) as refused:
        appointment_reschedule(visit, start=visit.start, practitioner=world.dr_lee)
    assert refused.value.code == "same_time"


def test_a_practitioner_not_qualified_for_the_service_is_refused(world):
    visit = _book(world, service=world.deep_microneedling)  # 2.0 mm; Sam is qualified to 1.0 mm
    with pytest.raises(ClinicError) as refused:
        appointment_reschedule(visit, start=visit.start, practitioner=world.sam)
    assert refused.value.code == "not_qualified"
    assert refused.value.message == (
        "Sam Rivera cannot perform “Acne scar microneedling”: qualified for microneedling to 1.0 mm, "
        "the service needs 2.0 mm."
    )
    visit.refresh_from_db()
    assert visit.practitioner == world.dr_lee and visit.sequence == 0


def test_a_practitioner_busy_or_off_then_is_refused(world):
    visit = _book(world)
    _book(
        world,
        practitioner=world.sam,
        client=world.client(),
        start=local(world, *TEN),
        service=world.microneedling,
    )
    with pytest.raises(ConflictError) as taken:
        appointment_reschedule(visit, start=visit.start, practitioner=world.sam)
    assert taken.value.code == "practitioner_taken"
    priya = PractitionerFactory(clinic=world.clinic, display_name="Nurse Priya Shah")  # 09:00-17:00
    PractitionerQualification.objects.create(staff_member=priya, modality="microcurrent")
    with pytest.raises(ClinicError) as late:
        appointment_reschedule(visit, start=local(world, 2026, 12, 8, 16, 30), practitioner=priya)
    assert late.value.code == "outside_working_hours"
    TimeOff.objects.create(
        staff_member=priya,
        start=local(world, 2026, 12, 8, 0),
        end=local(world, 2026, 12, 9, 0),
        reason="Leave",
    )
    with pytest.raises(ClinicError) as off:
        appointment_reschedule(visit, start=visit.start, practitioner=priya)
    assert off.value.code == "practitioner_off"
    visit.refresh_from_db()
    assert visit.practitioner == world.dr_lee and visit.sequence == 0


def test_a_move_into_a_dated_contraindication_is_refused(world):
    # given Olivia's last isotretinoin dose on 1 July 2026 (microneedling waits 180 days: until 28 December)
    questionnaire = IntakeQuestionnaire.objects.create(
        clinic=world.clinic, version=1, title="Health", is_current=True
    )
    olivia = world.client(first_name="Olivia", last_name="Smith", email="olivia@example.com")
    response = IntakeResponse.objects.create(client=olivia, questionnaire=questionnaire, answers={})
    ClientCondition.objects.create(
        response=response, client=olivia, code="isotretinoin", noted_on=dt.date(2026, 7, 1)
    )
    visit = _book(world, service=world.microneedling, client=olivia, start=local(world, 2027, 1, 5, 10))
    # when the desk moves her visit to 21 December, then it is refused as a booking then would be
    with pytest.raises(ClinicError) as refused:
        appointment_reschedule(visit, start=local(world, 2026, 12, 21, 10))
    assert refused.value.code == "contraindicated"
    assert refused.value.message.startswith(
        "Olivia Smith cannot have “Microneedling facial” on Mon 21 Dec 2026:"
    )
    visit.refresh_from_db()
    assert visit.start == local(world, 2027, 1, 5, 10)


def test_the_api_moves_to_another_practitioner(world):
    visit = _book(world)
    client = APIClient()
    client.force_authenticate(world.desk.user)
    url = f"/api/v1/appointments/{visit.pk}/reschedule/"
    response = client.post(
        url, {"start": visit.start.isoformat(), "practitioner": world.sam.pk}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["practitioner"] == world.sam.pk
    theirs = PractitionerFactory(clinic=build_world(slug="harbour-like").clinic)
    refused = client.post(url, {"start": visit.start.isoformat(), "practitioner": theirs.pk}, format="json")
    assert refused.status_code == 400
    assert "practitioner" in refused.json()


def test_the_page_offers_the_other_practitioners_free_times_and_moves_there(client, world):
    visit = _book(world)
    client.force_login(world.desk.user)
    page = client.get(
        reverse("appointment-detail", args=[visit.pk]), {"with": world.sam.pk, "date": "2026-12-08"}
    ).content.decode()
    assert 'aria-label="Move to Tue 8 Dec 10:00 with Sam Rivera"' in page  # the same time, with Sam
    response = client.post(
        reverse("appointment-action", args=[visit.pk, "reschedule"]),
        {"reschedule-start": "2026-12-08T10:00", "reschedule-practitioner": world.sam.pk},
        follow=True,
    )
    content = response.content.decode()
    assert "Moved to Tue 08 Dec 10:00 with Sam Rivera." in content
    assert "Moved at Tue 08 Dec 10:00, from Dr Amara Lee to Sam Rivera" in content
    visit.refresh_from_db()
    assert visit.practitioner == world.sam


def test_the_page_refuses_a_practitioner_of_another_clinic_in_words(client, world):
    visit = _book(world)
    theirs = PractitionerFactory(clinic=build_world(slug="elsewhere").clinic)
    client.force_login(world.desk.user)
    response = client.post(
        reverse("appointment-action", args=[visit.pk, "reschedule"]),
        {"reschedule-start": "2026-12-08T11:00", "reschedule-practitioner": theirs.pk},
        follow=True,
    )
    assert response.status_code == 200
    assert "Pick who the client will see from the list." in response.content.decode()
    visit.refresh_from_db()
    assert visit.practitioner == world.dr_lee and visit.start == local(world, *TEN)


def test_a_day_with_nothing_free_points_to_the_next_free_time_with_that_practitioner(client, world):
    visit = _book(world)
    TimeOff.objects.create(
        staff_member=world.sam, start=local(world, 2026, 12, 9, 0), end=local(world, 2026, 12, 11, 0)
    )
    client.force_login(world.desk.user)
    page = client.get(
        reverse("appointment-detail", args=[visit.pk]), {"with": world.sam.pk, "date": "2026-12-09"}
    ).content.decode()
    assert "No free time with Sam Rivera on Wednesday 9 December." in page
    assert f'href="?with={world.sam.pk}&date=2026-12-11#reschedule">Friday 11 December at 09:00</a>' in page
