"""A manager emails the clinic's news to the clients who said yes to it: to everyone, to those who had
a service, or to those not seen for a while; sees who and what before sending; sends it once, as
non-essential mail with one-click unsubscribe, and a client who says no before their email goes is not
sent it."""

import datetime as dt

import pytest
import time_machine
from django.db import IntegrityError, connection, transaction
from django.test import Client as BrowserClient
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clients.erasure import client_erase
from clients.models import Client
from clients.services import client_unsubscribe
from clinic.errors import ClinicError
from clinic.models import OutboxMessage, OutboxStatus
from clinic.tasks import deliver_due_messages_task
from tests.booking_world import build_world, local
from treatments.booking import BookingRequest, appointment_book, appointment_set_status
from treatments.models import AppointmentStatus, ClinicNews, NewsAudience
from treatments.news import (
    NEWS_EMAIL,
    months_before,
    news_audience,
    news_delivery,
    news_recipients,
    news_send,
    news_send_test,
    news_write,
)

NOW = dt.datetime(2026, 12, 1, 7, 0, tzinfo=dt.UTC)  # the suite's fixed clock


@pytest.fixture
def world(db):
    return build_world()


def yes(world, first, **details):
    details = {"last_name": "Client", "email": f"{first.lower()}@example.com", **details}
    return world.client(first_name=first, accepts_marketing_email=True, **details)


def visit_had(world, client, service, start):
    with time_machine.travel(start - dt.timedelta(days=1), tick=False):
        visit = appointment_book(
            BookingRequest(client=client, service=service, practitioner=world.dr_lee, start=start)
        )
    with time_machine.travel(start + dt.timedelta(hours=1), tick=False):
        appointment_set_status(visit, status=AppointmentStatus.ARRIVED)
        appointment_set_status(visit, status=AppointmentStatus.FULFILLED)
    return visit


def write(world, **options):
    return news_write(
        clinic=world.clinic,
        by=world.manager,
        subject=options.pop("subject", "Our new LED treatment"),
        text=options.pop("text", "From January we offer LED light therapy.\n\nAsk us at your next visit."),
        audience=options.pop("audience", NewsAudience.EVERYONE),
        **options,
    )


def names(clients) -> set[str]:
    return {client.first_name for client in clients}


def test_everyone_who_said_yes_and_can_be_emailed(world):
    yes(world, "Ada")
    world.client(first_name="Bea", email="bea@example.com")  # never said yes
    yes(world, "Cleo", email="")  # no address
    client_unsubscribe(client=yes(world, "Dora"))
    client_erase(client=yes(world, "Edie"), by=world.manager)
    refused = yes(world, "Fay")
    OutboxMessage.objects.create(
        clinic=world.clinic,
        client_id=refused.pk,
        recipient_email=refused.email,
        template_key="booking_confirmation",
        dedupe_key="refused",
        status=OutboxStatus.FAILED,
        due_at=NOW,
        address_refused_at=NOW,
        last_error="550 no such user",
    )
    news = write(world)
    assert names(news_audience(news, now=NOW)) == {"Ada", "Fay"}
    assert names(news_recipients(news, now=NOW)) == {"Ada"}  # Fay's address was refused


def test_those_who_had_a_service(world):
    ada, bea = yes(world, "Ada"), yes(world, "Bea")
    visit_had(world, ada, world.microcurrent, local(world, 2026, 11, 2, 10))
    visit_had(world, bea, world.mesotherapy, local(world, 2026, 11, 3, 10))
    with time_machine.travel(local(world, 2026, 11, 20, 9), tick=False):
        appointment_book(  # booked, not had: does not count
            BookingRequest(
                client=bea,
                service=world.microcurrent,
                practitioner=world.sam,
                start=local(world, 2026, 12, 10, 10),
            )
        )
    news = write(world, audience=NewsAudience.HAD_SERVICE, service=world.microcurrent)
    assert names(news_recipients(news, now=NOW)) == {"Ada"}


def test_those_not_seen_for_months_with_nothing_booked(world):
    long_ago, lately, booked, _never = (
        yes(world, "Ada"),
        yes(world, "Bea"),
        yes(world, "Cleo"),
        yes(world, "Dora"),
    )
    visit_had(world, long_ago, world.microcurrent, local(world, 2026, 3, 2, 10))
    visit_had(world, lately, world.microcurrent, local(world, 2026, 3, 3, 10))
    visit_had(world, lately, world.microcurrent, local(world, 2026, 10, 5, 10))
    visit_had(world, booked, world.microcurrent, local(world, 2026, 3, 4, 10))
    with time_machine.travel(local(world, 2026, 11, 20, 9), tick=False):
        appointment_book(
            BookingRequest(
                client=booked,
                service=world.microcurrent,
                practitioner=world.sam,
                start=local(world, 2026, 12, 10, 10),
            )
        )
    news = write(world, audience=NewsAudience.NOT_SEEN, months=6)
    # Ada came in March and not since; Bea came in October; Cleo has a visit booked; Dora never came
    assert names(news_recipients(news, now=NOW)) == {"Ada"}
    assert months_before(dt.datetime(2026, 8, 31, tzinfo=dt.UTC), 6) == dt.datetime(
        2026, 2, 28, tzinfo=dt.UTC
    )
    assert months_before(dt.datetime(2026, 1, 15, tzinfo=dt.UTC), 13) == dt.datetime(
        2024, 12, 15, tzinfo=dt.UTC
    )


def test_finding_who_takes_the_same_queries_for_few_and_many(world):
    def queries(count: int) -> int:
        for i in range(count):
            yes(world, f"C{count}x{i}")
        news = write(world)
        with CaptureQueriesContext(connection) as captured:
            assert len(news_recipients(news, now=NOW)) >= count
        return len(captured)

    assert queries(2) == queries(60) == 2


def test_sent_once_as_news_with_one_click_unsubscribe(world, smtp_settings, smtp_server):
    ada, bea = yes(world, "Ada"), yes(world, "Bea")
    news = write(world)
    sent = news_send(news, by=world.manager, expected=2)
    assert (sent.recipients, sent.sent_by) == (2, world.manager)
    rows = OutboxMessage.objects.filter(topic=f"news:{news.pk}")
    assert {(r.client_id, r.dedupe_key, r.is_essential) for r in rows} == {
        (ada.pk, f"news:{news.pk}:client:{ada.pk}", False),
        (bea.pk, f"news:{news.pk}:client:{bea.pk}", False),
    }
    # a second click, or a colleague's, sends nothing more
    with pytest.raises(ClinicError) as again:
        news_send(news, by=world.manager)
    assert again.value.code == "already_sent"
    assert again.value.message == "This news was sent on 1 December 2026 to 2 clients: it goes once."
    assert rows.count() == 2
    # and what arrives is the news, to each by name, with the unsubscribe headers of RFC 8058
    deliver_due_messages_task()
    received = {m["To"]: m for m in smtp_server.messages}
    email = received["Ada Client <ada@example.com>"]
    assert email["Subject"] == "Our new LED treatment"
    text = email.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
    assert text.startswith(
        "Hello Ada,\n\nFrom January we offer LED light therapy.\n\nAsk us at your next visit."
    )
    assert (
        "/clients/u/" in email["List-Unsubscribe"]
        and email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    )
    assert set(rows.values_list("status", flat=True)) == {OutboxStatus.SENT}


def test_a_client_who_says_no_before_their_email_goes_is_not_sent_it(world, smtp_settings, smtp_server):
    yes(world, "Ada")
    bea = yes(world, "Bea")
    news_send(write(world), by=world.manager)
    # Bea changes her mind on the phone before the worker gets to her email
    type(bea).objects.filter(pk=bea.pk).update(accepts_marketing_email=False)
    deliver_due_messages_task()
    assert [m["To"] for m in smtp_server.messages] == ["Ada Client <ada@example.com>"]
    not_sent = OutboxMessage.objects.get(client_id=bea.pk, topic__startswith="news:")
    assert not_sent.status == OutboxStatus.CANCELLED
    assert "the client no longer wants the clinic's news" in not_sent.last_error


def test_nobody_to_send_to_and_an_audience_that_changed_send_nothing(world):
    news = write(world)
    with pytest.raises(ClinicError) as nobody:
        news_send(news, by=world.manager)
    assert nobody.value.code == "nobody"
    yes(world, "Ada")
    yes(world, "Bea")
    with pytest.raises(ClinicError) as changed:
        news_send(news, by=world.manager, expected=1)
    assert changed.value.message == "It now goes to 2 clients, not 1: check who, then send it again."
    assert not OutboxMessage.objects.filter(topic=f"news:{news.pk}").exists()
    news.refresh_from_db()
    assert news.sent_at is None


def test_only_a_manager_of_the_clinic_writes_or_sends_and_the_database_keeps_its_shape(world):
    with pytest.raises(ClinicError):
        news_write(
            clinic=world.clinic, by=world.desk, subject="Hi", text="Hello", audience=NewsAudience.EVERYONE
        )
    news = write(world)
    with pytest.raises(ClinicError):
        news_send(news, by=world.desk)
    # what the form would refuse is refused in words, not as a 500, when the service is called directly
    from tests.factories import ClinicFactory, ServiceFactory

    elsewhere = ServiceFactory(clinic=ClinicFactory())
    with pytest.raises(ClinicError) as other_clinics:
        write(world, audience=NewsAudience.HAD_SERVICE, service=elsewhere)
    assert other_clinics.value.message == "Choose one of the clinic's services."
    with pytest.raises(ClinicError) as too_long:
        write(world, subject="x" * 151)
    assert too_long.value.code == "bad_news"
    with pytest.raises(IntegrityError), transaction.atomic():
        ClinicNews.objects.create(
            clinic=world.clinic, subject="x", text="y", audience=NewsAudience.HAD_SERVICE
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        ClinicNews.objects.create(
            clinic=world.clinic, subject="x", text="y", audience=NewsAudience.NOT_SEEN, months=0
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        ClinicNews.objects.create(clinic=world.clinic, subject="", text="y")


# ---------------------------------------------------------------------------------------- pages


def signed_in(member):
    browser = BrowserClient()
    browser.force_login(member.user)
    return browser


def test_a_manager_writes_sees_who_and_what_then_sends_from_the_pages(world):
    yes(world, "Ada")
    yes(world, "Bea")
    manager = signed_in(world.manager)
    assert 'href="/manage/news/"' in manager.get("/").content.decode()
    # a service not chosen, for those who had one: said beside the field
    missing = manager.post(reverse("news"), {"subject": "LED", "text": "News", "audience": "had_service"})
    assert missing.status_code == 400 and "Choose the service they had." in missing.content.decode()
    written = manager.post(
        reverse("news"),
        {"subject": "Our new LED treatment", "text": "From January: LED.", "audience": "everyone"},
    )
    news = ClinicNews.objects.get()
    assert written["Location"] == reverse("news-detail", args=[news.pk])
    page = manager.get(written["Location"]).content.decode()
    assert "<strong>It goes to 2 clients</strong>" in page
    assert "Hello Ada,\n\nFrom January: LED." in page  # what Ada reads
    assert ">Send it to 2 clients</button>" in page
    sent = manager.post(written["Location"], {"action": "send", "expected": "2"}, follow=True)
    said = sent.content.decode()
    assert "Sent to 2 clients: the emails are on their way." in said
    assert "<li>Still to go: 2</li>" in said
    again = manager.post(written["Location"], {"action": "send", "expected": "2"}, follow=True)
    assert "it goes once." in again.content.decode()
    assert OutboxMessage.objects.filter(topic=f"news:{news.pk}").count() == 2
    listed = manager.get(reverse("news")).content.decode()
    assert "to 2 clients" in listed


def test_news_not_sent_is_thrown_away_and_others_cannot_reach_it(world):
    news = write(world)
    desk = signed_in(world.desk)
    assert desk.get(reverse("news")).status_code == 403
    assert desk.get(reverse("news-detail", args=[news.pk])).status_code == 403
    from tests.factories import ClinicFactory, StaffMemberFactory

    stranger = signed_in(StaffMemberFactory(clinic=ClinicFactory(), role="manager"))
    assert stranger.post(reverse("news-detail", args=[news.pk]), {"action": "send"}).status_code == 404
    manager = signed_in(world.manager)
    assert manager.post(reverse("news-detail", args=[news.pk]), {"action": "nothing"}).status_code == 404
    thrown = manager.post(reverse("news-detail", args=[news.pk]), {"action": "delete"}, follow=True)
    assert "Thrown away: it was not sent." in thrown.content.decode()
    assert not ClinicNews.objects.exists()


def test_the_wording_around_the_news_is_the_clinics_to_edit(world):
    manager = signed_in(world.manager)
    page = manager.get(reverse("message-template-edit", args=["clinic_news"]))
    assert page.status_code == 200 and "news_subject" in page.content.decode()


# ---------------------------------------------------------------------------------------- saying yes


def test_a_client_says_yes_to_news_on_the_booking_page_and_it_is_kept_how(world, client):
    from treatments.views.public import NEWS_TICKED_ONLINE

    world.microcurrent.bookable_online = True
    world.microcurrent.save(update_fields=["bookable_online"])
    world.clinic.slug = "lumen"
    world.clinic.save(update_fields=["slug"])
    url = reverse("public-details", args=[world.clinic.slug, world.microcurrent.pk])
    query = f"{url}?start=2026-12-08T10:00&practitioner={world.dr_lee.pk}"
    page = client.get(query).content.decode()
    assert 'name="wants_news"' in page and "checked" not in page.split('name="wants_news"')[1][:40]
    details = {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "phone": "07700 900123",
    }
    booked = client.post(
        query, {**details, "wants_news": "on", "start": "2026-12-08T10:00", "practitioner": world.dr_lee.pk}
    )
    assert booked.status_code == 302
    ada = Client.objects.get(email="ada@example.com")
    assert (
        ada.accepts_marketing_email
        and ada.news_choice_how == NEWS_TICKED_ONLINE
        and NOW <= ada.news_choice_at < NOW + dt.timedelta(minutes=5)
    )
    assert ada.accepts_aftercare_email  # as before
    # booking again without ticking it changes nothing they said
    again = client.post(
        f"{url}?start=2026-12-22T10:00&practitioner={world.dr_lee.pk}",
        {**details, "start": "2026-12-22T10:00", "practitioner": world.dr_lee.pk},
    )
    assert again.status_code == 302, again.content.decode().split('class="error"')[1][:300]
    ada.refresh_from_db()
    assert ada.accepts_marketing_email
    # and someone who does not tick it gets no news
    client.post(
        query.replace("10:00", "11:00"),
        {
            **details,
            "first_name": "Bea",
            "last_name": "B",
            "email": "bea@example.com",
            "start": "2026-12-08T11:00",
            "practitioner": world.dr_lee.pk,
        },
    )
    assert Client.objects.get(email="bea@example.com").accepts_marketing_email is False


def test_the_desk_records_what_a_client_said_of_the_optional_emails(world):
    from clients.services import UNSUBSCRIBED_FROM_NEWS, client_email_choices

    ada = world.client(first_name="Ada", email="ada@example.com")
    desk = signed_in(world.desk)
    page = desk.get(reverse("client-detail", args=[ada.pk])).content.decode()
    assert f'action="/clients/{ada.pk}/email-choices/"' in page
    said = desk.post(
        reverse("client-email-choices", args=[ada.pk]), {"aftercare": "on", "news": "on"}, follow=True
    )
    assert "Ada: the clinic&#x27;s news on." in said.content.decode()
    ada.refresh_from_db()
    assert ada.accepts_marketing_email and ada.news_choice_how == "Told Jo Carter"
    assert "(news: yes since 1 Dec 2026, told jo carter)" in said.content.decode()
    # an unsubscribe is kept as their choice too; saying yes again at the desk subscribes them again
    client_unsubscribe(client=ada)
    ada.refresh_from_db()
    assert (ada.accepts_marketing_email, ada.news_choice_how) == (False, UNSUBSCRIBED_FROM_NEWS)
    assert client_email_choices(ada, aftercare=False, news=True, how="Told Jo Carter") == [
        "the clinic's news on"
    ]
    ada.refresh_from_db()
    assert ada.unsubscribed_at is None and ada.accepts_marketing_email and not ada.accepts_aftercare_email
    # aftercare turned off stops the aftercare still to go, not the news
    for key, topic in (("aftercare_rebook", "session:1"), (NEWS_EMAIL, "news:1")):
        OutboxMessage.objects.create(
            clinic=world.clinic,
            client_id=ada.pk,
            recipient_email=ada.email,
            template_key=key,
            topic=topic,
            dedupe_key=f"{key}:{ada.pk}",
            is_essential=False,
            due_at=NOW + dt.timedelta(days=1),
        )
    client_email_choices(ada, aftercare=True, news=True, how="Told Jo Carter")
    client_email_choices(ada, aftercare=False, news=True, how="Told Jo Carter")
    statuses = dict(OutboxMessage.objects.filter(client_id=ada.pk).values_list("template_key", "status"))
    assert statuses == {"aftercare_rebook": OutboxStatus.CANCELLED, NEWS_EMAIL: OutboxStatus.PENDING}
    # an erased record says nothing more
    client_erase(client=ada, by=world.manager)
    with pytest.raises(ClinicError):
        client_email_choices(ada, aftercare=True, news=True, how="Told Jo Carter")


def test_a_yes_in_an_imported_file_is_kept_with_where_it_came_from(world):
    from clients.imports import client_import_apply, client_import_read

    data = (
        b"First name,Last name,Email,Marketing\r\n"
        b"Ada,Client,ada@example.com,yes\r\nBea,Client,bea@example.com,no\r\n"
    )
    client_import = client_import_read(
        clinic=world.clinic, uploaded_by=world.manager, file_name="old.csv", data=data
    )
    client_import_apply(client_import, actor=world.manager)
    ada, bea = Client.objects.get(first_name="Ada"), Client.objects.get(first_name="Bea")
    assert ada.news_choice_how == f"Said yes in old.csv, imported by {world.manager.display_name}"
    assert (bea.news_choice_how, bea.news_choice_at) == ("", None)
    assert names(news_recipients(write(world), now=NOW)) == {"Ada"}


def test_the_manager_emails_themselves_a_test_before_anyone_else_gets_it(world, smtp_settings, smtp_server):
    world.manager.user.email = "morgan@lumen.example"
    world.manager.user.save(update_fields=["email"])
    yes(world, "Ada")
    news = write(world)
    manager = signed_in(world.manager)
    page = manager.get(reverse("news-detail", args=[news.pk])).content.decode()
    assert ">Email me a test (morgan@lumen.example)</button>" in page
    said = manager.post(reverse("news-detail", args=[news.pk]), {"action": "test"}, follow=True)
    assert "A test is on its way to morgan@lumen.example." in said.content.decode()
    deliver_due_messages_task()
    (test,) = smtp_server.messages
    assert test["To"] == f"{world.manager.display_name} <morgan@lumen.example>"
    assert (
        test["Subject"] == "Our new LED treatment"
        and test["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    )
    first_name = world.manager.display_name.split()[0]
    assert test.get_body(preferencelist=("plain",)).get_content().startswith(f"Hello {first_name},")
    # the news itself is not sent, nor counted as sent
    news.refresh_from_db()
    assert news.sent_at is None and news_delivery(news) == {}
    # a manager without an address is told where to get one
    world.manager.user.email = ""
    world.manager.user.save(update_fields=["email"])
    with pytest.raises(ClinicError) as no_email:
        news_send_test(news, by=world.manager)
    assert no_email.value.code == "no_email"


def test_news_set_to_go_later_waits_in_the_outbox_and_can_be_stopped(world, smtp_settings, smtp_server):
    yes(world, "Ada")
    yes(world, "Bea")
    manager = signed_in(world.manager)
    news = write(world)
    url = reverse("news-detail", args=[news.pk])
    # a time gone by, or not a time, sends nothing
    for typed, said in (
        ("2026-11-30T09:00", "Choose a time to send it between now and 60 days ahead, or send it now."),
        ("next tuesday", "Give the time to send it as a date and a time, or leave it empty."),
    ):
        answer = manager.post(url, {"action": "send", "expected": "2", "goes_at": typed}, follow=True)
        assert said in answer.content.decode()
    assert not OutboxMessage.objects.filter(topic=f"news:{news.pk}").exists()
    # set for Tuesday 09:00 in London
    sent = manager.post(url, {"action": "send", "expected": "2", "goes_at": "2026-12-08T09:00"}, follow=True)
    page = sent.content.decode()
    assert "Sent to 2 clients: the emails go out Tue 08 Dec at 09:00." in page
    assert "to go out Tue 8 Dec 2026 09:00" in page and 'id="news-stop"' in page
    rows = OutboxMessage.objects.filter(topic=f"news:{news.pk}")
    assert set(rows.values_list("due_at", flat=True)) == {local(world, 2026, 12, 8, 9)}
    deliver_due_messages_task()
    assert smtp_server.messages == []  # not before Tuesday
    with time_machine.travel(local(world, 2026, 12, 8, 9, 1), tick=False):
        deliver_due_messages_task()
    assert len(smtp_server.messages) == 2


def test_news_stopped_before_it_goes_sends_nothing_more(world, smtp_settings, smtp_server):
    from treatments.news import STOPPED, news_stop

    yes(world, "Ada")
    news = news_send(write(world), by=world.manager, goes_at=local(world, 2026, 12, 8, 9))
    manager = signed_in(world.manager)
    stopped = manager.post(reverse("news-detail", args=[news.pk]), {"action": "stop"}, follow=True)
    page = stopped.content.decode()
    assert (
        "Stopped: 1 email will not go." in page
        and 'id="news-stopped"' in page
        and 'id="news-stop"' not in page
    )
    row = OutboxMessage.objects.get(topic=f"news:{news.pk}")
    assert (row.status, row.last_error) == (OutboxStatus.CANCELLED, STOPPED)
    with time_machine.travel(local(world, 2026, 12, 8, 9, 1), tick=False):
        deliver_due_messages_task()
    assert smtp_server.messages == []
    with pytest.raises(ClinicError) as again:
        news_stop(news, by=world.manager)
    assert again.value.code == "not_going"
    with pytest.raises(ClinicError):
        news_stop(write(world, subject="Not sent"), by=world.manager)


def test_what_a_manager_mistypes_in_the_news_form_is_said_beside_it(world):
    manager = signed_in(world.manager)
    for sent, said in (
        ({"subject": "", "text": "x", "audience": "everyone"}, "This field is required."),
        ({"subject": "Hi", "text": "x", "audience": "not_seen", "months": "six"}, "Enter a whole number."),
        ({"subject": "Hi", "text": "x", "audience": "not_seen", "months": "61"}, "less than or equal to 60"),
        ({"subject": "Hi", "text": "x", "audience": "not_seen"}, "Say how many months, 1 to 60."),
        (
            {"subject": "Hi", "text": "x", "audience": "had_service", "service": "999999"},
            "Select a valid choice.",
        ),
        ({"subject": "Hi", "text": "x", "audience": "someone"}, "Select a valid choice."),
    ):
        answer = manager.post(reverse("news"), sent)
        assert answer.status_code == 400 and said in answer.content.decode(), sent
    assert not ClinicNews.objects.exists()
    assert (
        signed_in(world.desk).get(reverse("client-email-choices", args=[world.client().pk])).status_code
        == 405
    )
