"""Time off entered after visits were booked (a sick day) is said where the desk looks, so they move them."""

import pytest
from django.urls import reverse

from clinic.models import TimeOff
from tests.booking_world import build_world, local
from treatments.booking import BookingRequest, appointment_book, appointment_cancel, appointment_reschedule
from treatments.selectors import time_off_clashes

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def sick_day(world):
    """Dr Lee's visit at 10:00 and Sam's at 11:00 on 8 December; then Dr Lee calls in sick for the day."""
    lee = _book(world, world.dr_lee, 10)
    sam = _book(world, world.sam, 11)
    lee_cancelled = _book(world, world.dr_lee, 14)
    appointment_cancel(lee_cancelled)
    lee_cancelled.refresh_from_db()
    off = TimeOff.objects.create(
        staff_member=world.dr_lee,
        start=local(world, 2026, 12, 8, 0),
        end=local(world, 2026, 12, 9, 0),
        reason="Sick",
    )
    return lee, sam, lee_cancelled, off


def _book(world, practitioner, hour):
    return appointment_book(
        BookingRequest(
            client=world.client(),
            service=world.microneedling,
            practitioner=practitioner,
            start=local(world, 2026, 12, 8, hour),
        )
    )


def test_only_the_visits_still_to_be_had_with_the_absent_practitioner_clash(world, sick_day):
    lee, sam, lee_cancelled, off = sick_day
    assert time_off_clashes([lee, sam, lee_cancelled]) == {lee.pk: off}


def test_the_day_list_flags_the_visit_and_links_to_moving_it(client, world, sick_day):
    lee, sam, _cancelled, _off = sick_day
    client.force_login(world.desk.user)
    page = client.get("/?date=2026-12-08").content.decode()
    visit_page = reverse("appointment-detail", args=[lee.pk])
    move_link = f'href="{visit_page}#reschedule">Off then: Sick. Move it</a>'
    assert page.count("Off then") == 1 and move_link in page


def test_the_calendar_flags_the_visit(client, world, sick_day):
    lee, _sam, _cancelled, _off = sick_day
    client.force_login(world.desk.user)
    page = client.get("/calendar/?date=2026-12-08").content.decode()
    assert page.count("booking status-booked clash") == 1
    assert f'data-appointment-id="{lee.pk}" title="Dr Amara Lee is off then: Sick"' in page


def test_the_visit_page_says_so_until_it_is_moved_to_someone_else(client, world, sick_day):
    lee, _sam, _cancelled, _off = sick_day
    client.force_login(world.desk.user)
    url = reverse("appointment-detail", args=[lee.pk])
    page = client.get(url).content.decode()
    assert "Off Tue 8 Dec 00:00–Wed 9 Dec 00:00 (Sick)" in page
    # and the free times first offered for moving it are Sam's, not Dr Lee's
    assert "with Sam Rivera" in page and "with Dr Amara Lee" not in page.split('id="reschedule"')[-1]
    appointment_reschedule(lee, start=local(world, 2026, 12, 8, 13), practitioner=world.sam)
    assert 'id="time-off-clash"' not in client.get(url).content.decode()


def test_the_calendar_column_says_when_the_practitioner_is_off(client, world, sick_day):
    TimeOff.objects.create(
        staff_member=world.sam, start=local(world, 2026, 12, 8, 13), end=local(world, 2026, 12, 8, 15)
    )
    client.force_login(world.desk.user)
    page = client.get("/calendar/?date=2026-12-08").content.decode()
    assert 'Dr Amara Lee <span class="warning off-note">Off all day (Sick)</span>' in page
    assert 'Sam Rivera <span class="warning off-note">Off 13:00–15:00</span>' in page
    assert 'title="Sam Rivera: Off 13:00–15:00"' in page  # whole, where the heading is cut short
    assert "Off" not in client.get("/calendar/?date=2026-12-09").content.decode().split('class="calendar"')[1]


def test_the_colleague_first_offered_is_one_free_at_the_visits_own_time(client, world):
    from decimal import Decimal

    from clinic.models import PractitionerQualification
    from tests.factories import PractitionerFactory

    # given Anna (first by name) and Sam may both do the visit, and Anna is busy at its time
    anna = PractitionerFactory(clinic=world.clinic, display_name="Anna Bell")
    PractitionerQualification.objects.create(
        staff_member=anna, modality="microneedling", max_depth_mm=Decimal("1.0")
    )
    lee = _book(world, world.dr_lee, 10)
    _book(world, anna, 10)
    TimeOff.objects.create(
        staff_member=world.dr_lee, start=local(world, 2026, 12, 8, 0), end=local(world, 2026, 12, 9, 0)
    )
    client.force_login(world.desk.user)
    page = client.get(reverse("appointment-detail", args=[lee.pk])).content.decode()
    # then the times first shown are Sam's, who is free at 10:00, with 10:00 among them
    assert 'aria-label="Move to Tue 8 Dec 10:00 with Sam Rivera"' in page


def test_the_clients_page_flags_their_visit_too(client, world, sick_day):
    lee, _sam, _cancelled, _off = sick_day
    client.force_login(world.desk.user)
    page = client.get(reverse("client-detail", args=[lee.client_id])).content.decode()
    assert (
        f'href="{reverse("appointment-detail", args=[lee.pk])}#reschedule">Off then: Sick. Move it</a>'
        in page
    )


def test_the_visit_page_works_out_the_days_free_times_once(client, world, sick_day, monkeypatch):
    """Choosing the stand-in and listing their free times share one availability computation."""
    import treatments.availability
    import treatments.views.booking

    lee, _sam, _cancelled, _off = sick_day
    calls = []
    for module in (treatments.availability, treatments.views.booking):
        real = module.available_slots

        def counted(*args, _real=real, **kwargs):
            calls.append(kwargs.get("practitioner_id"))
            return _real(*args, **kwargs)

        monkeypatch.setattr(module, "available_slots", counted)
    client.force_login(world.desk.user)
    page = client.get(reverse("appointment-detail", args=[lee.pk])).content.decode()
    assert 'aria-label="Move to Tue 8 Dec 13:00 with Sam Rivera"' in page
    # one for the day (everyone), and none again for Sam; the next free time looks further only when
    # the day has nothing
    assert calls == [None]
