"""The database keeps visits out of time off and out of service, whatever writes them: a visit written
straight into the table (skipping the booking's checks) or moved there is refused; a visit booked
before the time off was recorded still goes through its day (checked in, noted, cancelled); and a
booking whose check missed a time off recorded at the same moment is refused in words."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from clinic.out_of_service import out_of_service_record
from clinic.time_off import time_off_record
from tests.booking_world import build_world, local
from treatments import booking
from treatments.booking import (
    BookingRequest,
    ConflictError,
    appointment_book,
    appointment_cancel,
    appointment_client_note,
    appointment_set_status,
    appointment_undo_status,
)
from treatments.models import Appointment, AppointmentStatus
from treatments.schedule_guard import TRIGGERS, repair_schedule_guard, schedule_guard_present

pytestmark = pytest.mark.django_db

DAY = (2026, 12, 2)


@pytest.fixture
def world(db):
    return build_world(slug="lumen-guard")


def _book(world, hour, **extra):
    return appointment_book(
        BookingRequest(
            client=world.client(),
            service=world.microneedling,
            practitioner=extra.pop("practitioner", world.dr_lee),
            start=local(world, *DAY, hour),
            **extra,
        )
    )


def _refused(refusal, write):
    with pytest.raises(IntegrityError, match=refusal), transaction.atomic():
        write()


def _off(world, practitioner, first_hour, last_hour):
    return time_off_record(
        clinic=world.clinic,
        practitioner=practitioner,
        start=local(world, *DAY, first_hour),
        end=local(world, *DAY, last_hour),
        reason="Unwell",
    )


def test_a_visit_written_into_time_off_is_refused_by_the_database(world):
    visit = _book(world, 10)
    _off(world, world.sam, 9, 17)
    copy = {
        f.attname: getattr(visit, f.attname)
        for f in Appointment._meta.concrete_fields
        if f.attname not in ("id", "room_id", "device_id", "second_device_id")
    }
    copy["practitioner_id"] = world.sam.pk
    _refused("appointment_practitioner_off", lambda: Appointment.objects.create(**copy))
    # handed to a colleague who is off then
    _refused(
        "appointment_practitioner_off",
        lambda: Appointment.objects.filter(pk=visit.pk).update(practitioner=world.sam),
    )
    # a cancelled visit holds no time: written as it likes
    copy["status"] = AppointmentStatus.CANCELLED
    Appointment.objects.create(**copy)


def test_a_visit_booked_before_the_time_off_still_goes_through_its_day_but_never_moves_into_it(world):
    visit = _book(world, 10)
    _off(world, world.dr_lee, 9, 17)  # flagged to move, as the time-off page lists it
    appointment_client_note(visit, note="Parking?")
    appointment_set_status(visit, status=AppointmentStatus.ARRIVED, actor=None, now=local(world, *DAY, 9, 55))
    visit.refresh_from_db()
    assert visit.status == AppointmentStatus.ARRIVED
    later = {
        "start": visit.start + dt.timedelta(hours=1),
        "end": visit.end + dt.timedelta(hours=1),
        "blocked_start": visit.blocked_start + dt.timedelta(hours=1),
        "blocked_end": visit.blocked_end + dt.timedelta(hours=1),
    }
    _refused("appointment_practitioner_off", lambda: Appointment.objects.filter(pk=visit.pk).update(**later))
    appointment_cancel(visit)
    # made active again, into the time off: refused
    _refused(
        "appointment_practitioner_off",
        lambda: Appointment.objects.filter(pk=visit.pk).update(status=AppointmentStatus.BOOKED),
    )


def test_a_room_or_device_out_of_service_refuses_the_visits_written_into_it(world):
    visit = _book(world, 10)
    assert visit.room_id and visit.device_id
    other_room = next(r for r in world.rooms if r.pk != visit.room_id)
    other_pen = next(p for p in world.pens if p.pk != visit.device_id)
    for what in ({"room": other_room}, {"device": other_pen}):
        out_of_service_record(
            clinic=world.clinic,
            start=local(world, *DAY, 9),
            end=local(world, *DAY, 13),
            reason="Servicing",
            **what,
        )
    _refused(
        "appointment_room_out_of_service",
        lambda: Appointment.objects.filter(pk=visit.pk).update(room=other_room),
    )
    _refused(
        "appointment_device_out_of_service",
        lambda: Appointment.objects.filter(pk=visit.pk).update(device=other_pen),
    )
    _refused(
        "appointment_device_out_of_service",
        lambda: Appointment.objects.filter(pk=visit.pk).update(second_device=other_pen),
    )
    # its own room and pen stay in service: nothing else about it is refused
    Appointment.objects.filter(pk=visit.pk).update(practitioner=world.sam)


def test_a_booking_whose_check_missed_the_time_off_is_refused_in_words(world, monkeypatch):
    _off(world, world.dr_lee, 9, 17)
    # the booking's own check read before the time off was written (as in a race): the database refuses
    monkeypatch.setattr(booking, "_check_working_time", lambda *args, **kwargs: None)
    with pytest.raises(ConflictError) as refused:
        _book(world, 10)
    assert refused.value.code == "practitioner_off"
    assert refused.value.message == "The practitioner was just marked as off at that time. Pick another time."
    assert not Appointment.objects.filter(practitioner=world.dr_lee).exists()


def test_migrate_puts_back_the_guard_a_table_rebuild_dropped(world):
    on_table = " ON treatments_appointment" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        for name in TRIGGERS:
            cursor.execute(f"DROP TRIGGER {name}{on_table}")
    assert not schedule_guard_present(connection)
    call_command("migrate", verbosity=0)
    assert schedule_guard_present(connection)
    _off(world, world.dr_lee, 9, 17)
    visit_elsewhere = _book(world, 10, practitioner=world.sam)
    _refused(
        "appointment_practitioner_off",
        lambda: Appointment.objects.filter(pk=visit_elsewhere.pk).update(practitioner=world.dr_lee),
    )
    assert repair_schedule_guard(using="default") is False


def test_undoing_a_no_show_into_time_off_recorded_since_is_refused_in_words(world):
    today = (2026, 12, 1)  # the suite's day
    visit = appointment_book(
        BookingRequest(
            client=world.client(),
            service=world.microneedling,
            practitioner=world.dr_lee,
            start=local(world, *today, 10),
        )
    )
    appointment_set_status(
        visit, status=AppointmentStatus.NOSHOW, actor=None, now=local(world, *today, 10, 30)
    )
    time_off_record(
        clinic=world.clinic,
        practitioner=world.dr_lee,
        start=local(world, *today, 9),
        end=local(world, *today, 17),
        reason="Went home ill",
    )
    with pytest.raises(ConflictError) as refused:
        appointment_undo_status(visit, now=local(world, *today, 11))
    assert refused.value.code == "practitioner_off"
    visit.refresh_from_db()
    assert visit.status == AppointmentStatus.NOSHOW
