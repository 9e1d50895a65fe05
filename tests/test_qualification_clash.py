"""Qualifications changed after visits were booked: the desk is told, as for time off and new hours.

Sam needled to 1.0 mm; the manager lowers him to 0.5 mm (or takes microneedling off him). His 1.0 mm
facial next Tuesday stays booked (nothing moves behind the desk's back), but booking would refuse it
now, as outside his scope of practice: it is flagged until someone moves it.
"""

from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from tests.booking_world import build_world, local
from tests.test_working_hours_clash import _admin_change
from treatments.booking import BookingRequest, appointment_book
from treatments.selectors import not_qualified_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def facials(world):
    """Sam's microneedling facial (1.0 mm) at 10:00 and microcurrent at 14:00 on Tuesday 8 December."""
    facial = _book(world, world.microneedling, 10)
    microcurrent = _book(world, world.microcurrent, 14)
    return facial, microcurrent


def _book(world, service, hour):
    return appointment_book(
        BookingRequest(
            client=world.client(),
            service=service,
            practitioner=world.sam,
            start=local(world, 2026, 12, 8, hour),
        )
    )


def _lower_sams_depth(world, depth="0.5"):
    world.sam.qualifications.filter(modality="microneedling").update(max_depth_mm=Decimal(depth))


def test_only_the_visit_the_new_qualifications_leave_out_is_flagged(world, facials):
    facial, microcurrent = facials
    _lower_sams_depth(world)
    assert not_qualified_for([facial, microcurrent]) == {facial.pk}
    world.sam.qualifications.filter(modality="microneedling").delete()
    assert not_qualified_for([facial, microcurrent]) == {facial.pk}
    world.sam.qualifications.all().delete()
    assert not_qualified_for([facial, microcurrent]) == {facial.pk, microcurrent.pk}


def test_the_day_list_the_calendar_the_clients_page_and_the_visit_page_say_so(desk, world, facials):
    facial, _microcurrent = facials
    _lower_sams_depth(world)
    visit_page = reverse("appointment-detail", args=[facial.pk])
    move_link = f'href="{visit_page}#reschedule">Not qualified for it. Move it</a>'
    day_list = desk.get("/?date=2026-12-08").content.decode()
    assert day_list.count("Not qualified for it") == 1 and move_link in day_list
    calendar = desk.get("/calendar/?date=2026-12-08").content.decode()
    assert f'data-appointment-id="{facial.pk}" title="Sam Rivera is not qualified for it"' in calendar
    assert calendar.count("booking status-booked clash") == 1
    assert move_link in desk.get(reverse("client-detail", args=[facial.client_id])).content.decode()
    page = desk.get(visit_page).content.decode()
    assert 'id="unqualified-clash"' in page and "their qualifications changed after it was booked" in page
    # the colleague who may needle to 1.0 mm is offered first
    assert 'aria-label="Move to Tue 8 Dec 10:00 with Dr Amara Lee"' in page


def test_the_time_off_page_hands_them_to_a_qualified_colleague_with_the_reason(desk, world, facials):
    facial, microcurrent = facials
    _lower_sams_depth(world)
    page = desk.get(reverse("time-off")).content.decode()
    assert "<strong>Sam Rivera</strong> is not qualified for them:" in page
    desk.post(reverse("off-hours-hand-over", args=[world.sam.pk]), {"to": world.dr_lee.pk})
    facial.refresh_from_db()
    microcurrent.refresh_from_db()
    assert (facial.practitioner_id, microcurrent.practitioner_id) == (world.dr_lee.pk, world.sam.pk)
    assert facial.events.get(action="rescheduled").details["reason"] == "Sam Rivera not qualified for it"


def test_mixed_reasons_are_each_said(desk, world, facials):
    facial, microcurrent = facials
    _lower_sams_depth(world)
    world.sam.working_hours.update(end_time="13:00")
    page = " ".join(desk.get(reverse("time-off")).content.decode().split())
    assert "<strong>Sam Rivera</strong> cannot see these clients then:" in page
    assert "Microneedling facial</a> (not qualified for it)" in page
    assert "Microcurrent workout</a> (not working then)" in page


def test_the_manager_changing_qualifications_in_the_admin_is_told(client, world, facials):
    facial, _microcurrent = facials
    client.force_login(User.objects.create_superuser("owner", "owner@example.com", "pw"))
    rows = list(world.sam.qualifications.order_by("modality", "id"))
    index = next(n for n, q in enumerate(rows) if q.modality == "microneedling")
    page = _admin_change(client, world.sam, **{f"qualifications-{index}-max_depth_mm": "0.5"})
    assert "was changed successfully" in page
    assert f"Tue 8 Dec 10:00 {facial.client.full_name}</a> (not qualified for it)" in page
