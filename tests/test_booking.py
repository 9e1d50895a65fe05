"""Booking rules, through the one service that books: conflicts, qualifications, intake, intervals."""

import datetime as dt

import pytest

from clients.models import ClientCondition, IntakeQuestionnaire, IntakeResponse
from clinic.errors import ClinicError, ConflictError, NotAllowedError
from clinic.models import TimeOff
from tests.booking_world import build_world, local
from treatments.booking import (
    BookingRequest,
    appointment_book,
    appointment_cancel,
    appointment_reschedule,
    appointment_set_status,
    appointment_undo_status,
    course_book,
    course_progress,
    course_starts,
)
from treatments.models import Appointment, AppointmentStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    return build_world()


def book(world, start, *, service=None, practitioner=None, client=None, actor=None, **kwargs):
    return appointment_book(
        BookingRequest(
            client=client or world.client(),
            service=service or world.microcurrent,
            practitioner=practitioner or world.dr_lee,
            start=start,
            **kwargs,
        ),
        actor=actor,
    )


def with_condition(world, code, noted_on=None):
    questionnaire, _ = IntakeQuestionnaire.objects.get_or_create(
        clinic=world.clinic, version=1, defaults={"title": "Health", "is_current": True}
    )
    client = world.client()
    response = IntakeResponse.objects.create(
        client=client, questionnaire=questionnaire, answers={code: "yes"}
    )
    ClientCondition.objects.create(response=response, client=client, code=code, noted_on=noted_on)
    return client


def test_it_books_and_assigns_a_room_and_a_device(world):
    appointment = book(world, local(world, 2026, 12, 7, 10))
    assert appointment.status == AppointmentStatus.BOOKED
    assert appointment.room == world.rooms[0]
    assert appointment.device == world.microcurrent_unit
    assert appointment.end - appointment.start == dt.timedelta(minutes=45)
    assert appointment.events.get().action == "booked"


def test_it_refuses_the_same_practitioner_twice_and_names_what_is_taken(world):
    book(world, local(world, 2026, 12, 7, 10))
    with pytest.raises(ConflictError) as refused:
        book(world, local(world, 2026, 12, 7, 10), service=world.mesotherapy)
    assert refused.value.code == "practitioner_taken"
    assert "Dr Amara Lee is already booked 10:00–10:55" in refused.value.message


def test_it_refuses_a_partial_overlap_including_buffers(world):
    book(world, local(world, 2026, 12, 7, 10))  # held 10:00–10:55 (10 min after)
    with pytest.raises(ConflictError):
        book(world, local(world, 2026, 12, 7, 10, 50), service=world.mesotherapy)  # held from 10:40


def test_back_to_back_appointments_are_both_accepted(world):
    first = book(world, local(world, 2026, 12, 7, 10))  # held until 10:55
    second = book(world, local(world, 2026, 12, 7, 10, 55))
    assert first.blocked_end == second.blocked_start


def test_a_cancelled_appointment_frees_its_time(world):
    first = book(world, local(world, 2026, 12, 7, 10))
    appointment_cancel(first, reason="Client ill")
    second = book(world, local(world, 2026, 12, 7, 10))
    assert second.pk != first.pk


def test_the_only_device_of_a_kind_cannot_be_in_two_rooms(world):
    book(world, local(world, 2026, 12, 7, 10), practitioner=world.dr_lee)
    with pytest.raises(ConflictError) as refused:
        book(world, local(world, 2026, 12, 7, 10), practitioner=world.sam)
    assert refused.value.code == "no_device_free"


def test_it_refuses_when_every_room_is_taken(world):
    from clinic.models import PractitionerQualification
    from tests.factories import PractitionerFactory

    book(world, local(world, 2026, 12, 7, 10), service=world.microneedling, practitioner=world.dr_lee)
    book(world, local(world, 2026, 12, 7, 10), service=world.microneedling, practitioner=world.sam)
    nurse = PractitionerFactory(clinic=world.clinic, display_name="Nurse Shah")
    PractitionerQualification.objects.create(staff_member=nurse, modality="mesotherapy")
    with pytest.raises(ConflictError) as refused:
        book(world, local(world, 2026, 12, 7, 10), service=world.mesotherapy, practitioner=nurse)
    assert refused.value.code == "no_room_free"


def test_it_refuses_an_unqualified_practitioner(world):
    with pytest.raises(ClinicError) as refused:
        book(world, local(world, 2026, 12, 7, 10), service=world.mesotherapy, practitioner=world.sam)
    assert refused.value.code == "not_qualified"
    assert "not qualified for mesotherapy" in refused.value.message


def test_it_refuses_a_practitioner_not_qualified_for_the_depth(world):
    with pytest.raises(ClinicError) as refused:
        book(world, local(world, 2026, 12, 7, 10), service=world.deep_microneedling, practitioner=world.sam)
    # depths as people write them, whatever the database's two decimal places
    assert "qualified for microneedling to 1.0 mm, the service needs 2.0 mm." in refused.value.message
    world.deep_microneedling.refresh_from_db()  # 2.00 from the database, as a booking loads it
    with pytest.raises(ClinicError) as reloaded:
        book(world, local(world, 2026, 12, 7, 10), service=world.deep_microneedling, practitioner=world.sam)
    assert reloaded.value.message == refused.value.message


def test_it_refuses_an_absolute_contraindication(world):
    client = with_condition(world, "pregnancy")
    with pytest.raises(ClinicError) as refused:
        book(world, local(world, 2026, 12, 7, 10), service=world.microneedling, client=client)
    assert refused.value.code == "contraindicated"
    assert "Pregnant" in refused.value.message


def test_a_dated_contraindication_expires(world):
    recent = with_condition(world, "isotretinoin", noted_on=dt.date(2026, 10, 1))
    long_ago = with_condition(world, "isotretinoin", noted_on=dt.date(2025, 1, 1))
    with pytest.raises(ClinicError):
        book(world, local(world, 2026, 12, 7, 10), service=world.microneedling, client=recent)
    assert book(world, local(world, 2026, 12, 7, 10), service=world.microneedling, client=long_ago).pk


def test_a_relative_contraindication_needs_a_recorded_reason(world):
    client = with_condition(world, "cold-sores")
    with pytest.raises(ClinicError) as refused:
        book(world, local(world, 2026, 12, 7, 10), service=world.microneedling, client=client)
    assert refused.value.code == "relative_contraindication_needs_reason"
    appointment = book(
        world,
        local(world, 2026, 12, 7, 10),
        service=world.microneedling,
        client=client,
        relative_contraindication_reason="On antiviral cover since Monday",
    )
    assert "On antiviral cover since Monday" in appointment.events.get().details["accepted"][0]


def test_it_refuses_a_session_sooner_than_the_protocol_interval(world):
    client = world.client()
    book(world, local(world, 2026, 12, 7, 10), service=world.microneedling, client=client)
    with pytest.raises(ClinicError) as refused:
        book(world, local(world, 2026, 12, 21, 10), service=world.microneedling, client=client)
    assert refused.value.code == "too_soon"
    assert "at least 28 days apart" in refused.value.message


def test_only_a_manager_overrides_the_interval_and_the_reason_is_kept(world):
    client = world.client()
    book(world, local(world, 2026, 12, 7, 10), service=world.microneedling, client=client)
    with pytest.raises(NotAllowedError):
        book(
            world,
            local(world, 2026, 12, 21, 10),
            service=world.microneedling,
            client=client,
            actor=world.desk.user,
            interval_override_reason="Client travelling",
        )
    appointment = book(
        world,
        local(world, 2026, 12, 21, 10),
        service=world.microneedling,
        client=client,
        actor=world.manager.user,
        interval_override_reason="Client travelling",
    )
    assert "Client travelling" in appointment.events.get().details["accepted"][0]


def test_it_refuses_a_time_outside_working_hours(world):
    with pytest.raises(ConflictError) as refused:
        book(world, local(world, 2026, 12, 7, 16, 30))  # 45 + 10 min runs past 17:00
    assert refused.value.code == "outside_working_hours"


def test_it_refuses_a_time_during_time_off(world):
    TimeOff.objects.create(
        staff_member=world.dr_lee,
        start=local(world, 2026, 12, 7, 12),
        end=local(world, 2026, 12, 7, 14),
        reason="Training",
    )
    with pytest.raises(ConflictError) as refused:
        book(world, local(world, 2026, 12, 7, 13))
    assert refused.value.code == "practitioner_off"


def test_it_refuses_a_time_in_the_past(world):
    with pytest.raises(ClinicError) as refused:
        book(world, local(world, 2020, 1, 6, 10))
    assert refused.value.code == "in_the_past"


def test_rescheduling_moves_the_visit_bumps_the_sequence_and_records_it(world):
    appointment = book(world, local(world, 2026, 12, 7, 10))
    moved = appointment_reschedule(appointment, start=local(world, 2026, 12, 8, 11), reason="Client asked")
    assert moved.start == local(world, 2026, 12, 8, 11)
    assert moved.sequence == 1
    assert [e.action for e in moved.events.all()] == ["booked", "rescheduled"]


def test_rescheduling_into_a_taken_time_is_refused_and_leaves_the_visit_alone(world):
    appointment = book(world, local(world, 2026, 12, 7, 10))
    book(world, local(world, 2026, 12, 7, 14), service=world.mesotherapy)
    with pytest.raises(ConflictError):
        appointment_reschedule(appointment, start=local(world, 2026, 12, 7, 14))
    appointment.refresh_from_db()
    assert appointment.start == local(world, 2026, 12, 7, 10)


def test_rescheduling_over_its_own_time_is_allowed(world):
    appointment = book(world, local(world, 2026, 12, 7, 10))
    moved = appointment_reschedule(appointment, start=local(world, 2026, 12, 7, 10, 15))
    assert moved.start == local(world, 2026, 12, 7, 10, 15)


def test_check_in_complete_and_no_show_follow_fhir_statuses(world):
    visit = book(world, local(world, 2026, 12, 7, 10))
    during = visit.start + dt.timedelta(minutes=5)
    assert appointment_set_status(visit, status="arrived", now=during).status == "arrived"
    assert appointment_set_status(visit, status="fulfilled", now=during).status == "fulfilled"
    other = book(world, local(world, 2026, 12, 7, 14))
    assert appointment_set_status(other, status="noshow", now=other.start).status == "noshow"
    with pytest.raises(ClinicError) as refused:
        appointment_set_status(other, status="arrived", now=other.start)
    assert refused.value.code == "bad_transition"


def test_a_client_is_checked_in_on_the_day_of_their_visit_only(world):
    visit = book(world, local(world, 2026, 12, 7, 14))
    with pytest.raises(ClinicError) as the_day_before:
        appointment_set_status(visit, status="arrived", now=local(world, 2026, 12, 6, 23, 30))
    assert the_day_before.value.code == "not_today"
    assert the_day_before.value.message == (
        "This visit is on Monday 7 December. Clients are checked in on the day of their visit."
    )
    with pytest.raises(ClinicError) as the_day_after:
        appointment_set_status(visit, status="arrived", now=local(world, 2026, 12, 8, 0, 5))
    assert the_day_after.value.message == (
        "This visit was on Monday 7 December. Mark it completed or a no-show instead."
    )
    visit.refresh_from_db()
    assert visit.status == "booked"
    assert not visit.events.filter(action__startswith="status:").exists()

    # early in the morning of the visit's day (the clinic's day, not UTC's)
    early = local(world, 2026, 12, 7, 0, 5)
    assert appointment_set_status(visit, status="arrived", now=early).status == "arrived"


def test_a_no_show_is_recorded_once_the_visit_has_begun(world):
    visit = book(world, local(world, 2026, 12, 7, 14))
    with pytest.raises(ClinicError) as too_soon:
        appointment_set_status(visit, status="noshow", now=local(world, 2026, 12, 7, 13, 59))
    assert too_soon.value.code == "not_yet"
    assert too_soon.value.message == (
        "This visit starts at 14:00 on Monday 7 December. A no-show can be recorded once its time has come."
    )
    assert appointment_set_status(visit, status="noshow", now=visit.start).status == "noshow"


def test_a_visit_is_completed_on_its_day_or_later_never_ahead(world):
    visit = book(world, local(world, 2026, 12, 7, 14))
    with pytest.raises(ClinicError) as ahead:
        appointment_set_status(visit, status="fulfilled", now=local(world, 2026, 12, 6, 18))
    assert ahead.value.code == "not_yet"
    completed_later = appointment_set_status(visit, status="fulfilled", now=local(world, 2026, 12, 9, 9))
    assert completed_later.status == "fulfilled"


def test_a_client_is_never_booked_into_two_visits_at_once(world):
    ada = world.client(first_name="Ada", last_name="Byron")
    facial = world.microneedling
    book(world, local(world, 2026, 12, 7, 10), client=ada)  # Dr Lee, microcurrent 10:00–10:45

    with pytest.raises(ConflictError) as refused:
        book(world, local(world, 2026, 12, 7, 10, 30), client=ada, practitioner=world.sam, service=facial)

    assert refused.value.code == "client_busy"
    assert refused.value.message == (
        "Ada Byron already has a visit 10:00–10:45 (Microcurrent workout with Dr Amara Lee)."
    )
    # right after it is fine: the practitioners' buffers are theirs, not the client's
    assert book(
        world, local(world, 2026, 12, 7, 10, 45), client=ada, practitioner=world.sam, service=facial
    ).pk


def test_moving_a_visit_onto_another_of_the_clients_visits_is_refused(world):
    ada = world.client(first_name="Ada", last_name="Byron")
    book(world, local(world, 2026, 12, 7, 10), client=ada)
    other = book(
        world, local(world, 2026, 12, 7, 14), client=ada, practitioner=world.sam, service=world.microneedling
    )
    with pytest.raises(ConflictError) as refused:
        appointment_reschedule(other, start=local(world, 2026, 12, 7, 10, 15))
    assert refused.value.code == "client_busy"


def test_a_check_in_by_mistake_is_undone_on_the_day(world):
    visit = book(world, local(world, 2026, 12, 7, 14))
    appointment_set_status(visit, status="arrived", now=visit.start)

    undone = appointment_undo_status(visit, actor=world.desk.user, now=visit.start)

    assert undone.status == "booked"
    last = visit.events.order_by("id").last()
    assert (last.action, last.details, last.actor) == (
        "status:booked",
        {"from": "arrived", "to": "booked", "undo": True},
        world.desk.user,
    )
    assert appointment_set_status(visit, status="arrived", now=visit.start).status == "arrived"


def test_a_no_show_is_undone_while_its_time_is_still_free(world):
    visit = book(world, local(world, 2026, 12, 7, 14))
    appointment_set_status(visit, status="noshow", now=visit.start)
    undone = appointment_undo_status(visit, now=visit.start + dt.timedelta(minutes=20))
    assert undone.status == "booked"
    assert (undone.room, undone.device) == (visit.room, visit.device)


def test_a_no_show_whose_time_was_given_away_cannot_be_undone(world):
    visit = book(world, local(world, 2026, 12, 7, 14))
    appointment_set_status(visit, status="noshow", now=visit.start)
    walk_in = book(world, local(world, 2026, 12, 7, 14, 15))  # Dr Lee, in the freed time

    with pytest.raises(ConflictError) as refused:
        appointment_undo_status(visit, now=visit.start)

    assert refused.value.code == "practitioner_taken"
    assert refused.value.message == "Dr Amara Lee is already booked 14:15–15:10."  # with its 10 minutes after
    visit.refresh_from_db()
    assert visit.status == "noshow"
    assert walk_in.status == "booked"


def test_only_a_check_in_or_no_show_of_today_can_be_undone(world):
    visit = book(world, local(world, 2026, 12, 7, 14))
    with pytest.raises(ClinicError) as nothing:
        appointment_undo_status(visit, now=visit.start)
    assert nothing.value.code == "nothing_to_undo"
    appointment_set_status(visit, status="noshow", now=visit.start)
    with pytest.raises(ClinicError) as next_day:
        appointment_undo_status(visit, now=local(world, 2026, 12, 8, 9))
    assert next_day.value.message == "A no-show can be undone on the day of the visit only."
    visit.refresh_from_db()
    assert visit.status == "noshow"


def test_a_completed_visit_cannot_be_cancelled(world):
    visit = book(world, local(world, 2026, 12, 7, 10))
    appointment_set_status(visit, status="fulfilled", now=visit.start)
    with pytest.raises(ClinicError):
        appointment_cancel(visit)


def test_a_course_books_every_session(world):
    client = world.client()
    starts = course_starts(
        first_start=local(world, 2026, 12, 7, 10),
        sessions=10,
        weekdays_pattern_days=[3, 4],
        zone=world.clinic.zone,
    )
    course = course_book(client=client, service=world.microcurrent, practitioner=world.dr_lee, starts=starts)
    assert course.appointments.count() == 10
    assert course_progress(course) == {"planned": 10, "done": 0, "upcoming": 10, "missed_or_cancelled": 0}


def test_a_course_with_one_impossible_session_books_nothing(world):
    client = world.client()
    book(world, local(world, 2026, 12, 14, 10), service=world.mesotherapy)  # Dr Lee busy on the 3rd session
    starts = [local(world, 2026, 12, 7, 10), local(world, 2026, 12, 10, 10), local(world, 2026, 12, 14, 10)]
    with pytest.raises(ConflictError) as refused:
        course_book(client=client, service=world.microcurrent, practitioner=world.dr_lee, starts=starts)
    assert refused.value.message.startswith("Session 3 of 3")
    assert not Appointment.objects.filter(client=client).exists()


def test_course_sessions_keep_their_local_time_across_a_dst_change(world):
    starts = course_starts(
        first_start=local(world, 2027, 3, 22, 10),
        sessions=3,
        weekdays_pattern_days=[7],
        zone=world.clinic.zone,
    )
    assert [s.astimezone(world.clinic.zone).hour for s in starts] == [10, 10, 10]
    assert [s.hour for s in starts] == [10, 9, 9]  # UTC: GMT then BST from 28 March


class _Deadlock(Exception):
    sqlstate = "40P01"


def test_a_deadlocked_write_is_retried_not_a_500(world, monkeypatch):
    from django.db import OperationalError

    from treatments import booking

    real = booking._hold_resources
    calls = []

    def deadlock_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("deadlock detected") from _Deadlock()
        return real(*args, **kwargs)

    monkeypatch.setattr(booking, "_hold_resources", deadlock_once)
    appointment = book(world, local(world, 2026, 12, 7, 10))
    assert appointment.pk and len(calls) == 2


def test_an_endless_deadlock_becomes_a_clear_conflict(world, monkeypatch):
    from django.db import OperationalError

    from treatments import booking

    def always(*args, **kwargs):
        raise OperationalError("deadlock detected") from _Deadlock()

    monkeypatch.setattr(booking, "_hold_resources", always)
    with pytest.raises(ConflictError) as refused:
        book(world, local(world, 2026, 12, 7, 10))
    assert refused.value.code == "busy"
