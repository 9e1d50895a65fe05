"""The booking API contract: availability, create (201/409/400), cancel, reschedule, list, statuses."""

import datetime as dt

import pytest
from rest_framework.test import APIClient

from tests.booking_world import begun_today, build_world, local
from tests.factories import AppointmentFactory, ClientFactory, ClinicFactory, ServiceFactory
from treatments.booking import appointment_set_status
from treatments.models import Appointment, Course

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def api(world):
    client = APIClient()
    client.force_authenticate(world.desk.user)
    return client


def post_booking(api, world, start, **extra):
    payload = {
        "client": world.client().id,
        "service": world.microcurrent.id,
        "practitioner": world.dr_lee.id,
        "start": start.isoformat(),
        **extra,
    }
    return api.post("/api/v1/appointments/", payload, format="json")


def test_availability_returns_slots_with_offsets_and_resources(api, world):
    response = api.get(
        "/api/v1/availability/",
        {
            "service": world.microcurrent.id,
            "start": "2026-12-07",
            "end": "2026-12-07",
            "practitioner": world.dr_lee.id,
        },
    )
    assert response.status_code == 200
    first = response.json()["slots"][0]
    assert first["start"] == "2026-12-07T09:00:00Z" or first["start"].endswith("+00:00")
    assert first["practitioner"] == world.dr_lee.id
    assert first["room"] == world.rooms[0].id
    assert first["device"] == world.microcurrent_unit.id


def test_availability_in_summer_carries_the_summer_offset(api, world):
    response = api.get(
        "/api/v1/availability/",
        {
            "service": world.microcurrent.id,
            "start": "2027-06-07",
            "end": "2027-06-07",
            "practitioner": world.dr_lee.id,
        },
    )
    assert response.json()["slots"][0]["start"] == "2027-06-07T09:00:00+01:00"


def test_availability_explains_bad_input(api, world):
    other_service = ServiceFactory(clinic=ClinicFactory())
    response = api.get(
        "/api/v1/availability/", {"service": other_service.id, "start": "2026-12-07", "end": "yesterday"}
    )
    assert response.status_code == 400
    body = response.json()
    assert "No such service in this clinic" in str(body["service"])
    assert "end" in body


def test_booking_returns_201_with_the_appointment(api, world):
    response = post_booking(api, world, local(world, 2026, 12, 7, 10))
    assert response.status_code == 201, response.content
    body = response.json()
    assert {"id", "start", "end", "practitioner", "room", "device", "status"} <= set(body)
    assert body["status"] == "booked"
    assert body["start"] == "2026-12-07T10:00:00Z" or body["start"] == "2026-12-07T10:00:00+00:00"
    assert body["room"] == world.rooms[0].id
    assert body["device"] == world.microcurrent_unit.id


def test_a_taken_time_gets_409_with_code_and_detail(api, world):
    post_booking(api, world, local(world, 2026, 12, 7, 10))
    response = post_booking(api, world, local(world, 2026, 12, 7, 10, 30))
    assert response.status_code == 409
    assert response.json() == {
        "code": "practitioner_taken",
        "detail": "Dr Amara Lee is already booked 10:00–10:55.",
    }


def test_bad_booking_input_gets_field_errors(api, world):
    other_client = ClientFactory(clinic=ClinicFactory())
    response = api.post(
        "/api/v1/appointments/",
        {"client": other_client.id, "service": "abc", "start": "tomorrow at ten"},
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert {"client", "service", "practitioner", "start"} <= set(body)


def test_a_rule_refusal_is_a_400_with_a_code(api, world):
    response = post_booking(
        api, world, local(world, 2026, 12, 7, 10), service=world.mesotherapy.id, practitioner=world.sam.id
    )
    assert response.status_code == 400
    assert response.json()["code"] == "not_qualified"


def test_cancel_then_the_time_is_bookable_again(api, world):
    booked = post_booking(api, world, local(world, 2026, 12, 7, 10)).json()
    cancelled = api.post(f"/api/v1/appointments/{booked['id']}/cancel/", {"reason": "Ill"}, format="json")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert post_booking(api, world, local(world, 2026, 12, 7, 10)).status_code == 201


def test_reschedule_moves_it(api, world):
    booked = post_booking(api, world, local(world, 2026, 12, 7, 10)).json()
    moved = api.post(
        f"/api/v1/appointments/{booked['id']}/reschedule/",
        {"start": "2026-12-08T14:00:00+00:00"},
        format="json",
    )
    assert moved.status_code == 200, moved.content
    assert moved.json()["start"] in ("2026-12-08T14:00:00Z", "2026-12-08T14:00:00+00:00")


def test_list_returns_the_range_with_fhir_statuses(api, world):
    first = post_booking(api, world, local(world, 2026, 12, 7, 10)).json()
    post_booking(api, world, local(world, 2026, 12, 9, 10))
    visit = Appointment.objects.get(pk=first["id"])
    appointment_set_status(visit, status="arrived", now=visit.start)  # on the day
    response = api.get("/api/v1/appointments/", {"start": "2026-12-07", "end": "2026-12-08"})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [(a["id"], a["status"]) for a in results] == [(first["id"], "arrived")]


def test_check_in_no_show_and_complete_answer_400_ahead_of_the_visit(api, world):
    booked = post_booking(api, world, local(world, 2026, 12, 7, 10)).json()
    answers = {
        action: api.post(f"/api/v1/appointments/{booked['id']}/{action}/")
        for action in ("check-in", "no-show", "complete")
    }
    assert {action: r.status_code for action, r in answers.items()} == dict.fromkeys(answers, 400)
    assert answers["check-in"].json() == {
        "code": "not_today",
        "detail": "This visit is on Monday 7 December. Clients are checked in on the day of their visit.",
    }
    assert answers["no-show"].json()["code"] == "not_yet"
    assert Appointment.objects.get(pk=booked["id"]).status == "booked"


def test_check_in_and_its_undo_answer_with_the_visit_on_its_day(api, world):
    begun = begun_today(world.clinic)
    visit = AppointmentFactory(
        clinic=world.clinic, client=world.client(), start=begun, end=begun + dt.timedelta(minutes=45)
    )
    response = api.post(f"/api/v1/appointments/{visit.pk}/check-in/")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "arrived"

    undone = api.post(f"/api/v1/appointments/{visit.pk}/undo-status/")
    assert (undone.status_code, undone.json()["status"]) == (200, "booked")
    nothing_left = api.post(f"/api/v1/appointments/{visit.pk}/undo-status/")
    assert (nothing_left.status_code, nothing_left.json()["code"]) == (400, "nothing_to_undo")


def test_detail_shows_every_change(api, world):
    booked = post_booking(api, world, local(world, 2026, 12, 7, 10)).json()
    api.post(
        f"/api/v1/appointments/{booked['id']}/reschedule/", {"start": "2026-12-07T11:00:00Z"}, format="json"
    )
    api.post(f"/api/v1/appointments/{booked['id']}/cancel/", {}, format="json")
    events = api.get(f"/api/v1/appointments/{booked['id']}/").json()["events"]
    assert [e["action"] for e in events] == ["booked", "rescheduled", "cancelled"]
    assert all(e["actor"] == world.desk.user.username for e in events)


def test_a_course_books_all_or_nothing(api, world):
    client = world.client()
    starts = [(local(world, 2026, 12, 7, 10) + dt.timedelta(days=3 * i)).isoformat() for i in range(4)]
    response = api.post(
        "/api/v1/courses/",
        {
            "client": client.id,
            "service": world.microcurrent.id,
            "practitioner": world.dr_lee.id,
            "starts": starts,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert len(response.json()["appointments"]) == 4
    assert response.json()["progress"]["upcoming"] == 4


def test_a_course_is_checked_session_by_session_without_booking_anything(api, world):
    client = world.client()
    starts = [local(world, 2026, 12, 7, 10) + dt.timedelta(days=3 * i) for i in range(3)]
    world.keep_lee_busy(starts[1])
    stored = Appointment.objects.count(), Course.objects.count()
    body = {
        "client": client.id,
        "service": world.microcurrent.id,
        "practitioner": world.dr_lee.id,
        "starts": [s.isoformat() for s in reversed(starts)],  # any order; answered in time order
    }

    response = api.post("/api/v1/courses/check/", body, format="json")

    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["bookable"] is False
    assert [dt.datetime.fromisoformat(s["start"]) for s in answer["sessions"]] == starts
    problems = [s["problem"] for s in answer["sessions"]]
    assert problems[0] == problems[2] == ""
    assert problems[1].startswith("Dr Amara Lee is already booked")
    assert (Appointment.objects.count(), Course.objects.count()) == stored
    bad = api.post("/api/v1/courses/check/", {**body, "starts": []}, format="json")
    assert bad.status_code == 400 and "starts" in bad.json()


def test_the_schema_documents_the_booking_endpoints(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for path in (
        "/api/v1/availability/",
        "/api/v1/appointments/",
        "/api/v1/appointments/{id}/cancel/",
        "/api/v1/appointments/{id}/reschedule/",
        "/api/v1/courses/",
        "/api/v1/courses/check/",
    ):
        assert path in schema["paths"], path
    assert "409" in schema["paths"]["/api/v1/appointments/"]["post"]["responses"]


@pytest.mark.parametrize("zone", ["Europe/London", "America/New_York"])
def test_availability_answers_exactly_what_the_slot_serializer_would(zone):
    from django.utils import timezone

    from treatments.api import SlotSerializer, slots_as_json
    from treatments.availability import available_slots

    world = build_world(time_zone=zone)
    slots = [
        *available_slots(
            service=world.microneedling, start_date=dt.date(2026, 12, 7), end_date=dt.date(2026, 12, 7)
        ),
        *available_slots(
            service=world.microcurrent, start_date=dt.date(2027, 6, 7), end_date=dt.date(2027, 6, 7)
        ),
    ]
    assert {slot.room_id for slot in slots} >= {world.rooms[0].id} and len(slots) > 20
    with timezone.override(world.clinic.zone):  # as ClinicTimeMixin sets it for the serializer
        expected = SlotSerializer(slots, many=True).data
    assert slots_as_json(slots, world.clinic.zone) == [dict(item) for item in expected]
