"""PostgreSQL itself refuses overlapping active appointments, whatever code path writes them."""

import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction

from clinic.errors import ConflictError
from tests.booking_world import build_world, local
from tests.factories import AppointmentFactory
from treatments import booking
from treatments.models import Appointment

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    if connection.vendor != "postgresql":
        pytest.skip("Exclusion constraints exist on PostgreSQL only (SQLite serialises booking instead)")
    return build_world()


def _appointment(world, start, **kwargs):
    return AppointmentFactory(
        clinic=world.clinic,
        practitioner=kwargs.pop("practitioner", world.dr_lee),
        service=world.microcurrent,
        client=kwargs.pop("client", None) or world.client(),
        start=start,
        end=start + dt.timedelta(minutes=45),
        **kwargs,
    )


@pytest.mark.parametrize("resource", ["practitioner", "room", "device"])
def test_postgres_refuses_an_overlap_for_the_same_resource(world, resource):
    first = _appointment(
        world, local(world, 2026, 12, 7, 10), room=world.rooms[0], device=world.microcurrent_unit
    )
    clash = {
        "practitioner": {"practitioner": first.practitioner},
        "room": {"practitioner": world.sam, "room": world.rooms[0]},
        "device": {"practitioner": world.sam, "device": world.microcurrent_unit},
    }[resource]
    with pytest.raises(IntegrityError, match=f"appointment_{resource}_no_overlap"), transaction.atomic():
        _appointment(world, local(world, 2026, 12, 7, 10, 30), **clash)


def test_postgres_lets_a_cancelled_appointment_share_the_time(world):
    _appointment(world, local(world, 2026, 12, 7, 10), status="cancelled")
    assert _appointment(world, local(world, 2026, 12, 7, 10)).pk


def test_postgres_refuses_an_update_that_makes_an_overlap(world):
    _appointment(world, local(world, 2026, 12, 7, 10))
    later = _appointment(world, local(world, 2026, 12, 7, 12))
    with pytest.raises(IntegrityError), transaction.atomic():
        Appointment.objects.filter(pk=later.pk).update(blocked_start=local(world, 2026, 12, 7, 10, 30))


def test_a_race_past_the_pre_check_is_still_a_clear_conflict(world, monkeypatch):
    # given a booking, and a pre-check that (as in a race) does not see it
    _appointment(world, local(world, 2026, 12, 7, 10), room=world.rooms[1], device=None)
    monkeypatch.setattr(booking, "_overlapping", lambda *a, **k: Appointment.objects.none())
    # when another booking for the same practitioner and time arrives
    with pytest.raises(ConflictError) as refused:
        booking.appointment_book(
            booking.BookingRequest(
                client=world.client(),
                service=world.microcurrent,
                practitioner=world.dr_lee,
                start=local(world, 2026, 12, 7, 10),
            )
        )
    # then the database refused it and the error says what is taken
    assert refused.value.code == "practitioner_taken"


def test_postgres_refuses_one_client_in_two_visits_at_once_but_not_back_to_back(world):
    ada = world.client(first_name="Ada")
    _appointment(world, local(world, 2026, 12, 7, 10), client=ada, room=world.rooms[0], device=None)
    with pytest.raises(IntegrityError, match="appointment_client_no_overlap"), transaction.atomic():
        _appointment(
            world, local(world, 2026, 12, 7, 10, 30), client=ada, practitioner=world.sam, room=world.rooms[1]
        )
    # the visit ends at 10:45: the next may begin then, with someone else, whatever the buffers
    after = _appointment(
        world, local(world, 2026, 12, 7, 10, 45), client=ada, practitioner=world.sam, room=world.rooms[1]
    )
    assert after.pk


def test_a_race_for_the_client_past_the_pre_check_is_still_a_clear_conflict(world, monkeypatch):
    ada = world.client(first_name="Ada")
    _appointment(world, local(world, 2026, 12, 7, 10), client=ada, room=world.rooms[1], device=None)
    monkeypatch.setattr(booking, "_overlapping", lambda *a, **k: Appointment.objects.none())
    with pytest.raises(ConflictError) as refused:
        booking.appointment_book(
            booking.BookingRequest(
                client=ada,
                service=world.microneedling,  # not microcurrent again: its interval rule would answer first
                practitioner=world.sam,
                start=local(world, 2026, 12, 7, 10),
            )
        )
    assert refused.value.code == "client_busy"
