"""Notes on a visit: the client may leave one for the clinic when booking online and change it from
their link until the visit; the clinic's own note (typed at booking, or later on the visit's page) is
shown and kept there, with every change in the visit's history. The day's list shows both; the
practitioner's email says a note is there without quoting it."""

import datetime as dt

import pytest
import time_machine
from django.test import Client as BrowserClient
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from clinic.errors import ClinicError
from clinic.models import ClientChangeEmails, OutboxMessage, StaffMember
from clinic.outbox import render_outbox_message
from tests.booking_world import build_world, local
from treatments.booking import (
    BookingRequest,
    appointment_book,
    appointment_cancel,
    appointment_client_note,
    appointment_notes_change,
)
from treatments.fhir import appointment_as_fhir_bundle
from treatments.links import manage_token
from treatments.models import Appointment, AppointmentEvent
from treatments.notifications import PRACTITIONER_NOTICE

pytestmark = pytest.mark.django_db

ADA = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "phone": "+44 7700 900123"}
SENSITIVE = "I am nervous about needles.\r\nPlease use the numbing cream."


@pytest.fixture
def world(db):
    world = build_world(slug="lumen-notes")
    world.dr_lee.user.email = "amara.lee@lumen.example"
    world.dr_lee.user.save(update_fields=["email"])
    StaffMember.objects.filter(pk=world.dr_lee.pk).update(client_change_emails=ClientChangeEmails.ALWAYS)
    return world


def _book_online(world, *, note="", start="2026-12-08T10:00"):
    url = reverse("public-details", args=[world.clinic.slug, world.microcurrent.pk])
    return BrowserClient().post(
        f"{url}?start={start}&practitioner={world.dr_lee.pk}",
        {**ADA, "note": note, "start": start, "practitioner": world.dr_lee.pk},
    )


def _book_at_the_desk(world, *, notes="", day=8, hour=10):
    return appointment_book(
        BookingRequest(
            client=world.client(first_name="Olivia", last_name="Smith", email="olivia@example.com"),
            service=world.microcurrent,
            practitioner=world.dr_lee,
            start=local(world, 2026, 12, day, hour),
            notes=notes,
        ),
        actor=world.desk.user,
    )


def test_a_client_booking_online_leaves_a_note_the_desk_reads_on_the_visit_and_the_day(world, desk):
    answer = _book_online(world, note=SENSITIVE)
    assert answer.status_code == 302
    visit = Appointment.objects.get(client__email="ada@example.com")
    # kept as typed, with one line's end between the lines (browsers send two characters)
    assert visit.client_note == "I am nervous about needles.\nPlease use the numbing cream."
    page = desk.get(reverse("appointment-detail", args=[visit.pk])).content.decode()
    assert "From Ada, for the clinic:" in page
    assert "I am nervous about needles.<br>Please use the numbing cream." in page
    day = desk.get(reverse("home") + "?date=2026-12-08").content.decode()
    assert "Their note: “I am nervous about needles." in day


def test_the_booking_page_asks_for_a_note_and_says_who_reads_it(world):
    url = reverse("public-details", args=[world.clinic.slug, world.microcurrent.pk])
    page = BrowserClient().get(f"{url}?start=2026-12-08T10:00&practitioner={world.dr_lee.pk}")
    text = page.content.decode()
    assert "Anything we should know before your visit? (optional)" in text
    assert "Read by the clinic&#x27;s team before your visit." in text
    assert 'maxlength="1000"' in text


def test_a_note_too_long_is_refused_in_words_and_nothing_is_booked(world):
    answer = _book_online(world, note="x" * 1001)
    assert answer.status_code == 400
    assert "This note is 1,001 characters long: please keep it to 1,000." in answer.content.decode()
    assert "ada@example.com" in answer.content.decode()  # what they typed is still there
    assert not Appointment.objects.exists()


def test_a_note_of_a_thousand_characters_over_several_lines_is_kept_whole(world):
    # 1,000 as the browser counts them (its maxlength), 1,009 as sent with two-character line ends
    note = "\r\n".join(["y" * 99] * 10)
    assert _book_online(world, note=note).status_code == 302
    assert len(Appointment.objects.get().client_note) == 999


def test_the_practitioner_is_told_there_is_a_note_but_not_what_it_says(world):
    _book_online(world, note=SENSITIVE)
    [notice] = OutboxMessage.objects.filter(template_key=PRACTITIONER_NOTICE)
    email = render_outbox_message(notice)
    assert "They left a note for the clinic: read it on the visit's page." in email.body
    whole = email.message().as_string()
    assert "needles" not in whole and "numbing" not in whole


def test_without_a_note_the_practitioner_email_says_nothing_of_one(world):
    _book_online(world)
    [notice] = OutboxMessage.objects.filter(template_key=PRACTITIONER_NOTICE)
    assert "left a note" not in render_outbox_message(notice).body


def test_the_client_adds_and_changes_their_note_from_their_link(world, desk):
    _book_online(world)
    visit = Appointment.objects.get()
    public = BrowserClient()
    url = reverse("public-manage", args=[manage_token(visit)])
    page = public.get(url).content.decode()
    assert "Your note for the clinic" in page and "Send my note" in page
    answer = public.post(url, {"action": "note", "note": "I may be 10 minutes late."}, follow=True)
    assert "the clinic&#x27;s team will read your note before your visit" in answer.content.decode()
    public.post(url, {"action": "note", "note": "I will be on time after all."})
    visit.refresh_from_db()
    assert visit.client_note == "I will be on time after all."
    history = desk.get(reverse("appointment-detail", args=[visit.pk])).content.decode()
    assert "The client&#x27;s note written: “I may be 10 minutes late.”" in history
    assert (
        "The client&#x27;s note changed from “I may be 10 minutes late.” to “I will be on time after all.”"
    ) in history
    # cleared
    answer = public.post(url, {"action": "note", "note": "  "}, follow=True)
    assert "Your note is removed." in answer.content.decode()
    visit.refresh_from_db()
    assert visit.client_note == ""
    assert AppointmentEvent.objects.filter(appointment=visit, action="client_note_changed").count() == 3


def test_the_practitioner_hears_of_a_note_changed_from_the_link_without_what_it_says(world):
    visit = _book_at_the_desk(world)  # booked at the desk: the practitioner is not told of that
    assert not OutboxMessage.objects.filter(template_key=PRACTITIONER_NOTICE).exists()
    appointment_client_note(visit, note=SENSITIVE)
    [notice] = OutboxMessage.objects.filter(template_key=PRACTITIONER_NOTICE)
    assert notice.recipient_email == "amara.lee@lumen.example"
    email = render_outbox_message(notice)
    assert (
        email.subject
        == "A note from the client: Microcurrent workout on Tuesday 8 December 2026 at 10:00, O. S."
    )
    assert (
        "A client (O. S.) wrote or changed their note for the clinic on their visit with Dr Amara Lee"
        in email.body
    )
    assert (
        "The note is not in this email, as it may be about their health: read it on the visit's page."
        in email.body
    )
    whole = email.message().as_string()
    assert "needles" not in whole and "numbing" not in whole
    # rewording it straight after: no second email within the quarter hour
    appointment_client_note(visit, note="Nervous about needles.")
    assert OutboxMessage.objects.filter(template_key=PRACTITIONER_NOTICE).count() == 1
    # cleared later: said so
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=16), tick=False):
        appointment_client_note(visit, note="")
    notices = list(OutboxMessage.objects.filter(template_key=PRACTITIONER_NOTICE).order_by("id"))
    assert len(notices) == 2
    cleared = render_outbox_message(notices[1])
    assert cleared.subject.startswith("Note removed by the client: Microcurrent workout")
    assert "removed their note for the clinic" in cleared.body and "not in this email" not in cleared.body


def test_a_note_changed_far_ahead_waits_for_the_day_list_when_the_practitioner_chose_so(world):
    StaffMember.objects.filter(pk=world.dr_lee.pk).update(client_change_emails=ClientChangeEmails.SOON)
    far = _book_at_the_desk(world, day=20)
    appointment_client_note(far, note="Parking?")
    assert not OutboxMessage.objects.filter(template_key=PRACTITIONER_NOTICE).exists()
    tomorrow = _book_at_the_desk(world, day=2)
    appointment_client_note(tomorrow, note="Parking?")
    assert OutboxMessage.objects.filter(template_key=PRACTITIONER_NOTICE).count() == 1


def test_the_same_note_sent_twice_is_one_change(world):
    visit = _book_at_the_desk(world)
    appointment_client_note(visit, note="Parking?")
    appointment_client_note(visit, note="Parking?\n")
    assert AppointmentEvent.objects.filter(appointment=visit, action="client_note_changed").count() == 1


def test_a_client_cannot_change_the_note_of_a_cancelled_visit(world):
    visit = _book_at_the_desk(world)
    appointment_cancel(visit, actor=world.desk.user)
    with pytest.raises(ClinicError) as refusal:
        appointment_client_note(visit, note="Sorry")
    assert refusal.value.code == "not_ahead"
    public = BrowserClient()
    url = reverse("public-manage", args=[manage_token(visit)])
    assert "Your note for the clinic" not in public.get(url).content.decode()
    answer = public.post(url, {"action": "note", "note": "Sorry"}, follow=True)
    assert "This visit is no longer ahead, so the note cannot change." in answer.content.decode()
    visit.refresh_from_db()
    assert visit.client_note == ""


def test_a_note_too_long_from_the_link_is_refused_and_the_old_one_kept(world):
    visit = _book_at_the_desk(world)
    appointment_client_note(visit, note="Parking?")
    url = reverse("public-manage", args=[manage_token(visit)])
    answer = BrowserClient().post(url, {"action": "note", "note": "z" * 1200}, follow=True)
    assert "This note is 1,200 characters long: please keep it to 1,000." in answer.content.decode()
    visit.refresh_from_db()
    assert visit.client_note == "Parking?"


def test_the_note_typed_at_the_desk_is_shown_on_the_visit_and_the_day(world, desk):
    visit = _book_at_the_desk(world, notes="Prefers the window room")
    page = desk.get(reverse("appointment-detail", args=[visit.pk])).content.decode()
    assert '<p id="clinic-note">Prefers the window room</p>' in page
    assert "Note: Prefers the window room" in desk.get(reverse("home") + "?date=2026-12-08").content.decode()


def test_the_desk_writes_changes_and_clears_the_note_with_its_history(world, desk):
    visit = _book_at_the_desk(world)
    page = desk.get(reverse("appointment-detail", args=[visit.pk])).content.decode()
    assert "No notes yet." in page and "Write a note for the team" in page
    url = reverse("appointment-action", args=[visit.pk, "notes"])
    answer = desk.post(url, {"notes-notes": "Called: running late"}, follow=True)
    assert "Note saved." in answer.content.decode()
    desk.post(url, {"notes-notes": "Arrived 10:05"})
    answer = desk.post(url, {"notes-notes": ""}, follow=True)
    assert "Note cleared." in answer.content.decode()
    page = answer.content.decode()
    assert "Note written: “Called: running late”" in page
    assert "Note changed from “Called: running late” to “Arrived 10:05”" in page
    assert "Note cleared (it said “Arrived 10:05”)" in page
    events = AppointmentEvent.objects.filter(appointment=visit, action="notes_changed").order_by("id")
    assert [e.actor for e in events] == [world.desk.user] * 3


def test_the_desk_may_note_a_visit_already_cancelled(world):
    visit = _book_at_the_desk(world)
    appointment_cancel(visit, actor=world.desk.user)
    noted = appointment_notes_change(visit, notes="Called to apologise", actor=world.desk.user)
    assert noted.notes == "Called to apologise"


def test_a_note_too_long_from_the_desk_is_refused_in_words(world, desk):
    visit = _book_at_the_desk(world, notes="Kept")
    url = reverse("appointment-action", args=[visit.pk, "notes"])
    answer = desk.post(url, {"notes-notes": "w" * 1500}, follow=True)
    assert "This note is 1,500 characters long: please keep it to 1,000." in answer.content.decode()
    visit.refresh_from_db()
    assert visit.notes == "Kept"
    with pytest.raises(ClinicError) as refusal:
        appointment_notes_change(visit, notes="w" * 1500)
    assert refusal.value.code == "note_too_long"


def test_the_api_gives_both_notes_and_refuses_a_note_too_long(world):
    visit = _book_at_the_desk(world, notes="Prefers the window room")
    appointment_client_note(visit, note="Parking?")
    api = APIClient()
    api.force_authenticate(world.desk.user)
    detail = api.get(f"/api/v1/appointments/{visit.pk}/").json()
    assert detail["notes"] == "Prefers the window room"
    assert detail["client_note"] == "Parking?"
    answer = api.post(
        "/api/v1/appointments/",
        {
            "client": visit.client_id,
            "service": world.microcurrent.pk,
            "practitioner": world.sam.pk,
            "start": "2026-12-09T10:00:00+00:00",
            "notes": "n" * 1001,
        },
        format="json",
    )
    assert answer.status_code == 400
    assert "notes" in answer.json()


def test_the_fhir_appointment_says_whose_each_note_is(world):
    visit = _book_at_the_desk(world, notes="Prefers the window room")
    visit = appointment_client_note(visit, note="Parking?")
    [appointment] = [
        entry["resource"]
        for entry in appointment_as_fhir_bundle(visit)["entry"]
        if entry["resource"]["resourceType"] == "Appointment"
    ]
    assert appointment["comment"] == "The clinic: Prefers the window room\n\nThe client: Parking?"
