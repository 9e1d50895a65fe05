"""The front desk chases missing intake and consent: the day's list shows who lacks them, and the
visit's page emails the link again, through the outbox, with the reason recorded on the visit."""

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clients.models import ConsentTemplate, IntakeResponse
from clinic.errors import ClinicError
from clinic.models import OutboxMessage, OutboxStatus
from clinic.outbox import resend_refusals
from clinic.tasks import deliver_due_messages_task
from tests.booking_world import local
from tests.factories import sign_consent
from tests.test_forms_request import book, forms_world
from treatments.booking import appointment_request_forms
from treatments.selectors import forms_missing

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    return forms_world()


@pytest.fixture
def visits(world):
    """Olivia, who has filled nothing, and Kim, whose intake and consent are current, both on 7 Dec."""
    olivia = book(world, world.client(first_name="Olivia", last_name="Smith", email="olivia@example.com"))
    kim_client = world.client(first_name="Kim", last_name="Park", email="kim@example.com")
    IntakeResponse.objects.create(client=kim_client, questionnaire=world.intake, answers={})
    sign_consent(kim_client, world.consent)
    kim = book(world, kim_client, start=local(world, 2026, 12, 7, 13))
    return olivia, kim


def test_the_days_list_marks_the_visits_whose_forms_are_missing(desk, world, visits):
    olivia, kim = visits
    page = desk.get("/?date=2026-12-07").content.decode()
    badge = (
        f'<a class="badge warn" href="{reverse("appointment-detail", args=[olivia.pk])}#before-the-session" '
        'title="Still to fill or sign: Health questionnaire, Microneedling consent">Forms missing</a>'
    )
    assert badge in page and page.count("Forms missing") == 1


def test_finding_what_is_missing_takes_the_same_queries_for_two_visits_or_twelve(world, visits):
    def queries():
        visits = list(world.clinic.appointments.select_related("service"))  # as the day's list loads them
        with CaptureQueriesContext(connection) as captured:
            forms_missing(visits, world.clinic)
        return len(captured)

    few = queries()
    for hour in (10, 12, 14):
        book(world, world.client(email=f"c{hour}@example.com"), start=local(world, 2026, 12, 8, hour))
        book(world, world.client(email=f"d{hour}@example.com"), start=local(world, 2026, 12, 9, hour))
    assert world.clinic.appointments.count() == 8
    assert queries() == few == 6  # protocols, intake form, intakes, consents, withdrawals, signed


def test_the_desk_emails_the_link_again_and_the_visit_records_it(
    desk, world, visits, smtp_settings, smtp_server
):
    olivia, _kim = visits
    deliver_due_messages_task()  # the booking's own request went out
    url = reverse("appointment-detail", args=[olivia.pk])
    page = desk.get(url).content.decode()
    assert "Email Olivia the link to fill them</button>" in page
    response = desk.post(reverse("appointment-action", args=[olivia.pk, "send_forms"]), follow=True)
    page = response.content.decode()
    assert "Emailed Olivia Smith the link to fill: Health questionnaire, Microneedling consent." in page
    assert "Emailed the link to the forms (Health questionnaire, Microneedling consent)" in page
    again = OutboxMessage.objects.get(dedupe_key=f"appointment:{olivia.pk}:forms:2")
    assert again.status == OutboxStatus.PENDING and again.recipient_email == "olivia@example.com"
    assert deliver_due_messages_task() == 1
    requests = [m for m in smtp_server.messages if "forms to fill in" in m["Subject"]]
    assert len(requests) == 2
    assert "/clients/forms/" in requests[1].get_body(preferencelist=("plain",)).get_content()


def test_asking_again_while_a_link_is_still_to_go_is_refused(world, visits):
    olivia, _kim = visits
    # the booking's request is still pending (no worker has run)
    with pytest.raises(ClinicError, match="already on its way to olivia@example.com"):
        appointment_request_forms(olivia)


def test_nothing_missing_no_address_or_a_visit_gone_by_is_refused_in_words(world, visits):
    olivia, kim = visits
    with pytest.raises(ClinicError, match="Nothing is missing"):
        appointment_request_forms(kim)
    no_email = book(
        world, world.client(first_name="Ann", last_name="Lee", email=""), local(world, 2026, 12, 8, 10)
    )
    with pytest.raises(ClinicError, match="Ann Lee has no email address"):
        appointment_request_forms(no_email)
    OutboxMessage.objects.filter(template_key="forms_request").update(
        status=OutboxStatus.SENT, sent_at=timezone.now()
    )
    with (
        time_machine.travel(local(world, 2026, 12, 7, 11), tick=False),
        pytest.raises(ClinicError, match="no longer ahead"),
    ):
        appointment_request_forms(olivia)
    assert not OutboxMessage.objects.filter(dedupe_key__contains=":forms:").exists()
    assert not olivia.events.filter(action="forms_requested").exists()


def test_a_new_consent_version_published_after_booking_is_chased_too(desk, world, visits):
    _olivia, kim = visits
    ConsentTemplate.objects.filter(pk=world.consent.pk).update(is_current=False)
    ConsentTemplate.objects.create(
        clinic=world.clinic,
        modality="microneedling",
        version=3,
        title="Microneedling consent",
        body="Updated risks.",
        is_current=True,
    )
    page = desk.get("/?date=2026-12-07").content.decode()
    assert page.count("Forms missing") == 2
    assert appointment_request_forms(kim) == ["Microneedling consent"]
    assert OutboxMessage.objects.filter(dedupe_key=f"appointment:{kim.pk}:forms:1").exists()


def _fill_everything(world, client):
    IntakeResponse.objects.create(client=client, questionnaire=world.intake, answers={})
    sign_consent(client, world.consent)


def test_a_request_still_to_go_when_the_client_has_filled_everything_is_not_sent(
    world, visits, smtp_settings, smtp_server
):
    olivia, _kim = visits
    # the worker was behind; meanwhile Olivia filled the forms at the desk
    _fill_everything(world, olivia.client)
    deliver_due_messages_task()
    request = OutboxMessage.objects.get(dedupe_key=f"appointment:{olivia.pk}:forms")
    assert (request.status, request.last_error) == (
        OutboxStatus.CANCELLED,
        "Not sent: the forms it asks for are filled and signed.",
    )
    assert not [m for m in smtp_server.messages if "forms to fill in" in m["Subject"]]


def test_a_request_still_to_go_asks_only_for_what_is_still_missing_when_it_goes(
    world, visits, smtp_settings, smtp_server
):
    olivia, _kim = visits
    request = OutboxMessage.objects.get(dedupe_key=f"appointment:{olivia.pk}:forms")
    assert request.context["forms_needed"] == ["Health questionnaire", "Microneedling consent"]
    # the worker was behind; meanwhile Olivia filled her intake at the desk, not yet the consent
    IntakeResponse.objects.create(client=olivia.client, questionnaire=world.intake, answers={})
    deliver_due_messages_task()
    [mail] = [m for m in smtp_server.messages if "forms to fill in" in m["Subject"]]
    body = mail.get_body(preferencelist=("plain",)).get_content()
    assert "  - Microneedling consent" in body and "Health questionnaire" not in body
    request.refresh_from_db()
    # the record says what was sent
    assert request.status == OutboxStatus.SENT
    assert request.context["forms_needed"] == ["Microneedling consent"]


def test_a_request_whose_forms_have_not_changed_goes_as_written(world, visits, smtp_settings, smtp_server):
    from treatments.notifications import booking_messages_as_they_stand

    olivia, kim = visits
    request = OutboxMessage.objects.get(dedupe_key=f"appointment:{olivia.pk}:forms")
    confirmation = OutboxMessage.objects.get(dedupe_key=f"appointment:{kim.pk}:booked")
    with CaptureQueriesContext(connection) as queries:
        assert booking_messages_as_they_stand([request, confirmation]) == {}
    # the visits, then what the form request's visit still needs: its service's protocols, five for the
    # forms (the intake form, the intakes, the withdrawals, the consents signed, the current consents)
    assert len(queries) == 1 + 1 + 5
    with CaptureQueriesContext(connection) as queries:
        assert booking_messages_as_they_stand([confirmation]) == {}
    assert len(queries) == 1  # no form request: the visits only


def test_a_refresh_that_fails_lets_the_batch_go_as_written(world, visits, smtp_settings, smtp_server):
    from clinic import outbox

    def broken(messages):
        raise RuntimeError("a bug in a refresh")

    olivia, _kim = visits
    outbox.register_context_refresh(broken)
    try:
        IntakeResponse.objects.create(client=olivia.client, questionnaire=world.intake, answers={})
        deliver_due_messages_task()
    finally:
        outbox._context_refreshes.remove(broken)
    request = OutboxMessage.objects.get(dedupe_key=f"appointment:{olivia.pk}:forms")
    assert request.status == OutboxStatus.SENT
    # the working refresh still ran
    assert request.context["forms_needed"] == ["Microneedling consent"]


def test_a_request_is_not_resent_once_answered_and_the_timeline_says_why(desk, world, visits, smtp_settings):
    olivia, _kim = visits
    deliver_due_messages_task()
    request = OutboxMessage.objects.get(dedupe_key=f"appointment:{olivia.pk}:forms")
    assert request.status == OutboxStatus.SENT
    assert resend_refusals([request]) == {}
    _fill_everything(world, olivia.client)
    assert resend_refusals([request]) == {request.pk: "the forms it asks for are filled and signed"}
    page = desk.get(reverse("appointment-detail", args=[olivia.pk])).content.decode()
    assert "Out of date: the forms it asks for are filled and signed" in page


def test_the_clients_page_says_where_they_stand_with_each_form(desk, world, visits):
    olivia, kim = visits
    page = " ".join(desk.get(reverse("client-detail", args=[olivia.client_id])).content.decode().split())
    assert '<section class="card" id="forms">' in page
    assert '<dt>Health questionnaire</dt><dd><span class="warning">Not filled yet</span></dd>' in page
    assert '<dt>Microneedling consent</dt><dd><span class="warning">Not signed</span></dd>' in page
    assert "Forms missing</a>" in page  # on her upcoming visit too
    page = " ".join(desk.get(reverse("client-detail", args=[kim.client_id])).content.decode().split())
    assert "<dt>Health questionnaire</dt><dd>Filled 1 Dec 2026 (version 2)</dd>" in page
    assert "<dt>Microneedling consent</dt><dd>Signed 1 Dec 2026 (version 2)</dd>" in page
    assert "Forms missing" not in page


def test_an_old_consent_version_or_an_old_intake_is_said_as_such(desk, world):
    import datetime as dt

    lee = world.client(first_name="Lee", last_name="Ward", email="lee@example.com")
    long_ago = timezone.now() - dt.timedelta(days=world.clinic.intake_validity_days + 30)
    IntakeResponse.objects.create(client=lee, questionnaire=world.intake, answers={}, submitted_at=long_ago)
    sign_consent(lee, world.old_consent)
    page = " ".join(desk.get(reverse("client-detail", args=[lee.pk])).content.decode().split())
    assert f"older than {world.clinic.intake_validity_days} days, so asked again" in page
    assert "Signed version 1 on 1 Dec 2026; version 2 is current" in page


def test_at_check_in_the_desk_is_told_and_can_hand_the_forms_over_on_the_tablet(desk, world, visits):
    import re

    olivia, kim = visits
    with time_machine.travel(local(world, 2026, 12, 7, 9, 50), tick=False):
        response = desk.post(reverse("appointment-action", args=[olivia.pk, "check_in"]), follow=True)
        page = " ".join(response.content.decode().split())
        assert "Olivia Smith: checked in." in page
        assert (
            "Before the session, Olivia must still fill or sign: Health questionnaire, Microneedling consent."
            in page
        )
        link = re.search(r'id="fill-here" href="([^"]+)"', page).group(1)
        # the client's own forms page, opened on the desk's device
        forms_page = desk.get(link.removeprefix("http://testserver")).content.decode()
        assert "Health questionnaire" in forms_page and "Microneedling consent" in forms_page
        # Kim's forms are in order: checked in without a word about them, and no link offered
        response = desk.post(reverse("appointment-action", args=[kim.pk, "check_in"]), follow=True)
    page = response.content.decode()
    assert "must still fill or sign" not in page and 'id="fill-here"' not in page


def test_the_calendar_marks_them_too(desk, world, visits):
    olivia, kim = visits
    page = desk.get("/calendar/?date=2026-12-07").content.decode()
    assert page.count('<span class="forms-note"') == 1
    block = page.split(f'data-appointment-id="{olivia.pk}"')[1].split("</a>")[0]
    assert 'title="Still to fill or sign: Health questionnaire, Microneedling consent">Forms missing' in block


def test_booking_says_the_confirmation_carries_a_link_to_the_missing_forms(desk, world):
    client = world.client(first_name="Ann", last_name="Hale", email="ann@example.com")
    fields = {
        "practitioner": world.dr_lee.id,
        "start": "2026-12-08T10:00",
        "service": world.microneedling.id,
        "client": client.pk,
    }
    page = " ".join(desk.post("/book/", fields, follow=True).content.decode().split())
    assert (
        "The confirmation is on its way, with a link to fill: Health questionnaire, Microneedling consent."
        in page
    )


def test_the_days_list_emails_everyone_still_missing_forms_in_one_action(desk, world, visits):
    olivia, kim = visits
    ann = book(
        world, world.client(first_name="Ann", last_name="Lee", email=""), start=local(world, 2026, 12, 7, 15)
    )
    OutboxMessage.objects.filter(template_key="forms_request").update(
        status=OutboxStatus.SENT, sent_at=timezone.now()
    )
    page = " ".join(desk.get("/?date=2026-12-07").content.decode().split())
    assert "2 visits ahead on this day still lack forms." in page and "Email each client the link" in page
    response = desk.post(reverse("chase-forms"), {"date": "2026-12-07"}, follow=True)
    assert response.redirect_chain[-1][0] == "/?date=2026-12-07"
    page = " ".join(response.content.decode().split())
    assert "Emailed the forms link to 1 client: Olivia Smith." in page
    assert "Ann Lee (15:00): Ann Lee has no email address." in page
    assert OutboxMessage.objects.filter(dedupe_key=f"appointment:{olivia.pk}:forms:2").exists()
    assert olivia.events.filter(action="forms_requested").count() == 1
    assert not ann.events.filter(action="forms_requested").exists()
    # sent again at once: Olivia's link is still on its way, so nothing doubles
    page = " ".join(
        desk.post(reverse("chase-forms"), {"date": "2026-12-07"}, follow=True).content.decode().split()
    )
    assert "Olivia Smith (10:00): A link to the forms is already on its way to olivia@example.com." in page
    assert OutboxMessage.objects.filter(dedupe_key__startswith=f"appointment:{olivia.pk}:forms:").count() == 1


def test_a_day_gone_by_offers_no_chasing(desk, world, visits):
    with time_machine.travel(local(world, 2026, 12, 8, 9), tick=False):
        page = desk.get("/?date=2026-12-07").content.decode()
    assert 'id="chase-forms"' not in page


@pytest.mark.parametrize("date", ["", "31-02-2026", "2026-13-01", "9999999"])
def test_chasing_with_a_bad_day_sends_nothing_and_says_so(desk, world, visits, date):
    OutboxMessage.objects.filter(template_key="forms_request").update(
        status=OutboxStatus.SENT, sent_at=timezone.now()
    )
    response = desk.post(reverse("chase-forms"), {"date": date}, follow=True)
    assert response.status_code == 200
    assert "Nothing was sent: the day was missing or not a date." in response.content.decode()
    assert not OutboxMessage.objects.filter(dedupe_key__contains=":forms:").exists()


def test_a_delivery_asks_once_what_a_form_request_still_lacks(world, visits, smtp_settings, smtp_server):
    """The out-of-date check and the refresh of one batch both need the forms the visit lacks: the
    refresh takes the check's answer instead of asking the database again."""
    with CaptureQueriesContext(connection) as captured:
        deliver_due_messages_task()
    asked = [q["sql"] for q in captured if "clients_signedconsent" in q["sql"]]
    assert len(asked) == 1, asked
    [request] = OutboxMessage.objects.filter(template_key="forms_request", status=OutboxStatus.SENT)
    assert request.context["forms_needed"] == ["Health questionnaire", "Microneedling consent"]


def test_one_page_lists_every_visit_ahead_lacking_forms_and_emails_them_all(
    desk, world, visits, smtp_settings
):
    olivia, kim = visits
    later = book(
        world, world.client(first_name="Zoe", last_name="Ng", email=""), start=local(world, 2027, 1, 20, 10)
    )
    beyond = book(world, world.client(email="far@example.com"), start=local(world, 2027, 3, 1, 10))
    page = desk.get(reverse("forms-ahead")).content.decode()
    assert "Olivia Smith" in page and "Zoe Ng" in page and "Kim Park" not in page
    assert reverse("appointment-detail", args=[beyond.pk]) not in page  # more than 60 days ahead
    assert "No email address" in page
    deliver_due_messages_task()  # the booking's own requests went out
    response = desk.post(reverse("forms-ahead"), follow=True)
    page = response.content.decode()
    assert "Emailed the forms link to 1 client." in page
    assert "Zoe Ng (Wed 20 Jan 10:00): Zoe Ng has no email address." in page
    assert OutboxMessage.objects.filter(dedupe_key=f"appointment:{olivia.pk}:forms:2").exists()
    assert not OutboxMessage.objects.filter(dedupe_key__startswith=f"appointment:{later.pk}:forms").exists()
    again = desk.post(reverse("forms-ahead"), follow=True).content.decode()
    assert "A link to the forms is already on its way to olivia@example.com." in again
