"""A service that uses two kinds of device at once holds both, so neither can be double-booked.

Lumen's combined facial does microcurrent then microneedling in one visit: it needs a pen *and* the
microcurrent unit. Before, only the pen was booked, and the one unit could go to a microcurrent
workout at the same time. Now a visit holds a second device; every check that a device is free looks
at both columns, and on PostgreSQL the device holds' exclusion constraint refuses a race.
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from rest_framework.authtoken.models import Token

from clinic.errors import ClinicError, ConflictError
from clinic.models import Device
from tests.booking_world import build_world, local
from tests.factories import AppointmentFactory
from tests.live_api import post_bookings_at_once
from treatments import booking
from treatments.availability import available_slots
from treatments.booking import (
    BookingRequest,
    appointment_book,
    appointment_cancel,
    appointment_change_room_and_device,
    appointment_reschedule,
    appointment_set_status,
    appointment_undo_status,
)
from treatments.device_holds import TRIGGERS, device_hold_triggers_present, repair_device_hold_triggers
from treatments.fhir import appointment_as_fhir_bundle
from treatments.models import INACTIVE_STATUSES, Appointment, DeviceHold, Protocol, Service
from treatments.selectors import out_of_use


def _add_combo(world) -> Service:
    combo = Service.objects.create(
        clinic=world.clinic,
        name="Microneedling + microcurrent combo",
        duration_minutes=90,
        buffer_before_minutes=15,
        buffer_after_minutes=15,
        price=Decimal("240"),
        device_kind="pen",
        second_device_kind="microcurrent_unit",
        max_depth_mm=Decimal("1.0"),
    )
    combo.protocols.set(
        Protocol.objects.filter(clinic=world.clinic, modality__in=["microneedling", "microcurrent"])
    )
    return combo


@pytest.fixture
def world(db):
    world = build_world()
    world.combo = _add_combo(world)
    return world


def _book(world, service, hour, minute=0, practitioner=None, **kwargs):
    return appointment_book(
        BookingRequest(
            client=world.client(),
            service=service,
            practitioner=practitioner or world.dr_lee,
            start=local(world, 2026, 12, 8, hour, minute),
            **kwargs,
        )
    )


def _holds(appointment) -> set[tuple[int, dt.datetime, dt.datetime]]:
    return set(
        DeviceHold.objects.filter(appointment=appointment).values_list(
            "device_id", "blocked_start", "blocked_end"
        )
    )


def test_the_combined_visit_holds_a_pen_and_the_microcurrent_unit(world):
    visit = _book(world, world.combo, 10)
    assert visit.device.kind == "pen"
    assert visit.second_device == world.microcurrent_unit
    assert visit.devices == [visit.device, world.microcurrent_unit]
    # the database's device holds say the same, over the visit's held time (buffers included)
    held = (visit.blocked_start, visit.blocked_end)
    assert _holds(visit) == {(visit.device_id, *held), (world.microcurrent_unit.pk, *held)}


def test_while_the_combo_holds_the_unit_a_microcurrent_workout_cannot_have_it(world):
    _book(world, world.combo, 10)  # held 09:45–11:45
    with pytest.raises(ConflictError) as refused:
        _book(world, world.microcurrent, 11, practitioner=world.sam)
    assert refused.value.code == "no_device_free"
    assert refused.value.message == "No microcurrent unit is free at that time."
    # once the combo's held time is over, the unit is free again
    assert _book(world, world.microcurrent, 11, 45, practitioner=world.sam).device == world.microcurrent_unit


def test_while_a_workout_holds_the_unit_the_combo_cannot_be_booked_over_it(world):
    _book(world, world.microcurrent, 10, practitioner=world.sam)  # held 10:00–10:55
    with pytest.raises(ConflictError) as refused:
        _book(world, world.combo, 10, 30)
    assert refused.value.code == "no_device_free"
    # and asking for the unit by name names what holds it
    with pytest.raises(ConflictError) as refused:
        _book(world, world.combo, 10, 30, second_device=world.microcurrent_unit)
    assert refused.value.code == "device_taken"
    assert refused.value.message == "Microcurrent unit is already booked 10:00–10:55."


def test_a_device_of_the_wrong_kind_or_for_a_service_without_a_second_is_refused(world):
    with pytest.raises(ClinicError, match="needs a microcurrent unit, not Pen B"):
        _book(world, world.combo, 10, second_device=world.pens[1])
    with pytest.raises(ClinicError, match="books no second device: leave it out"):
        _book(world, world.microneedling, 10, second_device=world.microcurrent_unit)


def test_cancelling_or_a_no_show_frees_the_unit_and_undoing_the_no_show_needs_it_again(world):
    combo = _book(world, world.combo, 10)
    appointment_cancel(combo)
    assert _holds(combo) == set()
    workout = _book(world, world.microcurrent, 10, practitioner=world.sam)
    assert workout.device == world.microcurrent_unit
    appointment_cancel(workout)
    second = _book(world, world.combo, 10)
    appointment_set_status(second, status="noshow", now=local(world, 2026, 12, 8, 10, 30))
    assert _holds(second) == set()
    _book(world, world.microcurrent, 10, practitioner=world.sam, room=world.rooms[1])  # not the combo's room
    with pytest.raises(ConflictError, match="Microcurrent unit is already booked"):
        appointment_undo_status(second, now=local(world, 2026, 12, 8, 10, 40))


def test_rescheduling_moves_both_holds(world):
    visit = _book(world, world.combo, 10)
    moved = appointment_reschedule(visit, start=local(world, 2026, 12, 8, 14))
    assert moved.second_device == world.microcurrent_unit
    held = (moved.blocked_start, moved.blocked_end)
    assert _holds(moved) == {(moved.device_id, *held), (world.microcurrent_unit.pk, *held)}
    # the morning is free again for a workout on the unit
    assert _book(world, world.microcurrent, 10, practitioner=world.sam).device == world.microcurrent_unit


def test_availability_offers_the_combo_only_when_the_unit_is_free_too(world):
    _book(world, world.microcurrent, 10, practitioner=world.sam)  # the unit is held 10:00–10:55
    day = dt.date(2026, 12, 8)
    slots = available_slots(
        service=world.combo, start_date=day, end_date=day, now=local(world, 2026, 12, 1, 9)
    )
    assert slots, "the combo fits elsewhere in the day"
    unit_held = (local(world, 2026, 12, 8, 10), local(world, 2026, 12, 8, 10, 55))
    for slot in slots:
        held_from = slot.start - dt.timedelta(minutes=15)
        held_until = slot.end + dt.timedelta(minutes=15)
        assert held_until <= unit_held[0] or held_from >= unit_held[1], slot
        assert slot.second_device_id == world.microcurrent_unit.pk
        assert Device.objects.get(pk=slot.device_id).kind == "pen"
    # a microcurrent workout is not offered over the combo's time either
    combo = _book(world, world.combo, 14)
    workout_slots = available_slots(
        service=world.microcurrent, start_date=day, end_date=day, now=local(world, 2026, 12, 1, 9)
    )
    assert workout_slots
    assert not [
        s
        for s in workout_slots
        if s.start < combo.blocked_end and s.end + dt.timedelta(minutes=10) > combo.blocked_start
    ]


def test_a_second_unit_out_of_use_is_flagged_and_changed_for_another(world):
    spare = Device.objects.create(clinic=world.clinic, name="Microcurrent unit 2", kind="microcurrent_unit")
    visit = _book(world, world.combo, 10)
    assert visit.second_device == world.microcurrent_unit  # the first by name
    Device.objects.filter(pk=world.microcurrent_unit.pk).update(is_active=False)
    fresh = Appointment.objects.get(pk=visit.pk)
    assert out_of_use([fresh]) == {visit.pk: "Microcurrent unit is out of use"}
    changed = appointment_change_room_and_device(fresh)
    assert changed.second_device == spare and changed.device == visit.device and changed.room == visit.room
    event = changed.events.get(action="resources_changed")
    assert event.details["second_device_from"] == "Microcurrent unit"
    assert event.details["second_device_to"] == "Microcurrent unit 2"


def test_a_service_cannot_name_the_same_kind_twice_or_a_second_without_a_first(world):
    same = Service(
        clinic=world.clinic,
        name="Two pens",
        duration_minutes=30,
        price=Decimal("1"),
        device_kind="pen",
        second_device_kind="pen",
    )
    with pytest.raises(ValidationError, match="A second device is of another kind than the first"):
        same.full_clean()
    alone = Service(
        clinic=world.clinic,
        name="Unit only",
        duration_minutes=30,
        price=Decimal("1"),
        second_device_kind="microcurrent_unit",
    )
    with pytest.raises(ValidationError, match="A second device is of another kind than the first"):
        alone.full_clean()


def test_the_visit_page_and_the_day_list_name_both_devices(client, world):
    visit = _book(world, world.combo, 10)
    client.force_login(world.desk.user)
    page = client.get(reverse("appointment-detail", args=[visit.pk])).content.decode()
    assert f'<dt>Devices</dt><dd id="devices">{visit.device.name} and Microcurrent unit' in page
    day = client.get("/?date=2026-12-08").content.decode()
    assert f"<td>{visit.device.name} and Microcurrent unit" in day


def test_the_api_books_and_lists_the_second_device(client, world):
    token = Token.objects.create(user=world.desk.user).key
    auth = {"HTTP_AUTHORIZATION": f"Token {token}"}
    slots = client.get(
        "/api/v1/availability/",
        {"service": world.combo.pk, "start": "2026-12-08", "end": "2026-12-08"},
        **auth,
    ).json()["slots"]
    assert slots[0]["second_device"] == world.microcurrent_unit.pk
    created = client.post(
        "/api/v1/appointments/",
        {
            "client": world.client().pk,
            "service": world.combo.pk,
            "practitioner": world.dr_lee.pk,
            "start": local(world, 2026, 12, 8, 10).isoformat(),
        },
        content_type="application/json",
        **auth,
    )
    assert created.status_code == 201, created.content
    assert created.json()["second_device"] == world.microcurrent_unit.pk
    taken = client.post(
        "/api/v1/appointments/",
        {
            "client": world.client().pk,
            "service": world.microcurrent.pk,
            "practitioner": world.sam.pk,
            "start": local(world, 2026, 12, 8, 10, 30).isoformat(),
        },
        content_type="application/json",
        **auth,
    )
    assert taken.status_code == 409
    assert taken.json() == {"code": "no_device_free", "detail": "No microcurrent unit is free at that time."}
    services = client.get("/api/v1/services/", **auth).json()
    services = services.get("results", services)
    assert {s["name"]: s["second_device_kind"] for s in services}[world.combo.name] == "microcurrent_unit"


def test_the_fhir_visit_names_both_devices(world):
    visit = _book(world, world.combo, 10)
    bundle = appointment_as_fhir_bundle(visit)
    appointment = bundle["entry"][0]["resource"]
    assert [p["actor"]["display"] for p in appointment["participant"]] == [
        visit.client.full_name,
        "Dr Amara Lee",
        visit.room.name,
        visit.device.name,
        "Microcurrent unit",
    ]
    assert [e["resource"]["resourceType"] for e in bundle["entry"]][-2:] == ["Device", "Device"]


def test_recording_the_combo_offers_each_modality_the_visits_own_device(client, world):
    from treatments.sessions import treatment_session_start

    visit = appointment_book(
        BookingRequest(
            client=world.client(),
            service=world.combo,
            practitioner=world.dr_lee,
            start=local(world, 2026, 12, 1, 10),  # today, at SUITE_NOW
            room=world.rooms[0],
            device=world.pens[1],
        )
    )
    treatment_session_start(appointment=visit, by=world.dr_lee)
    client.force_login(world.dr_lee.user)
    page = client.get(reverse("session-record", args=[visit.pk])).content.decode()
    assert f'<option value="{world.pens[1].pk}" selected>' in page  # the microneedling section's pen
    assert (
        f'<option value="{world.microcurrent_unit.pk}" selected>' in page
    )  # the microcurrent section's unit


def test_migrate_puts_back_triggers_a_table_rebuild_dropped_and_rebuilds_the_holds(world):
    # given the triggers gone, as a SQLite table rebuild in a later migration would leave them
    on_table = " ON treatments_appointment" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        for name in TRIGGERS:
            cursor.execute(f"DROP TRIGGER {name}{on_table}")
    assert not device_hold_triggers_present(connection)
    unguarded = _book(world, world.combo, 10)  # booked while nothing kept its holds
    assert _holds(unguarded) == set()
    # when the next migrate runs (nothing to apply)
    call_command("migrate", verbosity=0)
    # then the triggers are back and every active visit holds its devices again
    assert device_hold_triggers_present(connection)
    held = (unguarded.blocked_start, unguarded.blocked_end)
    assert _holds(unguarded) == {(unguarded.device_id, *held), (world.microcurrent_unit.pk, *held)}
    with pytest.raises(ConflictError):
        _book(world, world.microcurrent, 10, practitioner=world.sam)
    appointment_cancel(unguarded)
    assert _holds(unguarded) == set()
    # and a migrate with the triggers in place changes nothing
    assert repair_device_hold_triggers(using="default") is False


# --- the database's own guard ----------------------------------------------------------------------
@pytest.fixture
def postgres(db):
    if connection.vendor != "postgresql":
        pytest.skip("Exclusion constraints exist on PostgreSQL only (SQLite serialises booking instead)")


def _raw(world, start, **kwargs):
    return AppointmentFactory(
        clinic=world.clinic,
        service=world.microcurrent,
        client=world.client(),
        start=start,
        end=start + dt.timedelta(minutes=45),
        **kwargs,
    )


def test_postgres_refuses_a_unit_held_as_one_visits_second_and_anothers_first(postgres, world):
    _raw(
        world,
        local(world, 2026, 12, 8, 10),
        practitioner=world.dr_lee,
        room=world.rooms[0],
        device=world.pens[0],
        second_device=world.microcurrent_unit,
    )
    with pytest.raises(IntegrityError, match="device_hold_no_overlap"), transaction.atomic():
        _raw(
            world,
            local(world, 2026, 12, 8, 10, 30),
            practitioner=world.sam,
            room=world.rooms[1],
            device=world.microcurrent_unit,
        )
    # and the other way round, by an update that moves a visit onto the unit's time
    later = _raw(
        world,
        local(world, 2026, 12, 8, 13),
        practitioner=world.sam,
        room=world.rooms[1],
        device=world.pens[1],
        second_device=world.microcurrent_unit,
    )
    with pytest.raises(IntegrityError, match="device_hold_no_overlap"), transaction.atomic():
        Appointment.objects.filter(pk=later.pk).update(
            blocked_start=local(world, 2026, 12, 8, 10, 30),
            start=local(world, 2026, 12, 8, 10, 30),
            end=local(world, 2026, 12, 8, 11, 15),
            blocked_end=local(world, 2026, 12, 8, 11, 15),
        )


def test_a_race_for_the_second_device_past_the_pre_check_is_a_clear_conflict(postgres, world, monkeypatch):
    _book(world, world.microcurrent, 10, practitioner=world.sam)
    monkeypatch.setattr(booking, "_overlapping", lambda *a, **k: Appointment.objects.none())
    with pytest.raises(ConflictError) as refused:
        _book(world, world.combo, 10, second_device=world.microcurrent_unit, room=world.rooms[1])
    assert refused.value.code == "device_taken"
    assert "just booked that device" in refused.value.message


def test_the_holds_are_kept_by_the_database_whatever_writes_the_visit(world):
    # the triggers exist on both databases: a migration that rebuilt the table without them fails here
    visit = _raw(
        world,
        local(world, 2026, 12, 8, 10),
        practitioner=world.dr_lee,
        room=world.rooms[0],
        device=world.pens[0],
        second_device=world.microcurrent_unit,
    )
    assert {h[0] for h in _holds(visit)} == {world.pens[0].pk, world.microcurrent_unit.pk}
    Appointment.objects.filter(pk=visit.pk).update(second_device=None)
    assert {h[0] for h in _holds(visit)} == {world.pens[0].pk}
    Appointment.objects.filter(pk=visit.pk).update(status="cancelled")
    assert _holds(visit) == set()


# --- at a live server, all at once -----------------------------------------------------------------
def test_combos_and_workouts_racing_for_the_one_unit_get_it_once(live_server, transactional_db):
    # given one microcurrent unit, two practitioners, two rooms and two pens
    world = build_world(rooms=2, pens=2)
    world.combo = _add_combo(world)
    token = Token.objects.create(user=world.desk.user).key
    start = local(world, 2026, 12, 8, 10).isoformat()
    payloads = [
        {
            "client": world.client().id,
            "service": (world.combo if i % 2 else world.microcurrent).id,
            "practitioner": (world.dr_lee if i % 4 < 2 else world.sam).id,
            "start": start,
        }
        for i in range(16)
    ]
    statuses = [status for status, _ in post_bookings_at_once(live_server, token, payloads)]
    # then the unit went to one visit, and every other request was told it is taken
    assert statuses.count(201) == 1, statuses
    assert statuses.count(409) == len(payloads) - 1, statuses
    active = Appointment.objects.exclude(status__in=INACTIVE_STATUSES)
    assert active.count() == 1
    assert DeviceHold.objects.filter(device=world.microcurrent_unit).count() == 1


def test_two_combos_booked_at_the_same_moment_share_out_two_units(live_server, transactional_db):
    # given two of everything: rooms, pens and microcurrent units
    world = build_world(rooms=2, pens=2)
    world.combo = _add_combo(world)
    spare = Device.objects.create(clinic=world.clinic, name="Microcurrent unit 2", kind="microcurrent_unit")
    token = Token.objects.create(user=world.desk.user).key
    payloads = [
        {
            "client": world.client().id,
            "service": world.combo.id,
            "practitioner": practitioner.id,
            "start": local(world, 2026, 12, 8, hour).isoformat(),
        }
        for hour in (10, 13, 15)
        for practitioner in (world.dr_lee, world.sam)
    ]
    statuses = [status for status, _ in post_bookings_at_once(live_server, token, payloads)]
    # then all are booked (held 15 minutes either side, back to back): whoever lost the race for the
    # first unit took the second
    assert statuses == [201] * len(payloads), statuses
    for hour in (10, 13, 15):
        units = Appointment.objects.filter(start=local(world, 2026, 12, 8, hour)).values_list(
            "second_device", flat=True
        )
        assert sorted(units) == sorted([world.microcurrent_unit.pk, spare.pk])


def test_visits_booked_before_the_service_needed_a_unit_are_flagged_and_take_one(client, world):
    # given a microneedling visit booked while the service used a pen only
    visit = _book(world, world.microneedling, 10)
    assert visit.second_device is None
    # when the manager makes it a combined service that also uses the microcurrent unit
    Service.objects.filter(pk=world.microneedling.pk).update(second_device_kind="microcurrent_unit")
    # then the desk sees the visit lacks a unit, on the day's list, the calendar and the visit's page
    client.force_login(world.desk.user)
    day = client.get("/?date=2026-12-08").content.decode()
    assert 'title="No microcurrent unit is booked for it">Device missing. Change it</a>' in day
    calendar = client.get("/calendar/?date=2026-12-08").content.decode()
    assert '<span class="warning">Device missing</span>' in calendar
    page = client.get(reverse("appointment-detail", args=[visit.pk])).content.decode()
    assert "No microcurrent unit is booked for it" in page and "Take another room and device" in page
    # and one click gives it the unit at its time, keeping its room and pen
    response = client.post(reverse("appointment-action", args=[visit.pk, "change_room"]), follow=True)
    assert "now has" in response.content.decode()
    visit.refresh_from_db()
    assert visit.second_device == world.microcurrent_unit
    assert visit.device == world.pens[0] and visit.room == world.rooms[0]
    page = client.get(reverse("appointment-detail", args=[visit.pk])).content.decode()
    assert "Took Microcurrent unit" in page
    assert "No microcurrent unit is booked for it" not in page
    with pytest.raises(ClinicError, match="nothing to change"):
        appointment_change_room_and_device(visit)
