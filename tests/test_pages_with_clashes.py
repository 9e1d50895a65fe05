"""Every staff page and visit action answers, never a 500, with visits in each state the desk must fix:
a practitioner who left, one no longer qualified, a room and a pen taken out of use."""

import pytest
from django.urls import reverse

from tests.booking_world import build_world, local
from treatments.booking import BookingRequest, appointment_book

pytestmark = pytest.mark.django_db

ACTIONS = ("change_room", "check_in", "no_show", "complete", "undo", "send_forms")


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def stranded(world):
    """Sam's facial (room and pen then taken out of use), Sam's microcurrent, Dr Lee's mesotherapy; then
    Sam leaves and Dr Lee loses mesotherapy."""
    visits = [
        appointment_book(
            BookingRequest(
                client=world.client(),
                service=service,
                practitioner=practitioner,
                start=local(world, 2026, 12, 8, hour),
            )
        )
        for hour, service, practitioner in (
            (10, world.microneedling, world.sam),
            (12, world.microcurrent, world.sam),
            (14, world.mesotherapy, world.dr_lee),
        )
    ]
    type(world.sam).objects.filter(pk=world.sam.pk).update(is_active=False)
    world.dr_lee.qualifications.filter(modality="mesotherapy").delete()
    type(visits[0].room).objects.filter(pk=visits[0].room_id).update(is_active=False)
    type(visits[0].device).objects.filter(pk=visits[0].device_id).update(is_active=False)
    return visits


def test_every_page_opens(desk, world, stranded):
    pages = [
        "/",
        "/?date=2026-12-08",
        "/calendar/?date=2026-12-08",
        "/calendar/?date=2026-12-08&by=room",
        "/calendar/?date=2026-12-08&view=week",
        f"/calendar/?date=2026-12-08&view=week&practitioner={world.sam.pk}",
        "/time-off/",
        "/book/",
        f"/book/?practitioner={world.sam.pk}&service={world.microneedling.pk}&date=2026-12-08",
    ]
    for visit in stranded:
        page = reverse("appointment-detail", args=[visit.pk])
        pages += [page, f"{page}?with={world.sam.pk}", reverse("client-detail", args=[visit.client_id])]
    answers = [(url, desk.get(url).status_code) for url in pages]
    assert [(url, status) for url, status in answers if status != 200] == []


def test_every_action_answers_with_a_page_to_go_back_to(desk, world, stranded):
    answers = []
    for visit in stranded:
        for action in ACTIONS:
            answers.append(
                (
                    visit.pk,
                    action,
                    desk.post(reverse("appointment-action", args=[visit.pk, action])).status_code,
                )
            )
        moved = desk.post(
            reverse("appointment-action", args=[visit.pk, "reschedule"]),
            {"reschedule-start": "2026-12-08T10:00", "reschedule-practitioner": world.sam.pk},
        )
        answers.append((visit.pk, "reschedule to someone who left", moved.status_code))
    handed = desk.post(reverse("off-hours-hand-over", args=[world.sam.pk]), {"to": world.dr_lee.pk})
    answers.append(("hand over", "", handed.status_code))
    assert [a for a in answers if a[2] != 302] == []
