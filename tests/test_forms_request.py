"""A booking asks for missing or stale intake and consent; the client fills and signs them from the link."""

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from clients.models import (
    ClientCondition,
    ConsentTemplate,
    IntakeQuestionnaire,
    IntakeResponse,
    SignedConsent,
)
from clinic.models import OutboxMessage
from clinic.tasks import deliver_due_messages_task
from tests.booking_world import build_world, local
from tests.factories import sign_consent
from treatments.booking import BookingRequest, appointment_book

pytestmark = pytest.mark.django_db

QUESTIONS = [
    {"code": "pregnancy", "text": "Are you pregnant?", "kind": "yes_no", "condition": "pregnancy"},
    {"code": "cold-sores", "text": "Do you get cold sores?", "kind": "yes_no", "condition": "cold-sores"},
    {"code": "isotretinoin", "text": "Last isotretinoin dose", "kind": "date", "condition": "isotretinoin"},
]


@pytest.fixture
def world(db):
    return forms_world()


def forms_world():
    """Lumen with a current intake form (version 2) and microneedling consent (version 2 of 2)."""
    world = build_world()
    world.intake = IntakeQuestionnaire.objects.create(
        clinic=world.clinic, version=2, title="Health questionnaire", questions=QUESTIONS, is_current=True
    )
    world.old_consent = ConsentTemplate.objects.create(
        clinic=world.clinic,
        modality="microneedling",
        version=1,
        title="Microneedling consent",
        body="Old text.",
    )
    world.consent = ConsentTemplate.objects.create(
        clinic=world.clinic,
        modality="microneedling",
        version=2,
        title="Microneedling consent",
        body="Procedure, risks, alternatives.",
        is_current=True,
    )
    return world


def book(world, client, start=None):
    return appointment_book(
        BookingRequest(
            client=client,
            service=world.microneedling,
            practitioner=world.dr_lee,
            start=start or local(world, 2026, 12, 7, 10),
        )
    )


def forms_request(appointment):
    return OutboxMessage.objects.filter(dedupe_key=f"appointment:{appointment.pk}:forms").first()


def test_a_new_client_is_asked_for_intake_and_consent(world, smtp_settings, smtp_server):
    appointment = book(world, world.client(first_name="Olivia", email="olivia@example.com"))
    request = forms_request(appointment)
    assert request.context["forms_needed"] == ["Health questionnaire", "Microneedling consent"]
    assert request.is_essential and request.client_id == appointment.client_id
    deliver_due_messages_task()
    [mail] = [m for m in smtp_server.messages if "forms to fill in" in m["Subject"]]
    body = mail.get_body(preferencelist=("plain",)).get_content()
    assert "Monday 7 December 2026 at 10:00 (Europe/London time, GMT)" in body
    assert "/clients/forms/" in body


def test_a_client_with_current_forms_is_not_asked(world):
    client = world.client(email="kim@example.com")
    IntakeResponse.objects.create(client=client, questionnaire=world.intake, answers={})
    sign_consent(client, world.consent)
    assert forms_request(book(world, client)) is None


def test_stale_intake_and_an_old_consent_version_are_asked_again(world):
    client = world.client(email="lee@example.com")
    IntakeResponse.objects.create(
        client=client,
        questionnaire=world.intake,
        answers={},
        submitted_at=timezone.now() - dt.timedelta(days=world.clinic.intake_validity_days + 30),
    )
    sign_consent(client, world.old_consent)
    request = forms_request(book(world, client))
    assert request.context["forms_needed"] == ["Health questionnaire", "Microneedling consent"]


def _link_path(appointment):
    url = forms_request(appointment).context["forms_url"]
    return "/" + url.split("://", 1)[1].partition("/")[2]


def test_blank_or_unsigned_forms_are_refused_and_nothing_is_stored(world, client):
    appointment = book(world, world.client(first_name="Olivia", email="olivia@example.com"))
    path = _link_path(appointment)
    page = client.get(path)
    assert (
        page.status_code == 200
        and b"Are you pregnant?" in page.content
        and b"Procedure, risks" in page.content
    )
    blank = client.post(path, {})
    assert blank.status_code == 400
    assert b"Please answer yes or no." in blank.content
    assert b"Please tick the box" in blank.content
    answered_unsigned = client.post(
        path,
        {
            "q-pregnancy": "no",
            "q-cold-sores": "yes",
            "q-isotretinoin": "",
            f"consent-{world.consent.pk}-agree": "yes",
            f"consent-{world.consent.pk}-name": "",
        },
    )
    assert answered_unsigned.status_code == 400
    assert b"Please type your full name to sign." in answered_unsigned.content
    assert b'value="yes" checked' in answered_unsigned.content  # the answers given are kept
    assert not IntakeResponse.objects.exists() and not SignedConsent.objects.exists()


def test_filled_and_signed_forms_are_stored_pinned_to_their_versions(world, client):
    olivia = world.client(first_name="Olivia", last_name="Smith", email="olivia@example.com")
    path = _link_path(book(world, olivia))
    response = client.post(
        path,
        {
            "q-pregnancy": "no",
            "q-cold-sores": "yes",
            "q-isotretinoin": "2026-01-15",
            f"consent-{world.consent.pk}-agree": "yes",
            f"consent-{world.consent.pk}-name": "Olivia  Smith",
        },
        HTTP_USER_AGENT="Test browser",
    )
    assert response.status_code == 200 and b"Thank you, Olivia" in response.content
    [intake] = IntakeResponse.objects.filter(client=olivia)
    assert intake.questionnaire == world.intake
    assert intake.answers == {"pregnancy": "no", "cold-sores": "yes", "isotretinoin": "2026-01-15"}
    conditions = {(c.code, c.noted_on) for c in ClientCondition.objects.filter(client=olivia)}
    assert conditions == {("cold-sores", None), ("isotretinoin", dt.date(2026, 1, 15))}
    [signed] = SignedConsent.objects.filter(client=olivia)
    assert (signed.version, signed.signed_text, signed.signature_name) == (
        2,
        world.consent.body,
        "Olivia Smith",
    )
    assert signed.ip_address == "127.0.0.1" and signed.user_agent == "Test browser"
    # the link now says there is nothing left to do
    assert b"Nothing to fill in" in client.get(path).content


def test_a_future_date_is_questioned(world, client):
    path = _link_path(book(world, world.client(email="olivia@example.com")))
    response = client.post(path, {"q-pregnancy": "no", "q-cold-sores": "no", "q-isotretinoin": "2030-01-01"})
    assert response.status_code == 400 and b"This date is in the future." in response.content


def test_a_forged_forms_link_is_refused(client, world):
    response = client.get(reverse("client-forms", args=["forged"]))
    assert response.status_code == 404 and b"This link is not valid" in response.content


def test_a_form_request_still_to_go_takes_the_new_time_of_a_moved_visit(world):
    from treatments.booking import appointment_reschedule

    client = world.client(first_name="Olivia", email="olivia@example.com")
    visit = book(world, client, start=local(world, 2026, 12, 7, 10))
    [before] = OutboxMessage.objects.filter(template_key="forms_request", client_id=client.pk)
    appointment_reschedule(visit, start=local(world, 2026, 12, 9, 14))
    [after] = OutboxMessage.objects.filter(template_key="forms_request", client_id=client.pk)
    assert after.pk == before.pk and after.status == "pending"
    assert after.context["local_start"] == "Wednesday 9 December 2026 at 14:00"
    assert after.context["forms_url"] == before.context["forms_url"]
    assert after.context["forms_needed"] == before.context["forms_needed"]


FILLED = {"q-pregnancy": "no", "q-cold-sores": "no", "q-isotretinoin": ""}


def _signed(world):
    return {f"consent-{world.consent.pk}-agree": "yes", f"consent-{world.consent.pk}-name": "Olivia Smith"}


def test_photo_consent_is_offered_with_the_forms_and_optional(world, client):
    from clients.models import PhotoConsent

    olivia = world.client(first_name="Olivia", last_name="Smith", email="olivia@example.com")
    path = _link_path(book(world, olivia))
    page = client.get(path).content.decode()
    assert 'id="photo-consents"' in page and "I agree: photos for clinical record" in page
    # ticked but unsigned: refused, with everything typed kept
    response = client.post(path, FILLED | _signed(world) | {"photo-clinical": "yes", "photo-name": ""})
    assert response.status_code == 400 and "type your full name" in response.content.decode()
    assert 'name="photo-clinical" value="yes" checked' in response.content.decode()
    assert not PhotoConsent.objects.exists() and not IntakeResponse.objects.filter(client=olivia).exists()
    response = client.post(
        path,
        FILLED
        | _signed(world)
        | {"photo-clinical": "yes", "photo-teaching": "yes", "photo-name": "Olivia Smith"},
    )
    assert response.status_code == 200
    given = PhotoConsent.objects.filter(client=olivia, revoked_at__isnull=True)
    assert sorted(given.values_list("scope", flat=True)) == ["clinical", "teaching"]
    assert "clinical record" in given.get(scope="clinical").signed_text


def test_the_forms_go_in_without_photo_consent(world, client):
    from clients.models import PhotoConsent

    olivia = world.client(first_name="Olivia", last_name="Smith", email="olivia@example.com")
    response = client.post(_link_path(book(world, olivia)), FILLED | _signed(world))
    assert response.status_code == 200 and not PhotoConsent.objects.exists()
    assert SignedConsent.objects.filter(client=olivia).exists()


def test_the_client_gives_their_emergency_contact_and_gp_with_the_intake(world, client):
    """DOMAIN.md's intake asks for an emergency contact and the GP; before, only the desk could type them."""
    olivia = world.client(first_name="Olivia", last_name="Smith", email="olivia@example.com")
    olivia.gp_details = "Dr Patel, Market Street Surgery"
    olivia.save()
    path = _link_path(book(world, olivia))
    page = client.get(path).content.decode()
    assert "Someone we can call in an emergency" in page
    assert 'value="Dr Patel, Market Street Surgery"' in page  # what the clinic has, to correct
    details = {
        "details-emergency_contact_name": "Sam Smith",
        "details-emergency_contact_phone": "+44 7700 900 456",
        "details-gp_details": "Dr Patel, Market Street Surgery",
    }
    response = client.post(path, FILLED | _signed(world) | details)
    assert response.status_code == 200
    olivia.refresh_from_db()
    assert (olivia.emergency_contact_name, olivia.emergency_contact_phone, olivia.gp_details) == (
        "Sam Smith",
        "+44 7700 900 456",
        "Dr Patel, Market Street Surgery",
    )


@pytest.mark.parametrize(
    ("details", "said"),
    [
        (
            {"details-emergency_contact_name": "Sam", "details-emergency_contact_phone": "n/a"},
            "does not look like a phone number",
        ),
        (
            {"details-emergency_contact_name": "Sam", "details-emergency_contact_phone": ""},
            "Please give a phone number for Sam.",
        ),
        (
            {"details-emergency_contact_name": "", "details-emergency_contact_phone": "07700 900456"},
            "Please give the name of the person at this number.",
        ),
    ],
)
def test_an_emergency_contact_that_cannot_be_called_is_questioned_and_nothing_is_stored(
    world, client, details, said
):
    olivia = world.client(first_name="Olivia", last_name="Smith", email="olivia@example.com")
    response = client.post(_link_path(book(world, olivia)), FILLED | _signed(world) | details)
    assert response.status_code == 400
    page = response.content.decode()
    assert said in page and "Some answers need another look" in page
    assert 'name="q-pregnancy" value="no" checked' in page  # the answers given are kept
    assert not IntakeResponse.objects.filter(client=olivia).exists()
    assert not SignedConsent.objects.filter(client=olivia).exists()
    olivia.refresh_from_db()
    assert (olivia.emergency_contact_name, olivia.emergency_contact_phone) == ("", "")


def test_details_the_page_did_not_ask_are_kept_as_they_were(world, client):
    olivia = world.client(first_name="Olivia", last_name="Smith", email="olivia@example.com")
    olivia.emergency_contact_name, olivia.emergency_contact_phone = "Sam Smith", "07700 900456"
    olivia.save()
    response = client.post(_link_path(book(world, olivia)), FILLED | _signed(world))
    assert response.status_code == 200 and IntakeResponse.objects.filter(client=olivia).exists()
    olivia.refresh_from_db()
    assert (olivia.emergency_contact_name, olivia.emergency_contact_phone) == ("Sam Smith", "07700 900456")


def test_the_intake_is_asked_under_its_headings(world, client):
    world.intake.questions = [
        {**QUESTIONS[0], "section": "Your health"},
        {**QUESTIONS[1], "section": "Your health"},
        {**QUESTIONS[2], "section": "Medicines"},
    ]
    world.intake.save()
    page = client.get(_link_path(book(world, world.client(email="olivia@example.com")))).content.decode()
    headings = re.findall(r'<h3 class="intake-section">([^<]*)</h3>', page)
    assert headings == ["Your details", "Your health", "Medicines"]
    assert page.index("Medicines") < page.index("Last isotretinoin dose")


def test_the_client_is_emailed_a_copy_of_what_they_signed_once(world, client, smtp_settings, smtp_server):
    """Each consent's exact text, version, signer and fingerprint, and the photo uses agreed to; the
    intake's answers are health data and stay out of the email. One email, even if unsubscribed."""
    olivia = world.client(first_name="Olivia", last_name="Smith", email="olivia@example.com")
    path = _link_path(book(world, olivia))
    olivia.unsubscribed_at = timezone.now()
    olivia.save(update_fields=["unsubscribed_at"])
    OutboxMessage.objects.all().delete()  # the booking's own emails are not this test's
    answer = client.post(
        path, FILLED | _signed(world) | {"photo-clinical": "yes", "photo-name": "Olivia Smith"}
    )
    assert answer.status_code == 200
    client.post(path, FILLED | _signed(world))  # a second press finds nothing left to sign
    [copy] = OutboxMessage.objects.filter(template_key="forms_signed")
    signed = SignedConsent.objects.get(client=olivia)
    assert copy.is_essential and copy.client_id == olivia.pk
    deliver_due_messages_task()
    [mail] = [m for m in smtp_server.messages if "copy of what you signed" in m["Subject"]]
    assert mail["To"] == "Olivia Smith <olivia@example.com>"
    body = mail.get_body(preferencelist=("plain",)).get_content()
    assert "Health questionnaire (version 2) was received" in body
    assert "Microneedling consent, version 2" in body and "Signed by Olivia Smith" in body
    assert world.consent.body in body and signed.signed_text_sha256 in body
    assert "Photos: Clinical record, agreed by Olivia Smith" in body
    assert "(Europe/London time)" in body
    # no answer of the intake's is in it
    assert "cold sores" not in body.lower() and "pregnant" not in body.lower()
