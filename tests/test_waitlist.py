"""The waitlist: a client waits for a time; a cancellation or a move that frees one tells them, once;
they book it from their link (or the desk does), and booking takes them off."""

import datetime as dt
import re

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clients.models import Client, ClientCondition, IntakeQuestionnaire, IntakeResponse
from clinic.errors import ClinicError
from clinic.models import OutboxMessage, OutboxStatus, WorkingHours
from clinic.outbox import out_of_date_reasons
from clinic.tasks import deliver_due_messages_task
from tests.booking_world import build_world, local
from treatments.booking import (
    BookingRequest,
    appointment_book,
    appointment_cancel,
    appointment_reschedule,
    course_book,
)
from treatments.links import manage_token
from treatments.models import Appointment, AppointmentStatus, WaitlistEnded, WaitlistEntry
from treatments.waitlist import (
    OFFER,
    free_times_for,
    waiting_for_said,
    waitlist_add,
    waitlist_end,
    waitlist_token,
)

pytestmark = pytest.mark.django_db

MONDAY = dt.date(2026, 12, 7)


@pytest.fixture
def world(db):
    world = build_world(slug="lumen-waitlist")
    world.clinic.email = "hello@lumen.example"
    world.clinic.save(update_fields=["email"])
    return world


@pytest.fixture
def olivia(world):
    return world.client(first_name="Olivia", last_name="Smith", email="olivia@example.com")


def _wait_at_ten(world, client, **kwargs):
    """`client` waits for microneedling with Dr Lee on Monday 7 December, starting at 10:00 only."""
    fields = {
        "service": world.microneedling,
        "practitioner": world.dr_lee,
        "first_day": MONDAY,
        "last_day": MONDAY,
        "from_time": dt.time(10),
        "until_time": dt.time(10),
        **kwargs,
    }
    return waitlist_add(client=client, **fields)


def _ben_at_ten(world):
    """Ben holds Dr Lee at 10:00 on Monday (mesotherapy, 09:50–10:55 with its buffers)."""
    ben = world.client(first_name="Ben", email="ben@example.com")
    return _book(world, ben, world.mesotherapy, world.dr_lee, 7, 10)


def _book(world, client, service, practitioner, day, hour):
    """Book `client` on `day` December 2026 at `hour`:00, London time."""
    return appointment_book(
        BookingRequest(
            client=client, service=service, practitioner=practitioner, start=local(world, 2026, 12, day, hour)
        )
    )


def _offers(**about):
    return list(OutboxMessage.objects.filter(template_key=OFFER, **about))


# --- putting a client on it ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"first_day": dt.date(2026, 11, 30)}, "The first day has passed"),
        ({"last_day": dt.date(2026, 12, 6)}, "The last day comes before the first"),
        ({"last_day": MONDAY + dt.timedelta(days=92)}, "more than 92 days of waiting"),
        ({"from_time": dt.time(15), "until_time": dt.time(11)}, "“Starting by” comes before “starting from”"),
    ],
)
def test_days_and_hours_that_make_no_sense_are_refused_in_words(world, olivia, fields, said):
    with pytest.raises(ClinicError, match=said):
        _wait_at_ten(world, olivia, **fields)
    assert not WaitlistEntry.objects.exists()


def test_a_practitioner_not_qualified_for_the_service_is_refused(world, olivia):
    with pytest.raises(ClinicError, match="Sam Rivera is not qualified for Acne scar microneedling"):
        _wait_at_ten(world, olivia, service=world.deep_microneedling, practitioner=world.sam)


def test_a_client_booking_would_refuse_is_not_put_on_it(world, olivia):
    questionnaire = IntakeQuestionnaire.objects.create(
        clinic=world.clinic, version=1, title="Health", is_current=True
    )
    response = IntakeResponse.objects.create(
        client=olivia, questionnaire=questionnaire, answers={"pregnancy": "yes"}
    )
    ClientCondition.objects.create(response=response, client=olivia, code="pregnancy")
    with pytest.raises(ClinicError, match="Olivia Smith cannot have Microneedling facial: Pregnant"):
        _wait_at_ten(world, olivia)


def test_a_client_waits_once_for_a_service_on_any_day(world, olivia):
    _wait_at_ten(world, olivia, last_day=MONDAY + dt.timedelta(days=3))
    with pytest.raises(
        ClinicError, match="Olivia Smith is already waiting for Microneedling facial, Mon 7 Dec to Thu"
    ):
        _wait_at_ten(
            world, olivia, first_day=MONDAY + dt.timedelta(days=2), last_day=MONDAY + dt.timedelta(days=5)
        )
    # another service, or days after the first entry's, are another wait
    _wait_at_ten(world, olivia, service=world.microcurrent, practitioner=None)
    _wait_at_ten(
        world, olivia, first_day=MONDAY + dt.timedelta(days=4), last_day=MONDAY + dt.timedelta(days=4)
    )
    assert WaitlistEntry.objects.filter(client=olivia).count() == 3


def test_the_database_refuses_days_out_of_order_and_an_end_without_its_reason(world, olivia):
    entry = _wait_at_ten(world, olivia)
    with pytest.raises(IntegrityError), transaction.atomic():
        WaitlistEntry.objects.filter(pk=entry.pk).update(last_day=MONDAY - dt.timedelta(days=1))
    with pytest.raises(IntegrityError), transaction.atomic():
        WaitlistEntry.objects.filter(pk=entry.pk).update(ended_at=entry.added_at)
    with pytest.raises(IntegrityError), transaction.atomic():
        WaitlistEntry.objects.filter(pk=entry.pk).update(from_time=dt.time(12), until_time=dt.time(11))


# --- a time comes free ------------------------------------------------------------------------


def test_a_cancellation_that_frees_a_suitable_time_writes_the_waiting_client_one_offer(world, olivia):
    ben_visit = _ben_at_ten(world)
    entry = _wait_at_ten(world, olivia)
    assert (
        free_times_for([WaitlistEntry.objects.select_related("service__clinic").get(pk=entry.pk)])[entry.pk]
        == []
    )

    appointment_cancel(ben_visit, reason="Ill")

    [offer] = _offers()
    assert offer.recipient_email == "olivia@example.com"
    assert offer.status == OutboxStatus.PENDING
    assert offer.topic == f"waitlist:{entry.pk}"
    assert offer.context["times"] == ["Monday 7 December at 10:00 with Dr Amara Lee"]
    assert offer.context["zone_abbreviation"] == "GMT"
    assert offer.is_essential  # they asked to be told
    # nobody else is written, and Ben is not offered the time he gave up
    assert not _offers(recipient_email="ben@example.com")


def test_a_client_waiting_twice_for_the_same_is_written_one_offer(world, olivia):
    """Two records of Olivia, each waiting for Monday morning, merged: she is one person, told once."""
    from clients.merging import client_merge

    ben_visit = _ben_at_ten(world)
    olivia_online = world.client(first_name="Olivia", last_name="Smith", email="olivia@example.com")
    first = _wait_at_ten(world, olivia)
    _wait_at_ten(world, olivia_online, from_time=dt.time(9), until_time=dt.time(12))
    client_merge(kept=olivia, merged=olivia_online, by=world.manager)
    assert WaitlistEntry.objects.filter(client=olivia, ended_at=None).count() == 2

    appointment_cancel(ben_visit, reason="Ill")

    [offer] = _offers()
    assert offer.topic == f"waitlist:{first.pk}" and offer.client_id == olivia.pk
    # the times that suit either place: 10:00 for the first, from 09:00 for the second
    assert "Monday 7 December at 10:00 with Dr Amara Lee" in offer.context["times"]
    assert offer.context["times"][0] == "Monday 7 December at 09:15 with Dr Amara Lee"


def test_the_waitlist_lists_a_client_waiting_twice_once_with_both_places(desk, world, olivia):
    """After the merge, the desk sees one Olivia with her two places and the times suiting either."""
    from clients.merging import client_merge

    olivia_online = world.client(first_name="Olivia", last_name="Smith", email="olivia@example.com")
    first = _wait_at_ten(world, olivia)
    second = _wait_at_ten(world, olivia_online, from_time=dt.time(9), until_time=dt.time(12))
    nadia = _wait_at_ten(world, world.client(first_name="Nadia", email="nadia@example.com"))
    client_merge(kept=olivia, merged=olivia_online, by=world.manager)

    page = desk.get(reverse("waitlist")).content.decode()
    cards = re.findall(r'<section class="card waitlist-entry" id="waiting-(\d+)">(.*?)</section>', page, re.S)
    assert [int(pk) for pk, _ in cards] == [first.pk, nadia.pk]
    olivias = cards[0][1]
    assert "Waiting twice for this" in olivias
    assert f'id="place-{first.pk}"' in olivias and f'id="place-{second.pk}"' in olivias
    # each place can be taken off on its own
    assert reverse("waitlist-remove", args=[first.pk]) in olivias
    assert reverse("waitlist-remove", args=[second.pk]) in olivias
    # 09:15 suits only the second place, 10:00 both: listed once, in order
    starts = re.findall(r"Mon 7 Dec (\d\d:\d\d) · Dr Amara Lee", olivias)
    assert starts[0] == "09:15" and starts.count("10:00") == 1 and starts == sorted(starts)
    assert "Waiting twice" not in cards[1][1]

    desk.post(reverse("waitlist-remove", args=[second.pk]))
    page = desk.get(reverse("waitlist")).content.decode()
    assert "Waiting twice" not in page and f'id="place-{second.pk}"' not in page
    assert f'id="place-{first.pk}"' in page


def test_no_offer_when_what_came_free_does_not_suit_them(world, olivia):
    ben_visit = _ben_at_ten(world)
    # Olivia can only start at 15:00, and another client waits only with Sam
    _wait_at_ten(world, olivia, from_time=dt.time(15), until_time=dt.time(16))
    nadia = world.client(first_name="Nadia", email="nadia@example.com")
    _wait_at_ten(
        world, nadia, first_day=MONDAY + dt.timedelta(days=1), last_day=MONDAY + dt.timedelta(days=1)
    )
    appointment_cancel(ben_visit)
    assert _offers() == []


def test_a_client_without_an_email_address_is_not_written_but_the_desk_sees_the_time(desk, world):
    ben_visit = _ben_at_ten(world)
    entry = _wait_at_ten(world, world.client(first_name="Pat", email=""))
    appointment_cancel(ben_visit)
    assert _offers() == []
    page = desk.get(reverse("waitlist")).content.decode()
    assert "no email address: call them" in page
    assert f"start=2026-12-07T10:00&client={entry.client_id}" in page


def test_moving_a_visit_away_offers_the_time_it_held(world, olivia):
    ben_visit = _ben_at_ten(world)
    _wait_at_ten(world, olivia)
    appointment_reschedule(ben_visit, start=local(world, 2026, 12, 7, 14))
    [offer] = _offers()
    assert offer.context["times"] == ["Monday 7 December at 10:00 with Dr Amara Lee"]


def test_the_same_change_writes_its_offer_once(world, olivia):
    from treatments.waitlist import waitlist_offer_freed

    ben_visit = _ben_at_ten(world)
    _wait_at_ten(world, olivia)
    cancelled = appointment_cancel(ben_visit)
    waitlist_offer_freed(cancelled, blocked_start=cancelled.blocked_start, blocked_end=cancelled.blocked_end)
    assert len(_offers()) == 1


def test_a_cancellation_rolled_back_leaves_no_offer(world, olivia):
    ben_visit = _ben_at_ten(world)
    _wait_at_ten(world, olivia)
    with pytest.raises(RuntimeError), transaction.atomic():
        appointment_cancel(ben_visit)
        raise RuntimeError("the request failed after the cancel")
    assert _offers() == []
    assert Appointment.objects.get(pk=ben_visit.pk).status == AppointmentStatus.BOOKED


# --- booking takes them off ---------------------------------------------------------------------


def test_any_booking_of_the_service_on_their_days_takes_them_off(world, olivia):
    entry = _wait_at_ten(world, olivia, from_time=None, until_time=None, practitioner=None)
    other = _wait_at_ten(world, olivia, service=world.microcurrent, practitioner=None)
    visit = _book(world, olivia, world.microneedling, world.sam, 7, 15)
    entry.refresh_from_db()
    other.refresh_from_db()
    assert entry.ended_because == WaitlistEnded.BOOKED
    assert entry.appointment == visit
    assert other.ended_at is None  # another service: still waiting


def test_a_booking_on_another_day_leaves_them_waiting(world, olivia):
    entry = _wait_at_ten(world, olivia)
    _book(world, olivia, world.microneedling, world.dr_lee, 9, 10)
    entry.refresh_from_db()
    assert entry.ended_at is None


def test_a_course_or_a_visit_moved_into_their_days_takes_them_off(world, olivia):
    entry = _wait_at_ten(
        world, olivia, service=world.microcurrent, practitioner=None, from_time=None, until_time=None
    )
    course_book(
        client=olivia,
        service=world.microcurrent,
        practitioner=world.sam,
        starts=[local(world, 2026, 12, 3, 10), local(world, 2026, 12, 7, 10)],
        actor=None,
    )
    entry.refresh_from_db()
    assert entry.ended_because == WaitlistEnded.BOOKED

    later = _wait_at_ten(world, olivia, first_day=dt.date(2026, 12, 14), last_day=dt.date(2026, 12, 14))
    visit = _book(world, olivia, world.microneedling, world.dr_lee, 21, 10)
    appointment_reschedule(visit, start=local(world, 2026, 12, 14, 10))
    later.refresh_from_db()
    assert later.ended_because == WaitlistEnded.BOOKED
    assert later.appointment_id == visit.pk


# --- at delivery: still true? -------------------------------------------------------------------


def test_the_offer_goes_through_smtp_with_the_link_and_the_local_time(
    world, olivia, smtp_settings, smtp_server
):
    ben_visit = _ben_at_ten(world)
    _wait_at_ten(world, olivia)
    appointment_cancel(ben_visit)
    deliver_due_messages_task()
    to_olivia = [m for m in smtp_server.messages if m["To"].addresses[0].addr_spec == "olivia@example.com"]
    assert sorted(m["Subject"] for m in to_olivia) == [
        "A time came free for your Microneedling facial",
        "You are on our waitlist for Microneedling facial",
    ]
    [mail] = [m for m in to_olivia if m["Subject"].startswith("A time came free")]
    body = mail.get_body(("plain",)).get_content()
    assert "Monday 7 December at 10:00 with Dr Amara Lee" in body
    assert "(Europe/London time, GMT)" in body
    assert re.search(r"http://\S+/p/waitlist/\S+/", body)


def test_an_offer_is_not_sent_once_the_client_is_booked_or_has_left(world, olivia):
    ben_visit = _ben_at_ten(world)
    entry = _wait_at_ten(world, olivia)
    appointment_cancel(ben_visit)
    [offer] = _offers()
    _book(world, olivia, world.microneedling, world.sam, 7, 14)
    assert out_of_date_reasons([offer], now=dt.datetime.now(dt.UTC)) == {offer.pk: "the client was booked"}

    nadia = world.client(first_name="Nadia", email="nadia@example.com")
    waiting = _wait_at_ten(world, nadia, first_day=dt.date(2026, 12, 8), last_day=dt.date(2026, 12, 8))
    ben_tuesday = _book(world, world.client(), world.mesotherapy, world.dr_lee, 8, 10)
    appointment_cancel(ben_tuesday)
    [nadia_offer] = _offers(recipient_email="nadia@example.com")
    waitlist_end(waiting, because=WaitlistEnded.LEFT)
    nadia_offer.refresh_from_db()
    assert nadia_offer.status == OutboxStatus.CANCELLED  # leaving stops what was still to go
    assert entry.pk != waiting.pk


def test_an_offer_whose_time_was_taken_again_is_not_sent(world, olivia, smtp_settings, smtp_server):
    ben_visit = _ben_at_ten(world)
    _wait_at_ten(world, olivia)
    appointment_cancel(ben_visit)
    _ben_at_ten(world)  # someone took it back before the worker sent the offer
    deliver_due_messages_task()
    [offer] = _offers()
    assert offer.status == OutboxStatus.CANCELLED
    assert "the times that came free were taken again" in offer.last_error
    assert not [m for m in smtp_server.messages if m["Subject"].startswith("A time came free")]


# --- the client's page --------------------------------------------------------------------------


def test_the_client_books_a_time_from_their_link_and_is_off_the_waitlist(client, world, olivia):
    ben_visit = _ben_at_ten(world)
    entry = _wait_at_ten(world, olivia)
    appointment_cancel(ben_visit)
    url = reverse("public-waitlist", args=[waitlist_token(entry)])
    page = client.get(url).content.decode()
    assert "Microneedling facial, Monday 7 December, starting at 10:00, with Dr Amara Lee" in page
    assert 'aria-label="Book Monday 7 December at 10:00 with Dr Amara Lee"' in page
    asked = client.get(url, {"book": "2026-12-07T10:00", "with": world.dr_lee.pk}).content.decode()
    assert "Book this time?" in asked
    assert "Monday 7 December at 10:00</strong> (Europe/London)" in asked
    assert not Appointment.objects.filter(client=olivia).exists()  # asked, not booked

    response = client.post(
        url, {"action": "book", "start": "2026-12-07T10:00", "practitioner": world.dr_lee.pk}, follow=True
    )
    visit = Appointment.objects.get(client=olivia)
    assert visit.start == local(world, 2026, 12, 7, 10)
    assert visit.events.get(action="booked").details["source"] == "waitlist"
    assert "You are booked" in response.content.decode()
    assert response.redirect_chain[-1][0].startswith("/p/manage/")
    entry.refresh_from_db()
    assert entry.ended_because == WaitlistEnded.BOOKED
    assert "You were booked" in client.get(url).content.decode()


def test_a_time_taken_meanwhile_is_said_and_nothing_is_booked(client, world, olivia):
    ben_visit = _ben_at_ten(world)
    entry = _wait_at_ten(world, olivia)
    appointment_cancel(ben_visit)
    url = reverse("public-waitlist", args=[waitlist_token(entry)])
    _ben_at_ten(world)
    response = client.post(
        url, {"action": "book", "start": "2026-12-07T10:00", "practitioner": world.dr_lee.pk}, follow=True
    )
    page = response.content.decode()
    assert "that time has just been taken" in page
    assert "Nothing that suits you is free at the moment" in page
    assert not Appointment.objects.filter(client=olivia).exists()
    asked = client.get(url, {"book": "2026-12-07T10:00", "with": world.dr_lee.pk}).content.decode()
    assert "Book this time?" not in asked
    assert "that time has just been taken" in asked
    # a time outside what they wait for is not booked either, though free
    client.post(url, {"action": "book", "start": "2026-12-07T15:00", "practitioner": world.dr_lee.pk})
    assert not Appointment.objects.filter(client=olivia).exists()


def test_the_client_leaves_the_waitlist_from_their_link(client, world, olivia):
    entry = _wait_at_ten(world, olivia)
    url = reverse("public-waitlist", args=[waitlist_token(entry)])
    client.post(url, {"action": "leave"})
    entry.refresh_from_db()
    assert entry.ended_because == WaitlistEnded.LEFT
    assert entry.ended_by is None
    assert "You are no longer on the waitlist" in client.get(url).content.decode()


def test_an_altered_link_is_refused(client, world, olivia):
    entry = _wait_at_ten(world, olivia)
    token = waitlist_token(entry)
    response = client.get(reverse("public-waitlist", args=[token[:-2] + "xx"]))
    assert response.status_code == 404
    assert "This link is not valid" in response.content.decode()


# --- the desk's page ----------------------------------------------------------------------------


def test_the_desk_adds_a_client_and_sees_the_times_free_now(desk, world, olivia):
    response = desk.post(
        reverse("waitlist"),
        {
            "client": olivia.pk,
            "service": world.microneedling.pk,
            "practitioner": world.dr_lee.pk,
            "first_day": "2026-12-07",
            "last_day": "2026-12-07",
            "from_time": "15:30",
            "until_time": "",
            "note": "Can come at short notice",
        },
        follow=True,
    )
    entry = WaitlistEntry.objects.get(client=olivia)
    assert (entry.from_time, entry.until_time, entry.added_by) == (dt.time(15, 30), None, world.desk.user)
    page = response.content.decode()
    assert (
        "Olivia Smith is on the waitlist for Microneedling facial, Monday 7 December, "
        "starting at 15:30 or later" in page
    )
    # the hour and its 10 minutes after must end by 17:00: 15:30 and 15:45 fit, 16:00 does not
    assert f"start=2026-12-07T15:30&client={olivia.pk}" in page
    assert f"start=2026-12-07T15:45&client={olivia.pk}" in page
    assert "2026-12-07T16:00" not in page
    assert "2026-12-07T15:15" not in page


def test_the_desk_is_told_what_is_wrong_and_nothing_is_saved(desk, world, olivia):
    response = desk.post(
        reverse("waitlist"),
        {
            "client": olivia.pk,
            "service": world.microneedling.pk,
            "first_day": "2026-12-09",
            "last_day": "2026-12-08",
        },
    )
    assert response.status_code == 400
    assert "The last day comes before the first" in response.content.decode()
    response = desk.post(reverse("waitlist"), {"service": world.microneedling.pk, "first_day": "2026-12-09"})
    assert response.status_code == 400
    assert "Choose a client from the search" in response.content.decode()
    assert not WaitlistEntry.objects.exists()


def test_the_desk_adds_a_new_caller_with_their_wait(desk, world):
    desk.post(
        reverse("waitlist"),
        {
            "new-first_name": "Quinn",
            "new-last_name": "Taylor",
            "new-phone": "07700 900123",
            "service": world.microcurrent.pk,
            "first_day": "2026-12-07",
            "last_day": "2026-12-10",
        },
    )
    entry = WaitlistEntry.objects.get()
    assert entry.client.full_name == "Quinn Taylor"
    assert entry.practitioner is None


def test_the_desk_takes_a_client_off(desk, world, olivia):
    entry = _wait_at_ten(world, olivia)
    response = desk.post(reverse("waitlist-remove", args=[entry.pk]), follow=True)
    entry.refresh_from_db()
    assert (entry.ended_because, entry.ended_by) == (WaitlistEnded.REMOVED, world.desk.user)
    page = response.content.decode()
    assert "Olivia Smith is off the waitlist for Microneedling facial" in page
    assert "Nobody is waiting" in page
    assert "taken off by the clinic" in page


def test_another_clinics_entry_is_not_found(desk, world):
    other = build_world(slug="elsewhere")
    entry = _wait_at_ten(other, other.client(email="x@example.com"))
    assert desk.post(reverse("waitlist-remove", args=[entry.pk])).status_code == 404
    assert other.client().pk not in [e.client_id for e in WaitlistEntry.objects.filter(clinic=world.clinic)]


def test_the_page_takes_the_same_queries_for_three_entries_or_twelve(desk, world):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert desk.get(reverse("waitlist")).status_code == 200
        return len(captured)

    def add(count):
        for _ in range(count):
            _wait_at_ten(world, world.client(email="w@example.com"), from_time=None, until_time=None)

    add(3)
    few = queries()
    add(9)
    assert queries() == few


def test_the_finder_offers_the_waitlist_when_nothing_is_free_and_the_client_page_says_they_wait(
    desk, world, olivia
):
    def finder():
        query = {"service": world.microneedling.pk, "practitioner": world.dr_lee.pk, "date": "2026-12-07"}
        return desk.get(reverse("book"), {**query, "client": olivia.pk}).content.decode()

    _ben_at_ten(world)
    assert "No free time on this day" not in finder()  # Dr Lee is free at other times: no waitlist link
    WorkingHours.objects.filter(staff_member=world.dr_lee).update(
        start_time=dt.time(10), end_time=dt.time(11)
    )
    page = finder()
    assert "No free time on this day" in page
    link = re.search(r'<a id="to-waitlist" href="([^"]+)">Put Olivia on the waitlist</a>', page)
    assert link is not None
    form = desk.get(link.group(1).replace("&amp;", "&")).content.decode()
    assert f'name="client" id="id_client" value="{olivia.pk}"' in form
    assert f'<option value="{world.microneedling.pk}" selected>' in form
    assert 'name="first_day" value="2026-12-07"' in form

    _wait_at_ten(world, olivia)
    client_page = desk.get(reverse("client-detail", args=[olivia.pk])).content.decode()
    assert (
        "waitlist</a> for: Microneedling facial, Monday 7 December, starting at 10:00, with Dr Amara Lee."
        in (client_page)
    )


# --- joining online, and the email that says so ---------------------------------------------------


def _join(client, world, **fields):
    url = reverse("public-waitlist-join", args=[world.clinic.slug, world.microneedling.pk])
    data = {
        "first_name": "Rosa",
        "last_name": "Diaz",
        "email": "rosa@example.com",
        "first_day": "2026-12-07",
        "last_day": "2026-12-11",
        "from_time": "17:00",
        "until_time": "",
        **fields,
    }
    return client.post(url, data, follow=True)


def test_a_client_joins_online_from_a_day_with_nothing_that_suits_them(client, world):
    times = client.get(
        reverse("public-times", args=[world.clinic.slug, world.microneedling.pk]), {"date": "2026-12-07"}
    ).content.decode()
    assert "None of these suits you?" in times
    assert f"/p/{world.clinic.slug}/book/{world.microneedling.pk}/waitlist/?date=2026-12-07" in times

    response = _join(client, world)
    entry = WaitlistEntry.objects.select_related("client").get()
    assert (entry.client.email, entry.first_day, entry.last_day) == (
        "rosa@example.com",
        MONDAY,
        dt.date(2026, 12, 11),
    )
    assert (entry.from_time, entry.practitioner, entry.added_by) == (dt.time(17), None, None)
    page = response.content.decode()
    assert "You are on the waitlist. We have emailed you the link to this page." in page
    assert "Nothing that suits you is free at the moment" in page  # nobody starts at 17:00 or later
    [joined] = OutboxMessage.objects.filter(template_key="waitlist_joined")
    assert joined.recipient_email == "rosa@example.com"
    assert (
        joined.context["waiting_for"]
        == "Microneedling facial, Mon 7 Dec to Fri 11 Dec, starting at 17:00 or later"
    )
    assert f"/p/waitlist/{waitlist_token(entry)[:20]}" in joined.context["waitlist_url"]


def test_joining_online_twice_or_with_nothing_to_write_to_is_said_plainly(client, world):
    _join(client, world)
    again = _join(client, world)
    assert again.status_code == 400
    assert "You are already on our waitlist for this treatment" in again.content.decode()
    no_email = _join(client, world, email="", last_name="Other", phone="07700 900456")
    assert "We need your email address to tell you when a time comes free." in no_email.content.decode()
    backwards = _join(client, world, first_name="Sol", email="sol@example.com", last_day="2026-12-01")
    assert "The last day comes before the first" in backwards.content.decode()
    assert WaitlistEntry.objects.count() == 1


def test_a_client_whom_booking_would_refuse_is_asked_to_call_and_nothing_is_kept(client, world):
    questionnaire = IntakeQuestionnaire.objects.create(
        clinic=world.clinic, version=1, title="Health", is_current=True
    )
    rosa = world.client(first_name="Rosa", last_name="Diaz", email="rosa@example.com")
    response = IntakeResponse.objects.create(
        client=rosa, questionnaire=questionnaire, answers={"pregnancy": "yes"}
    )
    ClientCondition.objects.create(response=response, client=rosa, code="pregnancy")
    page = _join(client, world).content.decode()
    assert "We need a word with you before booking this treatment" in page
    assert "Pregnant" not in page  # medical detail is for the practitioner
    assert not WaitlistEntry.objects.exists()


def test_the_joined_email_is_not_sent_once_they_are_booked(world, olivia, smtp_settings, smtp_server):
    entry = _wait_at_ten(world, olivia)
    _book(world, olivia, world.microneedling, world.sam, 7, 14)
    deliver_due_messages_task()
    joined = OutboxMessage.objects.get(template_key="waitlist_joined", topic=f"waitlist:{entry.pk}")
    assert joined.status == OutboxStatus.CANCELLED
    assert "the client was booked" in joined.last_error


def test_taking_back_time_off_offers_the_time_it_held(desk, world, olivia):
    from clinic.time_off import time_off_record

    off = time_off_record(
        clinic=world.clinic,
        practitioner=world.dr_lee,
        start=local(world, 2026, 12, 7, 9),
        end=local(world, 2026, 12, 7, 13),
        reason="Training",
    )
    _wait_at_ten(world, olivia)
    assert _offers() == []
    desk.post(reverse("time-off-remove", args=[off.pk]))
    [offer] = _offers()
    assert offer.context["times"] == ["Monday 7 December at 10:00 with Dr Amara Lee"]
    assert offer.dedupe_key == f"waitlist:{offer.topic.split(':')[1]}:freed:time-off:{off.pk}"


# --- the API ------------------------------------------------------------------------------------


@pytest.fixture
def waitlist_api(world):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(world.desk.user)
    return api


def test_the_api_adds_lists_offers_times_for_and_removes_an_entry(waitlist_api, world, olivia):
    created = waitlist_api.post(
        "/api/v1/waitlist/",
        {
            "client": olivia.pk,
            "service": world.microneedling.pk,
            "practitioner": world.dr_lee.pk,
            "first_day": "2026-12-07",
            "last_day": "2026-12-07",
            "from_time": "15:30",
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    entry_id = created.json()["id"]
    assert created.json()["from_time"] == "15:30:00"
    listed = waitlist_api.get("/api/v1/waitlist/", {"client": olivia.pk}).json()["results"]
    assert [e["id"] for e in listed] == [entry_id]
    slots = waitlist_api.get(f"/api/v1/waitlist/{entry_id}/free-times/").json()["slots"]
    assert [s["start"] for s in slots] == ["2026-12-07T15:30:00Z", "2026-12-07T15:45:00Z"]
    assert {s["practitioner"] for s in slots} == {world.dr_lee.pk}

    again = waitlist_api.post(
        "/api/v1/waitlist/",
        {
            "client": olivia.pk,
            "service": world.microneedling.pk,
            "first_day": "2026-12-07",
            "last_day": "2026-12-08",
        },
        format="json",
    )
    assert again.status_code == 400
    assert again.json()["code"] == "already_waiting"

    removed = waitlist_api.post(f"/api/v1/waitlist/{entry_id}/remove/")
    assert removed.json()["ended_because"] == "removed"
    assert waitlist_api.post(f"/api/v1/waitlist/{entry_id}/remove/").json()["code"] == "already_ended"
    assert waitlist_api.get("/api/v1/waitlist/").json()["results"] == []
    assert waitlist_api.get(f"/api/v1/waitlist/{entry_id}/free-times/").json()["slots"] == []


def test_the_api_refuses_bad_input_with_field_errors_and_other_clinics_rows(waitlist_api, world, olivia):
    bad = waitlist_api.post(
        "/api/v1/waitlist/", {"client": olivia.pk, "service": 999999, "first_day": "7/12/2026"}, format="json"
    )
    assert bad.status_code == 400
    assert set(bad.json()) >= {"service", "first_day", "last_day"}
    other = build_world(slug="elsewhere")
    foreign = _wait_at_ten(other, other.client(email="x@example.com"))
    assert waitlist_api.get(f"/api/v1/waitlist/{foreign.pk}/").status_code == 404
    assert waitlist_api.post(f"/api/v1/waitlist/{foreign.pk}/remove/").status_code == 404


def test_a_second_opening_before_the_offer_went_is_told_by_that_offer(
    world, olivia, smtp_settings, smtp_server
):
    # Dr Lee is held 09:50–10:55 and 11:50–12:55: no hour of microneedling (with 15 minutes before and
    # 10 after) starts between 10:00 and 12:00
    ben_visit = _ben_at_ten(world)
    noon = _book(world, world.client(email="c@example.com"), world.mesotherapy, world.dr_lee, 7, 12)
    _wait_at_ten(world, olivia, until_time=dt.time(12))
    appointment_cancel(ben_visit)
    appointment_cancel(noon)
    [offer] = _offers()  # one email, not one per cancellation
    deliver_due_messages_task()
    offer.refresh_from_db()
    assert offer.status == OutboxStatus.SENT
    # it lists what is free when it goes: both openings, 10:00 to 12:00 every quarter of an hour
    assert offer.context["times"][0] == "Monday 7 December at 10:00 with Dr Amara Lee"
    assert (len(offer.context["times"]), offer.context["more_times"]) == (5, 4)
    # once that one went, the next opening is news: a new offer
    appointment_cancel(_ben_at_ten(world))
    assert len(_offers()) == 2


def test_the_visits_history_says_the_client_booked_it_from_the_waitlist(client, desk, world, olivia):
    ben_visit = _ben_at_ten(world)
    entry = _wait_at_ten(world, olivia)
    appointment_cancel(ben_visit)
    url = reverse("public-waitlist", args=[waitlist_token(entry)])
    client.post(url, {"action": "book", "start": "2026-12-07T10:00", "practitioner": world.dr_lee.pk})
    visit = Appointment.objects.get(client=olivia)
    desk.force_login(world.desk.user)
    page = desk.get(reverse("appointment-detail", args=[visit.pk])).content.decode()
    assert "Booked by the client, from the waitlist" in page


def test_the_desk_is_told_whom_the_waitlist_offered_the_time(desk, world, olivia):
    ben_visit = _ben_at_ten(world)
    _wait_at_ten(world, olivia)
    response = desk.post(reverse("appointment-action", args=[ben_visit.pk, "cancel"]), follow=True)
    assert (
        "Cancelled. The time is free again and the client will be told. The time it held suits Olivia Smith "
        "on the waitlist: emailed the link to book it." in response.content.decode()
    )
    other = _book(world, world.client(), world.microcurrent, world.sam, 8, 10)
    response = desk.post(reverse("appointment-action", args=[other.pk, "cancel"]), follow=True)
    assert "Cancelled. The time is free again and the client will be told.</" in response.content.decode()


def test_the_clients_timeline_says_what_each_waitlist_email_was_about(desk, world, olivia):
    ben_visit = _ben_at_ten(world)
    _wait_at_ten(world, olivia)
    appointment_cancel(ben_visit)
    page = desk.get(reverse("client-detail", args=[olivia.pk])).content.decode()
    assert (
        page.count(
            "Waiting for Microneedling facial, Monday 7 December, starting at 10:00, with Dr Amara Lee"
        )
        == 2
    )
    assert "Waitlist offer" in page and "Waitlist joined" in page


def test_a_cancellation_takes_the_same_queries_for_two_waiting_clients_or_ten(world):
    def cancel_queries(waiting):
        for _ in range(waiting):
            _wait_at_ten(world, world.client(email="w@example.com"), from_time=None, until_time=None)
        visit = _ben_at_ten(world)
        with CaptureQueriesContext(connection) as captured:
            appointment_cancel(visit)
        WaitlistEntry.objects.all().delete()
        OutboxMessage.objects.all().delete()
        return len(captured)

    assert cancel_queries(2) == cancel_queries(10)
    nobody = cancel_queries(0)
    assert nobody < cancel_queries(2)


def test_the_desk_sees_what_became_of_recent_entries_booked_removed_or_lapsed(desk, world, olivia):
    booked = _wait_at_ten(world, olivia)
    _book(world, olivia, world.microneedling, world.sam, 7, 15)
    removed = _wait_at_ten(world, world.client(first_name="Nadia", last_name="Khan"))
    waitlist_end(removed, because=WaitlistEnded.REMOVED)
    lapsed = _wait_at_ten(
        world, world.client(first_name="Pat", last_name="Lee"), first_day=dt.date(2026, 12, 1)
    )
    WaitlistEntry.objects.filter(pk=lapsed.pk).update(
        first_day=dt.date(2026, 11, 20), last_day=dt.date(2026, 11, 30)
    )
    page = desk.get(reverse("waitlist")).content.decode()
    assert re.search(rf'id="ended-{booked.pk}">Olivia Smith, [^<]*: booked 1 Dec \d\d:\d\d \(<a href', page)
    assert f'id="ended-{removed.pk}">Nadia Khan' in page and "taken off by the clinic 1 Dec" in page
    assert f'id="ended-{lapsed.pk}">Pat Lee, Microneedling facial, Fri 20 Nov to Mon 30 Nov' in page
    assert "their days passed 30 Nov" in page
    assert "Nobody is waiting" in page


# --- an earlier time for a visit already booked ---------------------------------------------------


def _olivia_on_friday(world, olivia):
    """Olivia's microneedling with Dr Lee on Friday 11 December at 10:00."""
    return _book(world, olivia, world.microneedling, world.dr_lee, 11, 10)


def test_a_time_that_comes_free_moves_the_visit_the_client_waits_to_move(client, world, olivia):
    friday = _olivia_on_friday(world, olivia)
    ben_visit = _ben_at_ten(world)
    entry = _wait_at_ten(world, olivia, visit_to_move=friday)
    assert waiting_for_said(entry).endswith(", instead of Fri 11 Dec 10:00")
    appointment_cancel(ben_visit)
    [offer] = _offers()
    assert offer.context["moving_from"] == "Friday 11 December at 10:00"
    url = reverse("public-waitlist", args=[waitlist_token(entry)])
    asked = client.get(url, {"book": "2026-12-07T10:00", "with": world.dr_lee.pk}).content.decode()
    assert "Move your visit to this time?" in asked
    assert "instead of Friday 11 December at 10:00" in asked
    response = client.post(
        url, {"action": "book", "start": "2026-12-07T10:00", "practitioner": world.dr_lee.pk}, follow=True
    )
    assert "Your visit has moved" in response.content.decode()
    friday.refresh_from_db()
    assert friday.start == local(world, 2026, 12, 7, 10)  # the same visit, moved: no second one
    assert Appointment.objects.filter(client=olivia).count() == 1
    entry.refresh_from_db()
    assert (entry.ended_because, entry.appointment_id) == (WaitlistEnded.BOOKED, friday.pk)
    assert friday.events.filter(
        action="rescheduled", details__reason="Moved by the client from the waitlist"
    ).exists()


def test_a_visit_to_move_must_be_the_clients_booked_visit_still_ahead(world, olivia):
    friday = _olivia_on_friday(world, olivia)
    with pytest.raises(ClinicError, match="another client's, or of another service"):
        _wait_at_ten(world, olivia, service=world.microcurrent, practitioner=None, visit_to_move=friday)
    appointment_cancel(friday)
    with pytest.raises(ClinicError, match="Only a booked visit still ahead can wait for another time"):
        _wait_at_ten(world, olivia, visit_to_move=friday)


def test_cancelling_the_visit_to_move_ends_its_wait_and_what_was_to_go(world, olivia):
    friday = _olivia_on_friday(world, olivia)
    entry = _wait_at_ten(world, olivia, visit_to_move=friday)
    appointment_cancel(friday)
    entry.refresh_from_db()
    assert entry.ended_because == WaitlistEnded.VISIT_CANCELLED
    joined = OutboxMessage.objects.get(template_key="waitlist_joined")
    assert (joined.status, joined.last_error) == (OutboxStatus.CANCELLED, "The visit to move was cancelled.")


def test_the_client_asks_for_an_earlier_time_from_their_visits_link(client, world, olivia):
    friday = _olivia_on_friday(world, olivia)
    manage = reverse("public-manage", args=[manage_token(friday)])
    assert "Tell me when an earlier time comes free" in client.get(manage).content.decode()
    response = client.post(manage, {"action": "earlier"}, follow=True)
    entry = WaitlistEntry.objects.get()
    assert (entry.visit_to_move, entry.practitioner, entry.first_day, entry.last_day) == (
        friday,
        world.dr_lee,
        dt.date(2026, 12, 1),
        dt.date(2026, 12, 10),
    )
    assert "You are on the waitlist for an earlier time" in response.content.decode()
    assert "see the times free now" in client.get(manage).content.decode()


def test_the_desk_puts_a_visit_on_the_waitlist_to_move_and_takes_it_off(desk, world, olivia):
    friday = _olivia_on_friday(world, olivia)
    detail = reverse("appointment-detail", args=[friday.pk])
    assert "Nothing suits? Move it when a time comes free" in desk.get(detail).content.decode()
    response = desk.post(
        reverse("waitlist-move", args=[friday.pk]),
        {"first_day": "2026-12-07", "last_day": "2026-12-08", "from_time": "10:00", "practitioner": ""},
        follow=True,
    )
    entry = WaitlistEntry.objects.get()
    assert (entry.visit_to_move, entry.practitioner, entry.added_by) == (friday, None, world.desk.user)
    page = response.content.decode()
    assert "Olivia Smith is on the waitlist to move this visit" in page
    assert (
        "waitlist</a> to move it: Microneedling facial, Mon 7 Dec to Tue 8 Dec, starting at 10:00 or later"
        in page
    )
    # the waitlist's free times for it lead to the visit's own Reschedule
    listed = desk.get(reverse("waitlist")).content.decode()
    assert f"/appointments/{friday.pk}/?with=" in listed and "&date=2026-12-07#reschedule" in listed
    desk.post(reverse("waitlist-remove", args=[entry.pk]))
    assert "Nothing suits? Move it when a time comes free" in desk.get(detail).content.decode()


def test_the_api_puts_a_visit_on_the_waitlist_to_move(waitlist_api, world, olivia):
    friday = _olivia_on_friday(world, olivia)
    created = waitlist_api.post(
        "/api/v1/waitlist/",
        {
            "client": olivia.pk,
            "service": world.microneedling.pk,
            "first_day": "2026-12-07",
            "last_day": "2026-12-08",
            "visit_to_move": friday.pk,
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["visit_to_move"] == friday.pk


def test_a_visit_inside_the_cancellation_window_is_not_moved_online(client, world, olivia):
    world.clinic.cancellation_window_hours = 24 * 14
    world.clinic.save(update_fields=["cancellation_window_hours"])
    friday = _olivia_on_friday(world, olivia)
    ben_visit = _ben_at_ten(world)
    entry = _wait_at_ten(world, olivia, visit_to_move=friday)
    appointment_cancel(ben_visit)
    url = reverse("public-waitlist", args=[waitlist_token(entry)])
    response = client.post(
        url, {"action": "book", "start": "2026-12-07T10:00", "practitioner": world.dr_lee.pk}, follow=True
    )
    assert "Changes online close 336 hours before your visit" in response.content.decode()
    friday.refresh_from_db()
    assert friday.start == local(world, 2026, 12, 11, 10)


def test_a_caller_the_clinic_has_is_offered_before_a_second_record_is_made(desk, world, olivia):
    olivia.phone = "+44 7700 900123"
    olivia.save()
    fields = {
        "new-first_name": "Liv",
        "new-last_name": "Smith",
        "new-phone": "07700 900123",
        "service": world.microcurrent.pk,
        "first_day": "2026-12-07",
        "last_day": "2026-12-10",
    }
    asked = desk.post(reverse("waitlist"), fields)
    assert asked.status_code == 400 and "Olivia Smith is the client" in asked.content.decode()
    assert not WaitlistEntry.objects.exists()
    desk.post(reverse("waitlist"), {**fields, "client": olivia.pk})  # "Olivia Smith is the client"
    assert WaitlistEntry.objects.get().client == olivia
    assert Client.objects.count() == 1
