"""After a completed visit the client is emailed, the clinic's hours later, a link to rate it (1 to 5)
and say a few words: optional mail, with one-click unsubscribe, once per visit. What they say shows on
the visit's page and in the manager's report; a low rating is put before the managers on today's list."""

import datetime as dt

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.test import Client as BrowserClient
from django.urls import reverse
from django.utils import timezone

from clinic.models import Clinic, OutboxMessage, OutboxStatus
from clinic.tasks import deliver_due_messages_task
from tests.booking_world import build_world, local
from treatments.booking import BookingRequest, appointment_book, appointment_set_status
from treatments.links import feedback_url
from treatments.models import AppointmentStatus, VisitFeedback
from treatments.notifications import FEEDBACK_REQUEST

pytestmark = pytest.mark.django_db

# The suite's now is Tuesday 1 December 2026, 07:00 in London.


@pytest.fixture
def world(db):
    world = build_world(slug="lumen-feedback")
    world.clinic.phone = "020 7946 0000"
    world.clinic.save(update_fields=["phone"])
    return world


def _had(world, *, hour=9, email="olivia@example.com", first_name="Olivia", complete_at=(10, 0), **client):
    """A visit at `hour` on 1 December, checked in and completed at `complete_at`."""
    visit = appointment_book(
        BookingRequest(
            client=world.client(first_name=first_name, last_name="Smith", email=email, **client),
            service=world.microcurrent,
            practitioner=world.dr_lee,
            start=local(world, 2026, 12, 1, hour),
        ),
        actor=world.desk.user,
    )
    with time_machine.travel(local(world, 2026, 12, 1, *complete_at), tick=False):
        appointment_set_status(visit, status=AppointmentStatus.ARRIVED, actor=world.desk.user)
        return appointment_set_status(visit, status=AppointmentStatus.FULFILLED, actor=world.desk.user)


def _path(url: str) -> str:
    return "/" + url.split("://", 1)[1].partition("/")[2]


def _requests():
    return list(OutboxMessage.objects.filter(template_key=FEEDBACK_REQUEST))


def test_a_completed_visit_asks_the_client_three_hours_later_once(world, smtp_settings, smtp_server):
    visit = _had(world)
    [request] = _requests()
    assert request.due_at == visit.end + dt.timedelta(hours=3)  # 09:45 + 3 h
    assert not request.is_essential and request.client_id == visit.client_id
    assert request.dedupe_key == f"appointment:{visit.pk}:feedback"
    with time_machine.travel(local(world, 2026, 12, 1, 12, 40), tick=False):
        deliver_due_messages_task()
    assert not [m for m in smtp_server.messages if "How was your visit" in m["Subject"]]
    with time_machine.travel(local(world, 2026, 12, 1, 13, 0), tick=False):
        deliver_due_messages_task()
    [mail] = [m for m in smtp_server.messages if m["Subject"] == "How was your visit to Lumen Skin Clinic?"]
    body = mail.get_body(preferencelist=("plain",)).get_content()
    assert "Thank you for coming to see Dr Amara Lee for your Microcurrent workout" in body
    assert "/p/feedback/" in body
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


@pytest.mark.parametrize(
    "why",
    ["the clinic asks for none", "the client unsubscribed", "no email address", "completed days later"],
)
def test_no_request_is_written_when(world, why):
    if why == "the clinic asks for none":
        Clinic.objects.filter(pk=world.clinic.pk).update(feedback_request_hours=None)
        world.clinic.refresh_from_db()
        _had(world)
    elif why == "the client unsubscribed":
        _had(world, unsubscribed_at=timezone.now())
    elif why == "no email address":
        _had(world, email="")
    else:
        visit = appointment_book(
            BookingRequest(
                client=world.client(email="late@example.com"),
                service=world.microcurrent,
                practitioner=world.dr_lee,
                start=local(world, 2026, 12, 1, 9),
            )
        )
        with time_machine.travel(local(world, 2026, 12, 4, 10), tick=False):
            appointment_set_status(visit, status=AppointmentStatus.FULFILLED, actor=world.desk.user)
    assert _requests() == []


def test_the_client_rates_the_visit_once_and_reads_it_back(world):
    visit = _had(world)
    url = _path(feedback_url(visit))
    public = BrowserClient()
    page = public.get(url).content.decode()
    assert "How was your visit?" in page and "5 – Excellent" in page and "1 – Poor" in page
    answer = public.post(url, {"rating": "4", "comment": "Lovely.\r\nA bit cold in the room."}, follow=True)
    text = answer.content.decode()
    assert "Thank you, Olivia" in text and "You gave it 4 of 5, and wrote:" in text
    assert "Lovely.<br>A bit cold in the room." in text
    [given] = VisitFeedback.objects.all()
    assert (given.appointment_id, given.rating, given.comment) == (
        visit.pk,
        4,
        "Lovely.\nA bit cold in the room.",
    )
    # sent again (a second tab, a double click): the first answer stands
    again = public.post(url, {"rating": "1", "comment": "changed my mind"})
    assert again.status_code == 400
    assert "You have already told us about this visit. Thank you." in again.content.decode()
    assert VisitFeedback.objects.get().rating == 4


@pytest.mark.parametrize("rating", ["", "0", "6", "x", "\x00"])
def test_a_rating_outside_1_to_5_is_refused_in_words(world, rating):
    visit = _had(world)
    answer = BrowserClient().post(_path(feedback_url(visit)), {"rating": rating, "comment": "Hi"})
    assert answer.status_code == 400
    assert "Please choose from 1 to 5." in answer.content.decode()
    assert not VisitFeedback.objects.exists()


def test_words_too_long_are_refused_and_nothing_is_kept(world):
    visit = _had(world)
    answer = BrowserClient().post(_path(feedback_url(visit)), {"rating": "5", "comment": "w" * 1001})
    assert answer.status_code == 400
    assert "This note is 1,001 characters long: please keep it to 1,000." in answer.content.decode()
    assert not VisitFeedback.objects.exists()


def test_a_visit_not_had_cannot_be_rated(world):
    visit = appointment_book(
        BookingRequest(
            client=world.client(email="ahead@example.com"),
            service=world.microcurrent,
            practitioner=world.dr_lee,
            start=local(world, 2026, 12, 3, 10),
        )
    )
    url = _path(feedback_url(visit))
    assert "This visit has not taken place" in BrowserClient().get(url).content.decode()
    answer = BrowserClient().post(url, {"rating": "5"})
    assert answer.status_code == 400
    assert not VisitFeedback.objects.exists()


def test_a_forged_link_is_refused_plainly(world):
    answer = BrowserClient().get(reverse("public-feedback", args=["not-a-real-token"]))
    assert answer.status_code == 404


def test_a_low_rating_is_said_sorry_for_and_put_before_the_managers(world, client):
    visit = _had(world)
    answer = BrowserClient().post(
        _path(feedback_url(visit)), {"rating": "2", "comment": "Waited 25 minutes."}, follow=True
    )
    assert "We are sorry it was not what you hoped for." in answer.content.decode()
    assert "call us on 020 7946 0000" in answer.content.decode()
    client.force_login(world.manager.user)
    today = client.get(reverse("home")).content.decode()
    assert "1 client unhappy with a visit this week" in today
    assert "Olivia Smith, 2 of 5 for Microcurrent workout with Dr Amara Lee" in today
    client.force_login(world.desk.user)
    assert "unhappy with a visit" not in client.get(reverse("home")).content.decode()
    # a week later it is no longer on today's list; the report keeps it
    with time_machine.travel(local(world, 2026, 12, 9, 8), tick=False):
        client.force_login(world.manager.user)
        assert "unhappy with a visit" not in client.get(reverse("home")).content.decode()


def test_the_visit_page_and_the_report_show_what_clients_said(world, client):
    first = _had(world, hour=9)
    second = _had(world, hour=11, email="ada@example.com", first_name="Ada", complete_at=(12, 0))
    public = BrowserClient()
    public.post(_path(feedback_url(first)), {"rating": "5", "comment": "Wonderful"})
    public.post(_path(feedback_url(second)), {"rating": "2"})
    client.force_login(world.desk.user)
    page = client.get(reverse("appointment-detail", args=[first.pk])).content.decode()
    assert "What Olivia said of the visit" in page and "<strong>5 of 5</strong>" in page
    assert "Wonderful" in page
    client.force_login(world.manager.user)
    report = client.get(reverse("report"), {"start": "2026-12-01", "end": "2026-12-01"}).content.decode()
    assert "2 clients rated a visit of these days: <strong>3.5 of 5</strong> on average." in report
    section = report[report.index('id="feedback-lines"') :]
    assert section.index("Ada Smith") < section.index("Olivia Smith")  # the lowest first


def test_the_database_keeps_ratings_within_1_to_5_and_one_a_visit(world):
    visit = _had(world)
    with pytest.raises(IntegrityError), transaction.atomic():
        VisitFeedback.objects.create(appointment=visit, rating=0)
    VisitFeedback.objects.create(appointment=visit, rating=3)
    with pytest.raises(IntegrityError), transaction.atomic():
        VisitFeedback.objects.create(appointment=visit, rating=4)


def test_the_clinic_asks_within_a_week_or_not_at_all(world):
    for hours in (0, 169):
        with pytest.raises(IntegrityError), transaction.atomic():
            Clinic.objects.filter(pk=world.clinic.pk).update(feedback_request_hours=hours)


def test_a_sent_request_is_marked_sent(world, smtp_settings, smtp_server):
    _had(world)
    with time_machine.travel(local(world, 2026, 12, 1, 13, 0), tick=False):
        deliver_due_messages_task()
    [request] = _requests()
    assert request.status == OutboxStatus.SENT
