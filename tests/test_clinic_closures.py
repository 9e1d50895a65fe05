"""The clinic closed (a bank holiday, the Christmas break) is one thing to record and to take back: every
practitioner is off, including one who starts after it was entered, and clients booking online on such a
day read that the clinic is closed."""

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from clinic.errors import ClinicError
from clinic.models import ClinicClosure, StaffMember, TimeOff
from clinic.time_off import clinic_closure_record, closure_said, closures_apply_to
from tests.booking_world import build_world, local
from tests.factories import PractitionerFactory, UserFactory
from tests.test_working_hours_clash import _FormFields
from treatments.availability import available_slots
from treatments.booking import BookingRequest, appointment_book

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    return build_world(slug="lumen-closed")


def _christmas(world, **kwargs):
    return clinic_closure_record(
        clinic=world.clinic,
        start=local(world, 2026, 12, 25, 0),
        end=local(world, 2026, 12, 27, 0),
        reason="Christmas",
        **kwargs,
    )


def _slots_on_christmas(world, service=None):
    return available_slots(
        service=service or world.microcurrent,
        start_date=dt.date(2026, 12, 25),
        end_date=dt.date(2026, 12, 26),
    )


def _book(world, practitioner, day, hour):
    return appointment_book(
        BookingRequest(
            client=world.client(first_name="Olivia", last_name=f"Smith{day}{hour}"),
            service=world.microcurrent,
            practitioner=practitioner,
            start=local(world, 2026, 12, day, hour),
        )
    )


def test_closing_the_clinic_on_the_page_is_one_closure_listed_once_with_every_visit_to_move(desk, world):
    lees, sams = _book(world, world.dr_lee, 25, 10), _book(world, world.sam, 26, 11)
    page = desk.post(
        reverse("time-off"),
        {
            "practitioner": "everyone",
            "start": "2026-12-25T00:00",
            "end": "2026-12-27T00:00",
            "reason": "Christmas",
        },
        follow=True,
    ).content.decode()
    assert (
        "Saved: the clinic is closed Fri 25 Dec 00:00 – Sun 27 Dec 00:00. 2 booked visits fall in it" in page
    )
    closure = ClinicClosure.objects.get()
    assert sorted(off.staff_member_id for off in closure.time_off.all()) == sorted(
        [world.dr_lee.pk, world.sam.pk]
    )
    assert {off.reason for off in closure.time_off.all()} == {"Christmas"}
    section = page[page.index(f'id="closure-{closure.pk}"') :].split("</section>")[0]
    assert "Clinic closed</strong> Fri 25 Dec 00:00 – Sun 27 Dec 00:00 (Christmas): everyone off." in section
    assert "2 booked visits to move to another day" in section
    for visit in (lees, sams):
        assert reverse("appointment-detail", args=[visit.pk]) in section
    # listed once, not once a practitioner
    for off in closure.time_off.all():
        assert f'id="time-off-{off.pk}"' not in page
    assert _slots_on_christmas(world) == []


def test_taking_the_closure_back_opens_the_clinic_for_everyone(desk, world):
    closure = _christmas(world)
    page = desk.post(reverse("closure-remove", args=[closure.pk]), follow=True).content.decode()
    assert "Taken back: the clinic is open Fri 25 Dec 00:00 – Sun 27 Dec 00:00." in page
    assert not ClinicClosure.objects.exists() and not TimeOff.objects.exists()
    assert _slots_on_christmas(world) != []
    again = desk.post(reverse("closure-remove", args=[closure.pk]), follow=True).content.decode()
    assert "That closure was already taken back." in again


def test_someone_coming_in_after_all_takes_back_their_own_share(desk, world):
    closure = _christmas(world)
    sams = closure.time_off.get(staff_member=world.sam)
    desk.post(reverse("time-off-remove", args=[sams.pk]))
    page = desk.get(reverse("time-off")).content.decode()
    assert "everyone off but Sam Rivera, in after all." in page
    slots = _slots_on_christmas(world)
    assert slots and {slot.practitioner_id for slot in slots} == {world.sam.pk}


def test_a_practitioner_who_starts_later_is_off_too(world):
    closure = _christmas(world)
    newcomer = PractitionerFactory(clinic=world.clinic, display_name="Nia Okafor")
    assert closures_apply_to(newcomer) == 1
    assert closures_apply_to(newcomer) == 0  # once
    [share] = TimeOff.objects.filter(staff_member=newcomer)
    assert (share.closure, share.start, share.end, share.reason) == (
        closure,
        closure.start,
        closure.end,
        "Christmas",
    )


def test_a_closure_already_over_is_not_given_to_a_newcomer(world, time_machine):
    _christmas(world)
    time_machine.move_to(local(world, 2026, 12, 28, 9))
    newcomer = PractitionerFactory(clinic=world.clinic)
    assert closures_apply_to(newcomer) == 0


def test_the_front_desk_is_not_given_closures(world):
    _christmas(world)
    assert closures_apply_to(world.desk) == 0
    assert not TimeOff.objects.filter(staff_member=world.desk).exists()


@pytest.fixture
def admin_manager(client, world):
    user = world.manager.user
    user.is_staff = True
    user.save()
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="clinic"))
    client.force_login(user)
    return client


def _admin_form(client, url) -> dict:
    fields = _FormFields()
    fields.feed(client.get(url).content.decode())
    return {k: v for k, v in fields.fields.items() if "__prefix__" not in k}


def test_a_practitioner_added_in_the_admin_after_the_closure_is_off_then(admin_manager, world):
    _christmas(world)
    user = UserFactory(username="nia")
    add = reverse("admin:clinic_staffmember_add")
    sent = {
        **_admin_form(admin_manager, add),
        "user": user.pk,
        "role": "practitioner",
        "display_name": "Nia Okafor",
        "is_active": "on",
        "client_change_emails": "soon",
    }
    answer = admin_manager.post(add, sent)
    assert answer.status_code == 302, answer.content.decode()[:2000]
    nia = StaffMember.objects.get(display_name="Nia Okafor")
    assert nia.clinic == world.clinic
    assert TimeOff.objects.filter(staff_member=nia, closure__isnull=False).count() == 1


def test_a_practitioner_back_in_the_admin_is_off_then_and_keeps_what_they_had(admin_manager, world):
    closure = _christmas(world)
    sams = closure.time_off.get(staff_member=world.sam)
    sams.delete()  # in after all
    StaffMember.objects.filter(pk=world.dr_lee.pk).update(is_active=False)
    closure.time_off.filter(staff_member=world.dr_lee).delete()  # as if they had left before it
    change = reverse("admin:clinic_staffmember_change", args=[world.dr_lee.pk])
    answer = admin_manager.post(change, {**_admin_form(admin_manager, change), "is_active": "on"})
    assert answer.status_code == 302
    assert closure.time_off.filter(staff_member=world.dr_lee).exists()
    # saving Sam's page with nothing changed does not undo "in after all"
    sams_page = reverse("admin:clinic_staffmember_change", args=[world.sam.pk])
    assert admin_manager.post(sams_page, _admin_form(admin_manager, sams_page)).status_code == 302
    assert not closure.time_off.filter(staff_member=world.sam).exists()


def test_a_closure_overlapping_another_is_refused_in_words(world):
    _christmas(world)
    with pytest.raises(ClinicError) as refused:
        clinic_closure_record(
            clinic=world.clinic, start=local(world, 2026, 12, 26, 0), end=local(world, 2026, 12, 28, 0)
        )
    assert refused.value.code == "overlapping"
    assert "already closed Fri 25 Dec 00:00 – Sun 27 Dec 00:00 (Christmas)" in refused.value.message
    assert ClinicClosure.objects.count() == 1


@pytest.mark.parametrize(
    ("start", "end", "code"),
    [
        ((2026, 12, 25, 9), (2026, 12, 25, 9), "ends_before_start"),
        ((2026, 12, 25, 0), (2028, 1, 1, 0), "too_long"),
    ],
)
def test_a_closure_that_cannot_be_is_refused(world, start, end, code):
    with pytest.raises(ClinicError) as refused:
        clinic_closure_record(clinic=world.clinic, start=local(world, *start), end=local(world, *end))
    assert refused.value.code == code
    assert not ClinicClosure.objects.exists() and not TimeOff.objects.exists()


def test_clients_booking_online_read_that_the_clinic_is_closed(client, world):
    _christmas(world)
    page = client.get(
        reverse("public-times", args=[world.clinic.slug, world.microcurrent.pk]), {"date": "2026-12-26"}
    ).content.decode()
    assert "We are closed from Friday 25 December to Saturday 26 December (Christmas)." in page
    assert "No free times on this day." in page
    open_day = client.get(
        reverse("public-times", args=[world.clinic.slug, world.microcurrent.pk]), {"date": "2026-12-28"}
    ).content.decode()
    assert "We are closed" not in open_day


@pytest.mark.parametrize(
    ("start", "end", "reason", "said"),
    [
        ((2027, 1, 1, 0), (2027, 1, 2, 0), "", "closed on Friday 1 January"),
        (
            (2026, 12, 25, 0),
            (2026, 12, 27, 0),
            "Christmas",
            "closed from Friday 25 December to Saturday 26 December (Christmas)",
        ),
        (
            (2026, 12, 24, 13),
            (2026, 12, 27, 0),
            "",
            "closed from Thursday 24 December at 13:00 to Saturday 26 December",
        ),
        (
            (2026, 12, 31, 0),
            (2027, 1, 1, 12),
            "",
            "closed from Thursday 31 December to Friday 1 January at 12:00",
        ),
        (
            (2026, 12, 24, 13),
            (2026, 12, 24, 17),
            "Staff party",
            "closed on Thursday 24 December from 13:00 to 17:00 (Staff party)",
        ),
    ],
)
def test_a_closure_is_said_in_whole_days_or_with_its_hours(world, start, end, reason, said):
    closure = ClinicClosure(start=local(world, *start), end=local(world, *end), reason=reason)
    assert closure_said(closure, world.clinic.zone) == said


def test_opening_the_clinic_again_offers_the_time_to_the_waitlist(desk, world):
    from clinic.models import OutboxMessage
    from treatments.waitlist import waitlist_add

    closure = _christmas(world)
    olivia = world.client(first_name="Olivia", last_name="Smith", email="olivia@example.com")
    waitlist_add(
        client=olivia,
        service=world.microcurrent,
        first_day=dt.date(2026, 12, 26),
        last_day=dt.date(2026, 12, 26),
    )
    assert not OutboxMessage.objects.filter(template_key="waitlist_offer").exists()
    desk.post(reverse("closure-remove", args=[closure.pk]))
    [offer] = OutboxMessage.objects.filter(template_key="waitlist_offer")
    assert offer.dedupe_key.endswith(f":freed:closure:{closure.pk}")
    assert offer.context["times"][0].startswith("Saturday 26 December at 09:00")


def test_the_days_list_the_calendar_and_the_finder_say_the_clinic_is_closed(desk, world):
    _christmas(world)
    said = "The clinic is closed from Friday 25 December to Saturday 26 December (Christmas)."
    assert said in desk.get(reverse("home"), {"date": "2026-12-25"}).content.decode()
    assert said in desk.get(reverse("calendar"), {"date": "2026-12-26"}).content.decode()
    week = desk.get(reverse("calendar"), {"date": "2026-12-21", "view": "week"}).content.decode()
    assert said in week
    finder = desk.get(
        reverse("book"), {"service": world.microcurrent.pk, "date": "2026-12-25"}
    ).content.decode()
    assert said in finder and 'id="no-free-time"' in finder
    assert "The clinic is closed" not in desk.get(reverse("home"), {"date": "2026-12-24"}).content.decode()


def test_a_year_of_bank_holidays_and_much_time_off_still_lists_everyone_off_on_each(desk, world):
    from clinic.time_off import time_off_record

    for week in range(12):  # a dozen closures, each a Monday...
        clinic_closure_record(
            clinic=world.clinic,
            start=local(world, 2027, 1, 4, 0) + dt.timedelta(weeks=week),
            end=local(world, 2027, 1, 5, 0) + dt.timedelta(weeks=week),
            reason="Bank holiday",
        )
    for day in range(1, 120):  # ...and more personal time off than the page lists
        time_off_record(
            clinic=world.clinic,
            practitioner=world.sam,
            start=local(world, 2026, 12, 2, 12) + dt.timedelta(days=day),
            end=local(world, 2026, 12, 2, 13) + dt.timedelta(days=day),
            reason="Lunch",
        )
    page = desk.get(reverse("time-off")).content.decode()
    assert page.count("Clinic closed</strong>") == 12
    assert page.count("(Bank holiday): everyone off.") == 12  # nobody wrongly "in after all"
