"""Staff and public booking pages, without a browser: outcomes, messages, and the link's limits."""

import datetime as dt

import pytest
from django.core import signing
from django.utils import timezone

from clients.models import ClientCondition, IntakeQuestionnaire, IntakeResponse
from clinic.models import OutboxMessage, TimeOff
from tests.booking_world import build_world, local
from treatments.booking import BookingRequest, appointment_book, appointment_reschedule
from treatments.links import SALT, manage_token
from treatments.models import Appointment

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    return build_world(slug="lumen")


def _book(world, start, client=None):
    return appointment_book(
        BookingRequest(
            client=client or world.client(email="c@example.com"),
            service=world.microcurrent,
            practitioner=world.dr_lee,
            start=start,
        )
    )


def _book_new_client(desk, world, **extra):
    """Post the booking form for 10:00 on 7 December with a new client, Nia Cole, typed in."""
    fields = {
        "practitioner": world.dr_lee.id,
        "start": "2026-12-07T10:00",
        "service": world.microcurrent.id,
        "new-first_name": "Nia",
        "new-last_name": "Cole",
        "new-email": "nia@example.com",
    }
    return desk.post("/book/", {**fields, **extra}, follow=True)


def test_booking_a_new_client_from_the_form(desk, world):
    response = _book_new_client(desk, world)
    appointment = Appointment.objects.get(client__last_name="Cole")
    assert response.redirect_chain[-1][0] == f"/appointments/{appointment.pk}/"
    assert appointment.start == local(world, 2026, 12, 7, 10)
    assert "Booked Nia Cole" in response.content.decode()
    assert "The confirmation is on its way." in response.content.decode()


def test_booking_a_client_with_no_email_address_says_nothing_will_be_sent(desk, world):
    response = _book_new_client(desk, world, **{"new-email": "", "new-phone": "+44 7700 900555"})
    page = " ".join(response.content.decode().split())
    assert "Nia has no email address, so no confirmation or reminders go out" in page


def test_a_new_client_born_centuries_ago_is_refused_on_the_form_and_nothing_is_booked(desk, world):
    response = _book_new_client(desk, world, **{"new-date_of_birth": "1026-05-01"})
    assert response.status_code == 400
    assert "A date of birth in 1026 is more than 120 years ago. Check the year." in response.content.decode()
    assert not Appointment.objects.exists()


def test_a_taken_time_on_the_form_is_a_409_with_the_reason_and_keeps_the_input(desk, world):
    _book(world, local(world, 2026, 12, 7, 10))
    response = desk.post(
        "/book/",
        {
            "practitioner": world.dr_lee.id,
            "start": "2026-12-07T10:30",
            "service": world.microcurrent.id,
            "new-first_name": "Nia",
            "new-last_name": "Cole",
            "new-email": "nia@example.com",
        },
    )
    assert response.status_code == 409
    page = response.content.decode()
    assert "Dr Amara Lee is already booked 10:00–10:55." in page
    assert 'value="Nia"' in page
    assert not Appointment.objects.filter(client__last_name="Cole").exists()  # nor a stray client
    from clients.models import Client

    assert not Client.objects.filter(last_name="Cole").exists()


def test_the_finder_lists_free_times(desk, world):
    page = desk.get(f"/book/?service={world.microcurrent.id}&practitioner={world.dr_lee.id}&date=2026-12-07")
    assert "09:00 · Dr Amara Lee" in page.content.decode()


def test_the_finder_books_for_the_client_it_was_opened_for(desk, world):
    ada = world.client(first_name="Ada", last_name="Lovelace")
    query = f"service={world.microcurrent.id}&practitioner={world.dr_lee.id}&date=2026-12-07&client={ada.pk}"
    page = desk.get(f"/book/?{query}").content.decode()
    assert "<h1>Find a time for Ada Lovelace</h1>" in page
    assert f'<input type="hidden" name="client" value="{ada.pk}">' in page
    slot_link = (
        f"?service={world.microcurrent.id}&practitioner={world.dr_lee.id}"
        f"&start=2026-12-07T09:00&client={ada.pk}"
    )
    assert f'href="{slot_link}"' in page
    form = desk.get(f"/book/{slot_link}")
    assert form.context["chosen_client"] == ada


def test_the_finder_for_a_client_leaves_out_times_they_already_have_a_visit(desk, world):
    ada = world.client(first_name="Ada", last_name="Lovelace")
    _book(world, local(world, 2026, 12, 7, 10), client=ada)  # Dr Lee, microcurrent 10:00–10:45
    query = f"service={world.microneedling.id}&practitioner={world.sam.id}&date=2026-12-07"

    for_ada = desk.get(f"/book/?{query}&client={ada.pk}")
    for_anyone = desk.get(f"/book/?{query}")

    def starts(response):
        return {slot["local"].strftime("%H:%M") for slot in response.context["slots"]}

    # Sam's microneedling is 60 minutes after 15 of preparation: its starts from 09:15 (the first) to
    # 10:30 would overlap Ada's 10:00–10:45; the first that does not is 10:45, right after it
    overlapping = {"09:15", "09:30", "09:45", "10:00", "10:15", "10:30"}
    assert overlapping <= starts(for_anyone)
    assert min(starts(for_ada)) == "10:45"
    assert starts(for_ada) == starts(for_anyone) - overlapping
    assert "Ada already has a visit at 10:00 that day; times that would overlap it are left out." in (
        for_ada.content.decode()
    )


def _finder_on_7_december_with_lee_off_until(desk, world, until) -> tuple[str, str]:
    """The finder's page for Dr Lee on 7 December, away from its midnight to `until`, and its query."""
    TimeOff.objects.create(staff_member=world.dr_lee, start=local(world, 2026, 12, 7, 0), end=until)
    query = f"service={world.microcurrent.id}&practitioner={world.dr_lee.id}"
    return desk.get(f"/book/?{query}&date=2026-12-07").content.decode(), query


def test_a_day_without_free_time_points_to_the_next_free_one(desk, world):
    page, query = _finder_on_7_december_with_lee_off_until(desk, world, local(world, 2026, 12, 8, 0))
    assert "No free time on this day." in page
    assert f'href="?{query}&date=2026-12-08">Tuesday 8 December at 09:00</a>' in page


def test_a_long_absence_is_said_plainly(desk, world):
    page, _ = _finder_on_7_december_with_lee_off_until(desk, world, local(world, 2027, 2, 1, 0))
    assert "Nothing is free in the 28 days after it either: try another practitioner." in page


def test_moving_a_visit_to_where_it_already_is_changes_nothing_and_says_so(desk, world):
    appointment = _book(world, local(world, 2026, 12, 7, 10))
    messages_before = OutboxMessage.objects.count()
    response = desk.post(
        f"/appointments/{appointment.pk}/reschedule/", {"reschedule-start": "2026-12-07T10:00"}, follow=True
    )
    assert "The visit is already at Mon 07 Dec 2026 10:00. Choose another time." in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.sequence == 0
    assert OutboxMessage.objects.count() == messages_before
    assert not appointment.events.filter(action="rescheduled").exists()


def test_reschedule_from_the_page(desk, world):
    appointment = _book(world, local(world, 2026, 12, 7, 10))
    response = desk.post(
        f"/appointments/{appointment.pk}/reschedule/",
        {"reschedule-start": "2026-12-08T11:00", "reschedule-reason": "Asked"},
        follow=True,
    )
    assert "Moved to Tue 08 Dec 11:00" in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.start == local(world, 2026, 12, 8, 11)


def test_the_visit_page_offers_the_practitioners_free_times_to_move_to(desk, world):
    appointment = _book(world, local(world, 2026, 12, 7, 10))
    # Dr Lee is busy 14:00–14:55 on the 8th with someone else (mesotherapy: 10 min before, 10 after)
    world.keep_lee_busy(local(world, 2026, 12, 8, 14))

    same_day = desk.get(f"/appointments/{appointment.pk}/")
    next_day = desk.get(f"/appointments/{appointment.pk}/?date=2026-12-08")

    # the visit's own time is free to move within: it does not block itself; where it is now is no move
    own_day = [t["value"] for t in same_day.context["free_times"]]
    assert "2026-12-07T09:45" in own_day and "2026-12-07T10:15" in own_day
    assert "2026-12-07T10:00" not in own_day
    times = [t["value"] for t in next_day.context["free_times"]]
    assert times[0] == "2026-12-08T09:00"
    # a microcurrent visit holds its 45 minutes and 10 after: 12:45 is the last start clear of 13:50
    assert "2026-12-08T12:45" in times
    assert not {"2026-12-08T13:00", "2026-12-08T14:00", "2026-12-08T14:45"} & set(times)
    assert "2026-12-08T15:00" in times
    assert 'aria-label="Move to Tue 8 Dec 15:00 with Dr Amara Lee"' in next_day.content.decode()


def test_a_refused_action_is_explained_on_the_page(desk, world):
    appointment = _book(world, local(world, 2026, 12, 7, 10))
    response = desk.post(f"/appointments/{appointment.pk}/check_in/", follow=True)
    assert (
        "This visit is on Monday 7 December. Clients are checked in on the day of their visit."
        in response.content.decode()
    )
    appointment.refresh_from_db()
    assert appointment.status == "booked"


def test_a_visit_ahead_offers_no_check_in_no_show_or_complete(desk, world):
    appointment = _book(world, local(world, 2026, 12, 7, 10))
    page = desk.get(f"/appointments/{appointment.pk}/").content.decode()
    assert "Reschedule" in page
    for action in ("check_in", "no_show", "complete"):
        assert f"/appointments/{appointment.pk}/{action}/" not in page
    assert "This visit is on Monday 7 December. Clients are checked in on the day of their visit." in page


def test_another_clinics_appointment_is_not_found(client, world):
    other = build_world()
    client.force_login(other.desk.user)
    appointment = _book(world, local(world, 2026, 12, 7, 10))
    assert client.get(f"/appointments/{appointment.pk}/").status_code == 404


def test_booking_queues_a_confirmation_with_local_time_and_link(world):
    appointment = _book(world, local(world, 2027, 7, 5, 10))
    message = OutboxMessage.objects.get(dedupe_key=f"appointment:{appointment.pk}:booked")
    assert message.context["local_start"] == "Monday 5 July 2027 at 10:00"
    assert message.context["zone_abbreviation"] == "BST"
    assert "/p/manage/" in message.context["manage_url"]


def test_cancelling_cancels_pending_messages_and_queues_a_notice(world):
    from treatments.booking import appointment_cancel

    appointment = _book(world, local(world, 2027, 7, 5, 10))
    appointment_cancel(appointment)
    statuses = dict(
        OutboxMessage.objects.filter(topic=f"appointment:{appointment.pk}").values_list(
            "template_key", "status"
        )
    )
    assert statuses == {
        "booking_confirmation": "cancelled",
        "booking_reminder": "cancelled",
        "booking_cancelled": "pending",
    }


def _public_times_with_lee_away(client, world, *, away_days: int) -> tuple[str, dt.date]:
    """The public page of mesotherapy (Dr Lee's alone) a week ahead, Dr Lee away from then for `away_days`."""
    day = timezone.localdate(timezone=world.clinic.zone) + dt.timedelta(days=7)
    away_from = dt.datetime.combine(day, dt.time(0), tzinfo=world.clinic.zone)
    TimeOff.objects.create(
        staff_member=world.dr_lee, start=away_from, end=away_from + dt.timedelta(days=away_days)
    )
    page = client.get(f"/p/lumen/book/{world.mesotherapy.id}/?date={day.isoformat()}")
    assert page.status_code == 200
    return page.content.decode(), day


def test_the_public_page_names_the_next_free_time_when_a_day_is_full(client, world):
    page, day = _public_times_with_lee_away(client, world, away_days=2)
    back = day + dt.timedelta(days=2)
    assert "No free times on this day." in page
    assert (
        f'The next free time is <a class="button primary" href="?date={back.isoformat()}">'
        f"{back:%A} {back.day} {back:%B} at 09:15</a>"  # 10 minutes' preparation after 09:00, on the grid
    ) in page


def test_the_public_page_asks_the_client_to_call_when_nothing_is_free_online(client, world):
    world.clinic.phone = "+44 20 7946 0000"
    world.clinic.save(update_fields=["phone"])
    page, _ = _public_times_with_lee_away(client, world, away_days=90)
    last = timezone.localdate(timezone=world.clinic.zone) + dt.timedelta(days=60)
    assert (
        f"Nothing is free for this treatment online up to {last:%A} {last.day} {last:%B}. "
        "Please call us on +44 20 7946 0000."
    ) in page
    assert "The next free time" not in page


def test_the_public_page_tells_a_contraindicated_client_to_call_without_medical_detail(client, world):
    questionnaire = IntakeQuestionnaire.objects.create(
        clinic=world.clinic, version=1, title="H", is_current=True
    )
    patient = world.client(first_name="Ann", last_name="Lee", email="ann@example.com")
    response = IntakeResponse.objects.create(client=patient, questionnaire=questionnaire)
    ClientCondition.objects.create(response=response, client=patient, code="pacemaker")
    day = timezone.localdate(timezone=world.clinic.zone) + dt.timedelta(days=7)
    page = client.post(
        f"/p/lumen/book/{world.microcurrent.id}/details/",
        {
            "start": f"{day.isoformat()}T10:00",
            "practitioner": world.dr_lee.id,
            "first_name": "Ann",
            "last_name": "Lee",
            "email": "ann@example.com",
        },
    )
    assert page.status_code == 400
    text = page.content.decode()
    assert "We need a word with you" in text
    assert "Pacemaker" not in text


def test_the_link_refuses_changes_inside_the_cancellation_window(client, world):
    soon = timezone.now() + dt.timedelta(hours=3)
    soon_local = timezone.localtime(soon, world.clinic.zone).replace(minute=0, second=0, microsecond=0)
    world.dr_lee.working_hours.update(start_time=dt.time(0), end_time=dt.time(23, 59))
    appointment = _book(world, soon_local + dt.timedelta(hours=1))
    token = manage_token(appointment)
    response = client.post(f"/p/manage/{token}/", {"action": "cancel"}, follow=True)
    assert "Changes online close 24 hours before" in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.status == "booked"


def test_an_expired_link_is_refused(client, world):
    appointment = _book(world, local(world, 2026, 12, 7, 10))
    token = signing.dumps(
        {"a": appointment.pk, "exp": int(timezone.now().timestamp()) - 1}, salt=SALT, compress=True
    )
    response = client.get(f"/p/manage/{token}/")
    assert response.status_code == 404
    assert "expired" in response.content.decode()


def test_the_client_reschedules_from_the_link(client, world):
    appointment = _book(world, local(world, 2026, 12, 7, 10))
    token = manage_token(appointment)
    page = client.get(f"/p/manage/{token}/?date=2026-12-08").content.decode()
    assert 'href="?date=2026-12-08&amp;move_to=2026-12-08T10:00"' in page
    # a time tapped is asked about first: the visit stays where it is until the client says yes
    asked = client.get(f"/p/manage/{token}/", {"date": "2026-12-08", "move_to": "2026-12-08T10:00"})
    text = asked.content.decode()
    assert "Move your visit?" in text
    assert "From Monday 7 December at 10:00 to <strong>Tuesday 8 December at 10:00</strong>" in text
    assert '<input type="hidden" name="start" value="2026-12-08T10:00">' in text
    appointment.refresh_from_db()
    assert appointment.start == local(world, 2026, 12, 7, 10)
    response = client.post(
        f"/p/manage/{token}/", {"action": "reschedule", "start": "2026-12-08T10:00"}, follow=True
    )
    assert "Your visit has moved" in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.start == local(world, 2026, 12, 8, 10)


def test_a_time_picked_from_the_free_times_moves_the_visit(desk, world):
    appointment = _book(world, local(world, 2026, 12, 7, 10))
    page = desk.get(f"/appointments/{appointment.pk}/?date=2026-12-09").content.decode()
    assert 'name="reschedule-start" value="2026-12-09T11:30"' in page
    response = desk.post(
        f"/appointments/{appointment.pk}/reschedule/", {"reschedule-start": "2026-12-09T11:30"}, follow=True
    )
    assert "Moved to Wed 09 Dec 11:30" in response.content.decode()


def test_a_finished_or_cancelled_visit_offers_no_times(desk, world):
    appointment = _book(world, local(world, 2026, 12, 7, 10))
    desk.post(f"/appointments/{appointment.pk}/cancel/")
    response = desk.get(f"/appointments/{appointment.pk}/")
    assert response.context["free_times"] == []
    assert 'id="reschedule"' not in response.content.decode()


def test_a_mistyped_day_for_free_times_is_explained(desk, world):
    appointment = _book(world, local(world, 2026, 12, 7, 10))
    response = desk.get(f"/appointments/{appointment.pk}/?date=7/12/2026")
    assert response.status_code == 200
    assert (
        "“7/12/2026” is not a date; showing 07 Dec 2026. Use the form YYYY-MM-DD."
        in response.content.decode()
    )


def test_the_history_reads_as_sentences_with_local_times_and_names(desk, world):
    appointment = _book(world, local(world, 2026, 12, 7, 10))
    appointment_reschedule(
        appointment, start=local(world, 2026, 12, 8, 14), actor=world.desk.user, reason="Asked"
    )
    page = desk.get(f"/appointments/{appointment.pk}/").content.decode()
    assert "<strong>Booked</strong>" in page
    assert "<strong>Moved from Mon 07 Dec 10:00 to Tue 08 Dec 14:00</strong> by Jo Carter: Asked" in page
    assert "status:" not in page


def test_booking_online_over_the_clients_own_visit_is_refused_without_showing_it(client, world):
    ann = world.client(first_name="Ann", last_name="Lee", email="ann@example.com")
    day = timezone.localdate(timezone=world.clinic.zone) + dt.timedelta(days=7)
    _book(world, dt.datetime.combine(day, dt.time(10), tzinfo=world.clinic.zone), client=ann)  # Dr Lee

    page = client.post(
        f"/p/lumen/book/{world.microneedling.id}/details/",
        {
            "start": f"{day.isoformat()}T10:15",
            "practitioner": world.sam.id,
            "first_name": "Ann",
            "last_name": "Lee",
            "email": "ann@example.com",
        },
    )

    assert page.status_code == 409
    text = page.content.decode()
    assert "Sorry, that time has just been taken. Please choose another." in text
    assert "Microcurrent" not in text and "already has a visit" not in text  # nothing of her other visit
    assert Appointment.objects.filter(client=ann).count() == 1


def test_the_link_says_until_when_changes_are_taken_online_right_across_a_clock_change(client, world):
    # a visit on Sunday 28 March 2027 at 10:00 BST, the day the clocks go forward; the window is 24 hours
    appointment = _book(world, local(world, 2027, 3, 28, 10))
    page = client.get(f"/p/manage/{manage_token(appointment)}/").content.decode()
    # 24 real hours before is Saturday at 09:00 GMT, not the 10:00 that wall-clock arithmetic gives
    assert "You can cancel or move your visit here until Saturday 27 March at 09:00" in page
    # a visit further ahead than clients book online offers today for moving it, with no complaint
    assert 'name="date" value="2026-12-01"' in page and "Choose a day between" not in page


def test_the_details_page_says_the_policy_before_the_client_books(client, world):
    url = (
        f"/p/lumen/book/{world.microneedling.id}/details/?start=2027-03-28T10:00&practitioner={world.sam.id}"
    )
    page = " ".join(client.get(url).content.decode().split())
    assert "with Sam Rivera · 60 minutes" in page
    # the same 24 real hours as the link will say, across the clocks going forward that night
    assert "to cancel or move the visit yourself, until Saturday 27 March at 09:00" in page


def test_moving_from_the_link_starts_on_the_visits_own_day(client, world):
    appointment = _book(world, local(world, 2026, 12, 7, 10))
    page = client.get(f"/p/manage/{manage_token(appointment)}/").content.decode()
    assert 'name="date" value="2026-12-07"' in page


def test_the_link_remembers_the_client_confirmed(client, world):
    appointment = _book(world, local(world, 2026, 12, 7, 10))
    url = f"/p/manage/{manage_token(appointment)}/"
    assert "Confirm I’m coming" in client.get(url).content.decode()
    client.post(url, {"action": "confirm"})
    response = client.post(url, {"action": "confirm"}, follow=True)  # a second tap, or a reload
    assert "Thank you, your visit is confirmed." in response.content.decode()
    page = client.get(url).content.decode()
    assert "You have confirmed you are coming." in page and "Confirm I’m coming" not in page
    assert appointment.events.filter(action="confirmed_by_client").count() == 1


def test_a_visit_that_has_begun_or_is_over_is_not_offered_for_confirming(client, world):
    import time_machine

    appointment = _book(world, local(world, 2026, 12, 7, 10))
    url = f"/p/manage/{manage_token(appointment)}/"
    assert "Confirm I’m coming" in client.get(url).content.decode()
    with time_machine.travel(local(world, 2026, 12, 7, 10, 5), tick=False):
        assert "Confirm I’m coming" not in client.get(url).content.decode()
        response = client.post(url, {"action": "confirm"}, follow=True)
    assert "There is nothing to confirm: this visit is no longer ahead." in response.content.decode()
    assert not appointment.events.filter(action="confirmed_by_client").exists()


def test_the_days_list_shows_which_clients_confirmed_from_their_link(client, desk, world):
    confirmed = _book(world, local(world, 2026, 12, 7, 10))
    _book(world, local(world, 2026, 12, 7, 14), client=world.client(email="n@example.com"))
    client.post(f"/p/manage/{manage_token(confirmed)}/", {"action": "confirm"})
    client.force_login(world.desk.user)
    page = client.get("/?date=2026-12-07").content.decode()
    assert page.count('class="badge confirmed"') == 1
    row = page[page.index(f'data-appointment-id="{confirmed.pk}"') :].split("</tr>")[0]
    assert 'class="badge confirmed"' in row


def test_the_link_asks_before_it_cancels(client, world):
    appointment = _book(world, local(world, 2026, 12, 7, 10))
    url = f"/p/manage/{manage_token(appointment)}/"
    page = client.get(url).content.decode()
    # the first button only asks (a GET): one stray tap on a phone cancels nothing
    assert '<form method="get" class="card"><input type="hidden" name="ask" value="cancel">' in page
    asked = client.get(url, {"ask": "cancel"}).content.decode()
    assert "Cancel this visit?" in asked
    assert "Your Microcurrent workout on Monday 7 December at 10:00 will be cancelled" in asked
    assert f'<a class="button" href="{url}">No, keep it</a>' in asked
    appointment.refresh_from_db()
    assert appointment.status == "booked"
    # "Yes, cancel it" posts the cancellation
    done = client.post(url, {"action": "cancel"}, follow=True).content.decode()
    assert "Your visit is cancelled" in done
    appointment.refresh_from_db()
    assert appointment.status == "cancelled"
    # and the page offers to book the treatment again instead of a dead end
    assert f'href="/p/lumen/book/{world.microcurrent.id}/"' in done


def test_the_link_offers_only_free_times_other_than_the_visits_own(client, world):
    appointment = _book(world, local(world, 2026, 12, 7, 10))
    _book(world, local(world, 2026, 12, 7, 12))  # Dr Lee's 12:00 is someone else's
    url = f"/p/manage/{manage_token(appointment)}/"
    page = client.get(url, {"date": "2026-12-07"}).content.decode()
    assert "move_to=2026-12-07T09:45" in page  # 09:00 and a 10-minute buffer, on the 15-minute grid
    assert "move_to=2026-12-07T10:00" not in page  # the time the client already has
    assert "move_to=2026-12-07T12:00" not in page
    # a time that is not free (taken since, or typed into the address) is refused in words, not asked about
    taken = client.get(url, {"date": "2026-12-07", "move_to": "2026-12-07T12:00"}).content.decode()
    assert "That time is no longer free. Please choose another." in taken
    assert "Move your visit?" not in taken


def test_the_link_says_where_the_visit_is(client, world):
    world.clinic.address = "12 Marylebone Lane\nLondon W1U 2NE"
    world.clinic.save(update_fields=["address"])
    appointment = _book(world, local(world, 2026, 12, 7, 10))
    page = client.get(f"/p/manage/{manage_token(appointment)}/").content.decode()
    assert f'<p id="where">{world.clinic.name}, 12 Marylebone Lane<br>London W1U 2NE</p>' in page


def test_the_public_details_page_says_the_clinics_fee_for_a_missed_visit(client, world):
    from decimal import Decimal

    world.microcurrent.bookable_online = True
    world.microcurrent.save(update_fields=["bookable_online"])
    url = f"/p/lumen/book/{world.microcurrent.id}/details/"
    url += f"?start=2026-12-07T10:00&practitioner={world.dr_lee.id}"
    assert "is charged" not in client.get(url).content.decode()
    world.clinic.missed_visit_fee = Decimal("25")
    world.clinic.save(update_fields=["missed_visit_fee"])
    page = client.get(url).content.decode()
    assert "A visit missed, or cancelled less than 24 hours before, is charged £25." in page
