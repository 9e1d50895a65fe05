"""A practitioner is emailed when a client books, moves or cancels one of their visits themselves
(online, from their emailed link, from the waitlist): by default for visits today or tomorrow, or
never, or always, as they choose on /my-calendar/. The email names the client by initials only."""

import pytest
from django.db import transaction

from clinic.models import ClientChangeEmails, OutboxMessage, OutboxStatus, StaffMember
from clinic.tasks import deliver_due_messages_task
from tests.booking_world import build_world, local
from treatments.booking import BookingRequest, appointment_book, appointment_cancel, appointment_reschedule
from treatments.links import manage_token
from treatments.notifications import PRACTITIONER_NOTICE

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    world = build_world(slug="lumen-notices")
    for member, address in ((world.dr_lee, "amara.lee@lumen.example"), (world.sam, "sam@lumen.example")):
        member.user.email = address
        member.user.save(update_fields=["email"])
    return world


def _book(world, start, *, source="online", practitioner=None, actor=None):
    return appointment_book(
        BookingRequest(
            client=world.client(first_name="Olivia", last_name="Smith", email="olivia@example.com"),
            service=world.microcurrent,
            practitioner=practitioner or world.dr_lee,
            start=start,
            source=source,
        ),
        actor=actor,
    )


def _notices(**filters):
    return list(OutboxMessage.objects.filter(template_key=PRACTITIONER_NOTICE, **filters).order_by("id"))


def _choose(member, choice):
    StaffMember.objects.filter(pk=member.pk).update(client_change_emails=choice)
    member.refresh_from_db()


def test_a_client_booking_tomorrow_emails_the_practitioner_once_with_initials_only(
    world, smtp_settings, smtp_server
):
    # the suite's now is Tuesday 1 December 2026, 07:00 in London
    visit = _book(world, local(world, 2026, 12, 2, 10))
    assert deliver_due_messages_task() == 2  # the client's confirmation and the practitioner's notice
    assert deliver_due_messages_task() == 0
    to_lee = [m for m in smtp_server.messages if m["To"].addresses[0].addr_spec == "amara.lee@lumen.example"]
    [notice] = to_lee
    assert notice["Subject"] == (
        "Booked online: Microcurrent workout on Wednesday 2 December 2026 at 10:00, O. S."
    )
    body = notice.get_body(preferencelist=("plain",)).get_content()
    assert "A client (O. S.) booked a visit with Dr Amara Lee themselves" in body
    assert "Wednesday 2 December 2026 at 10:00 (Europe/London time, GMT)" in body
    assert f"/appointments/{visit.pk}/" in body
    assert "/my-calendar/" in body
    assert "Smith" not in body and "olivia@example.com" not in body and "Olivia" not in body
    [row] = _notices()
    assert row.status == OutboxStatus.SENT and row.client_id is None
    assert row.topic == f"appointment:{visit.pk}"  # on the visit's message timeline


def test_what_the_desk_does_is_not_emailed(world):
    visit = _book(world, local(world, 2026, 12, 2, 10), source="staff", actor=world.desk.user)
    appointment_reschedule(visit, start=local(world, 2026, 12, 2, 12), actor=world.desk.user)
    appointment_cancel(visit, actor=world.desk.user)
    assert _notices() == []


@pytest.mark.parametrize(
    ("choice", "day", "emailed"),
    [
        (ClientChangeEmails.SOON, 1, True),  # today
        (ClientChangeEmails.SOON, 2, True),  # tomorrow
        (ClientChangeEmails.SOON, 3, False),  # the day after: the day's list will say
        (ClientChangeEmails.ALWAYS, 30, True),
        (ClientChangeEmails.NEVER, 2, False),
    ],
)
def test_each_practitioner_chooses_when(world, choice, day, emailed):
    _choose(world.dr_lee, choice)
    _book(world, local(world, 2026, 12, day, 15))
    assert len(_notices()) == (1 if emailed else 0)


def test_today_and_tomorrow_are_the_clinics_days(db):
    world = build_world(time_zone="America/New_York", slug="harbour-notices")
    world.dr_lee.user.email = "lee@harbour.example"
    world.dr_lee.user.save(update_fields=["email"])
    # 07:00 in London is 02:00 in New York, still Tuesday there: Thursday is two days on
    _book(world, local(world, 2026, 12, 3, 9))
    assert _notices() == []
    _book(world, local(world, 2026, 12, 2, 16))
    assert len(_notices()) == 1


def test_a_move_from_the_clients_link_names_the_old_and_new_times(client, world):
    visit = _book(world, local(world, 2026, 12, 8, 10), source="staff", actor=world.desk.user)
    assert _notices() == []
    token = manage_token(visit)
    answer = client.post(f"/p/manage/{token}/", {"action": "reschedule", "start": "2026-12-02T11:00"})
    assert answer.status_code == 302
    [notice] = _notices()
    assert notice.context["change"] == "moved"
    assert notice.context["was_local_start"] == "Tuesday 8 December 2026 at 10:00"
    assert notice.context["local_start"] == "Wednesday 2 December 2026 at 11:00"
    assert notice.context["was_practitioner_name"] == ""
    visit.refresh_from_db()
    assert visit.events.get(action="rescheduled").details["by_client"] is True


def test_a_move_away_from_tomorrow_is_emailed_too(world):
    visit = _book(world, local(world, 2026, 12, 2, 10), source="staff", actor=world.desk.user)
    appointment_reschedule(visit, start=local(world, 2026, 12, 15, 10), by_client=True)
    [notice] = _notices()
    assert notice.context["was_local_start"] == "Wednesday 2 December 2026 at 10:00"


def test_a_time_taken_from_another_practitioner_tells_both(world):
    visit = _book(world, local(world, 2026, 12, 2, 10), source="staff", actor=world.desk.user)
    appointment_reschedule(visit, start=local(world, 2026, 12, 2, 14), practitioner=world.sam, by_client=True)
    notices = _notices()
    assert sorted(n.recipient_email for n in notices) == ["amara.lee@lumen.example", "sam@lumen.example"]
    assert {n.context["was_practitioner_name"] for n in notices} == {"Dr Amara Lee"}
    assert {n.context["practitioner_name"] for n in notices} == {world.sam.display_name}


def test_a_cancellation_stops_the_notice_of_the_booking_not_yet_sent(world):
    visit = _book(world, local(world, 2026, 12, 2, 10))
    [booked] = _notices()
    appointment_cancel(visit, reason="Cancelled by the client online", by_client=True)
    booked.refresh_from_db()
    assert booked.status == OutboxStatus.CANCELLED
    [cancelled] = _notices(status=OutboxStatus.PENDING)
    assert cancelled.context["change"] == "cancelled"


def test_the_clients_cancel_button_emails_the_practitioner(client, world):
    visit = _book(world, local(world, 2026, 12, 2, 15), source="staff", actor=world.desk.user)
    client.post(f"/p/manage/{manage_token(visit)}/", {"action": "cancel"})
    [notice] = _notices()
    assert notice.context["change"] == "cancelled"
    assert notice.dedupe_key.endswith(f":practitioner:{world.dr_lee.pk}")


def test_a_booking_rolled_back_leaves_no_notice(world):
    with pytest.raises(RuntimeError), transaction.atomic():
        _book(world, local(world, 2026, 12, 2, 10))
        raise RuntimeError("the request failed after booking")
    assert OutboxMessage.objects.count() == 0


def test_no_address_or_no_longer_working_there_means_no_email(world):
    world.dr_lee.user.email = ""
    world.dr_lee.user.save(update_fields=["email"])
    _book(world, local(world, 2026, 12, 2, 10))
    sams = _book(world, local(world, 2026, 12, 2, 12), practitioner=world.sam, source="staff")
    StaffMember.objects.filter(pk=world.sam.pk).update(is_active=False)  # left the clinic meanwhile
    sams.practitioner.refresh_from_db()
    appointment_cancel(sams, by_client=True)
    assert _notices() == []


def test_the_practitioner_chooses_on_their_calendar_page(client, world):
    client.force_login(world.dr_lee.user)
    page = client.get("/my-calendar/").content.decode()
    assert "Emails when clients change their visits" in page
    assert 'value="soon" checked' in page
    saved = client.post(
        "/my-calendar/", {"action": "emails", "client_change_emails": "always"}, follow=True
    ).content.decode()
    assert "Saved: you are emailed of clients&#x27; changes for every visit." in saved
    assert 'value="always" checked' in saved
    world.dr_lee.refresh_from_db()
    assert world.dr_lee.client_change_emails == ClientChangeEmails.ALWAYS

    odd = client.post("/my-calendar/", {"action": "emails", "client_change_emails": "hourly"}, follow=True)
    assert odd.status_code == 200
    assert "Choose when to be emailed" in odd.content.decode()
    world.dr_lee.refresh_from_db()
    assert world.dr_lee.client_change_emails == ClientChangeEmails.ALWAYS


def test_the_desk_has_no_such_choice(client, world):
    client.force_login(world.desk.user)
    client.post("/my-calendar/", {"action": "emails", "client_change_emails": "always"})
    world.desk.refresh_from_db()
    assert world.desk.client_change_emails == ClientChangeEmails.SOON
    assert "Emails when clients change their visits" not in client.get("/my-calendar/").content.decode()
