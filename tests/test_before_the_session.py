"""The visit's page tells the practitioner what the client's latest intake says for this service."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from clients.models import ClientCondition, IntakeQuestionnaire, IntakeResponse
from tests.booking_world import build_world, local
from treatments.booking import BookingRequest, appointment_book, appointment_cancel

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    world = build_world()
    world.intake = IntakeQuestionnaire.objects.create(
        clinic=world.clinic, version=1, title="Health questionnaire", is_current=True
    )
    return world


def _intake(world, client, *conditions, days_ago=1):
    response = IntakeResponse.objects.create(
        client=client,
        questionnaire=world.intake,
        answers={},
        submitted_at=timezone.now() - dt.timedelta(days=days_ago),
    )
    for code in conditions:
        ClientCondition.objects.create(response=response, client=client, code=code)


def _page(client, world, visit):
    client.force_login(world.dr_lee.user)
    return client.get(reverse("appointment-detail", args=[visit.pk])).content.decode()


def _book(world, client, **extra):
    return appointment_book(
        BookingRequest(
            client=client,
            service=world.microneedling,
            practitioner=world.dr_lee,
            start=local(world, 2026, 12, 8, 10),
            **extra,
        )
    )


def test_a_pregnancy_reported_after_booking_says_do_not_treat(client, world):
    olivia = world.client(first_name="Olivia")
    _intake(world, olivia, days_ago=10)
    visit = _book(world, olivia)
    # then a new intake, after the booking, reports a pregnancy
    _intake(world, olivia, "pregnancy", days_ago=0)
    page = _page(client, world, visit)
    assert "Do not treat: Pregnant (Microneedling), an absolute contraindication" in page


def test_a_relative_contraindication_shows_with_the_reason_accepted_at_booking(client, world):
    olivia = world.client(first_name="Olivia")
    _intake(world, olivia, "cold-sores")
    visit = _book(world, olivia, relative_contraindication_reason="On antiviral cover since Monday")
    page = _page(client, world, visit)
    assert "Relative contraindication: History of cold sores (Microneedling)." in page
    assert "At booking: Relative contraindication accepted (History of cold sores" in page
    assert "On antiviral cover since Monday" in page


def test_missing_forms_are_named_and_a_clear_intake_says_so(client, world):
    without = _book(world, world.client(first_name="Nia"))
    assert "Still to fill or sign before the visit: Health questionnaire." in _page(client, world, without)
    clear = world.client(first_name="Ava")
    _intake(world, clear)
    visit = appointment_book(
        BookingRequest(
            client=clear,
            service=world.microneedling,
            practitioner=world.sam,
            start=local(world, 2026, 12, 8, 10),
        )
    )
    assert "Intake and consent are in order" in _page(client, world, visit)


def test_a_cancelled_visit_has_no_such_section(client, world):
    visit = _book(world, world.client(first_name="Nia"))
    appointment_cancel(visit)
    assert 'id="before-the-session"' not in _page(client, world, visit)


def test_once_the_visit_is_completed_the_section_is_gone(client, world):
    import time_machine

    from treatments.booking import appointment_set_status
    from treatments.models import AppointmentStatus

    olivia = world.client(first_name="Olivia")
    visit = _book(world, olivia)
    assert 'id="before-the-session"' in _page(client, world, visit)
    with time_machine.travel(local(world, 2026, 12, 8, 10, 5), tick=False):
        appointment_set_status(visit, status=AppointmentStatus.ARRIVED)
        # checked in, the session about to begin: still shown
        assert "Still to fill or sign before the visit" in _page(client, world, visit)
    with time_machine.travel(local(world, 2026, 12, 8, 11, 5), tick=False):
        appointment_set_status(visit, status=AppointmentStatus.FULFILLED)
        assert 'id="before-the-session"' not in _page(client, world, visit)
