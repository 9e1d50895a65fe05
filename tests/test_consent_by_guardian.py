"""A client under the clinic's age of majority does not sign a consent alone: their parent or legal
guardian signs it, with their own name, and says which they are. Lumen (London) at SUITE_NOW, 07:00 on
Tuesday 1 December 2026 (adults from 18 unless the clinic says otherwise).
"""

import datetime as dt
import html
import re

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, transaction
from django.urls import reverse

from clients.models import IntakeResponse, SignedConsent
from clients.services import consent_countersign, consent_sign
from clinic.errors import ClinicError
from tests.booking_world import build_world, local
from tests.factories import ConsentTemplateFactory
from tests.test_fhir_export import client_bundle, resources
from tests.test_forms_request import _link_path, book, forms_world

pytestmark = pytest.mark.django_db

SEVENTEEN = dt.date(2008, 12, 2)  # 18 tomorrow
EIGHTEEN_TODAY = dt.date(2008, 12, 1)
FILLED = {"q-pregnancy": "no", "q-cold-sores": "no", "q-isotretinoin": ""}
FILLED_BY_PARENT = FILLED | {"answered-by": "parent"}  # a client under 18's intake says who answered


@pytest.fixture
def world(db):
    return forms_world()


def _text(response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def _signature(world, **fields):
    return {f"consent-{world.consent.pk}-{key}": value for key, value in fields.items()}


def test_a_parent_signs_for_a_client_under_18_and_says_so(world, client):
    mia = world.client(first_name="Mia", last_name="Jones", email="mia@example.com", date_of_birth=SEVENTEEN)
    path = _link_path(book(world, mia))
    page = _text(client.get(path))
    assert (
        "Mia is under 18, so a parent or legal guardian reads and signs the consent below for them." in page
    )
    assert "agree on Mia's behalf" in page and "I sign as Mia's parent legal guardian" in page
    # the role left out: refused in words, nothing stored, what was typed kept
    unsaid = client.post(path, FILLED_BY_PARENT | _signature(world, agree="yes", name="Sarah Jones"))
    assert unsaid.status_code == 400
    assert "Please say whether you sign as the parent or the legal guardian." in _text(unsaid)
    assert 'value="Sarah Jones"' in unsaid.content.decode()
    assert not SignedConsent.objects.exists()
    signed = client.post(
        path, FILLED_BY_PARENT | _signature(world, agree="yes", name="Sarah  Jones", **{"as": "parent"})
    )
    assert signed.status_code == 200, _text(signed)
    [consent] = SignedConsent.objects.filter(client=mia)
    assert (consent.signature_name, consent.signed_as, consent.signed_text) == (
        "Sarah Jones",
        "parent",
        world.consent.body,
    )


def test_an_adult_signs_for_themselves_whatever_is_sent(world, client):
    ella = world.client(first_name="Ella", email="ella@example.com", date_of_birth=EIGHTEEN_TODAY)
    path = _link_path(book(world, ella))
    page = _text(client.get(path))
    assert (
        "legal guardian" not in page
        and "I have read this, had the chance to ask questions, and agree." in page
    )
    response = client.post(
        path, FILLED | _signature(world, agree="yes", name="Ella Smith", **{"as": "parent"})
    )
    assert response.status_code == 200
    assert SignedConsent.objects.get(client=ella).signed_as == ""


def test_the_clinic_sets_the_age_of_majority(world):
    mia = world.client(first_name="Mia", date_of_birth=SEVENTEEN)
    with pytest.raises(ClinicError, match="Please say whether you sign as the parent or the legal guardian."):
        consent_sign(client=mia, template=world.consent, signature_name="Sarah Jones", agreed=True)
    world.clinic.age_of_majority = 16
    world.clinic.save(update_fields=["age_of_majority"])
    mia.refresh_from_db()
    assert (
        consent_sign(client=mia, template=world.consent, signature_name="Mia Jones", agreed=True).signed_as
        == ""
    )
    world.clinic.age_of_majority = 25
    with pytest.raises(ValidationError, match="less than or equal to 21"):
        world.clinic.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        world.clinic.save(update_fields=["age_of_majority"])


def test_a_client_without_a_date_of_birth_signs_for_themselves(world):
    kim = world.client(first_name="Kim", date_of_birth=None)
    assert (
        consent_sign(client=kim, template=world.consent, signature_name="Kim Lee", agreed=True).signed_as
        == ""
    )


def test_the_database_knows_the_signers_and_never_changes_a_signature(world):
    mia = world.client(first_name="Mia", date_of_birth=SEVENTEEN)
    consent = consent_sign(
        client=mia,
        template=world.consent,
        signature_name="Sarah Jones",
        agreed=True,
        signed_as="legal_guardian",
    )
    with pytest.raises(DatabaseError, match="a signed consent can never be changed"), transaction.atomic():
        SignedConsent.objects.filter(pk=consent.pk).update(signed_as="parent")
    with pytest.raises(IntegrityError), transaction.atomic():
        SignedConsent.objects.create(
            client=mia,
            template=world.consent,
            modality="microneedling",
            version=2,
            signed_text="x",
            signed_text_sha256="0" * 64,
            signature_name="Someone",
            signed_as="aunt",
        )


def test_staff_read_who_signed_and_the_practitioner_signs_with_both_named(client, world):
    world.clinic.consent_signed_by_practitioner = True
    world.clinic.save(update_fields=["consent_signed_by_practitioner"])
    mia = world.client(first_name="Mia", last_name="Jones", date_of_birth=SEVENTEEN)
    consent = consent_sign(
        client=mia, template=world.consent, signature_name="Sarah Jones", agreed=True, signed_as="parent"
    )
    client.force_login(world.dr_lee.user)
    page = _text(client.get(reverse("client-intake-and-consent", args=[mia.pk])))
    assert "Signed “Sarah Jones”, Mia's parent, on 1 Dec 2026" in page
    assert "signed by Sarah Jones, Mia's parent, on 1 Dec 2026." in page
    assert "I went through this consent with Mia Jones and Sarah Jones, their parent: the procedure" in page
    signature = consent_countersign(consent=consent, role="practitioner", by=world.dr_lee, confirmed=True)
    assert signature.statement.startswith(
        "I went through this consent with Mia Jones and Sarah Jones, their parent:"
    )
    witness = consent_countersign(consent=consent, role="witness", by=world.desk, confirmed=True)
    assert witness.statement == (
        "Mia Jones and Sarah Jones, their parent, confirmed to me in person that they read this consent and "
        "signed it."
    )


def test_the_fhir_consent_names_the_parent_as_who_agreed(world):
    mia = world.client(first_name="Mia", date_of_birth=SEVENTEEN)
    consent_sign(
        client=mia, template=world.consent, signature_name="Sarah Jones", agreed=True, signed_as="parent"
    )
    [consent] = resources(client_bundle(world, mia), "Consent")
    [parent] = consent["contained"]
    assert parent["resourceType"] == "RelatedPerson" and parent["name"] == [{"text": "Sarah Jones"}]
    assert parent["relationship"][0]["coding"][0]["code"] == "PRN"
    assert consent["performer"] == [{"reference": "#signer"}]
    assert consent["verification"][0]["verifiedWith"] == {"reference": "#signer"}


def test_an_adults_fhir_consent_was_agreed_by_the_patient(db):
    world = build_world()
    ada = world.client(first_name="Ada")
    template = ConsentTemplateFactory(clinic=world.clinic)
    consent_sign(client=ada, template=template, signature_name="Ada Byron", agreed=True)
    bundle = client_bundle(world, ada)
    [consent] = resources(bundle, "Consent")
    assert "contained" not in consent
    assert consent["performer"] == [{"reference": bundle["entry"][0]["fullUrl"]}]


def test_a_parent_consents_to_photos_for_a_client_under_18_on_the_forms_page(world, client):
    from clients.models import PhotoConsent

    mia = world.client(first_name="Mia", last_name="Jones", email="mia@example.com", date_of_birth=SEVENTEEN)
    path = _link_path(book(world, mia))
    signed = FILLED_BY_PARENT | _signature(world, agree="yes", name="Sarah Jones", **{"as": "parent"})
    unsaid = client.post(path, signed | {"photo-clinical": "yes", "photo-name": "Sarah Jones"})
    assert unsaid.status_code == 400
    assert "Please say whether you sign as the parent or the legal guardian." in _text(unsaid)
    assert not PhotoConsent.objects.exists() and not SignedConsent.objects.exists()
    response = client.post(
        path, signed | {"photo-clinical": "yes", "photo-name": "Sarah Jones", "photo-as": "legal_guardian"}
    )
    assert response.status_code == 200
    photos = PhotoConsent.objects.get(client=mia)
    assert (photos.signature_name, photos.signed_as) == ("Sarah Jones", "legal_guardian")
    [fhir] = [c for c in resources(client_bundle(world, mia), "Consent") if "Photos" in str(c["category"])]
    assert fhir["performer"] == [{"reference": "#signer"}]
    assert fhir["contained"][0]["relationship"][0]["coding"][0]["code"] == "GUARD"


def test_on_the_record_page_the_parent_signs_for_photos_of_a_client_under_18(client, world):
    from clients.models import PhotoConsent
    from treatments.sessions import treatment_session_start

    mia = world.client(first_name="Mia", last_name="Jones", date_of_birth=SEVENTEEN)
    consent_sign(
        client=mia, template=world.consent, signature_name="Sarah Jones", agreed=True, signed_as="parent"
    )
    IntakeResponse.objects.create(client=mia, questionnaire=world.intake, answers={})
    visit = book(world, mia, start=local(world, 2026, 12, 1, 10))
    treatment_session_start(appointment=visit, by=world.dr_lee)
    client.force_login(world.dr_lee.user)
    url = reverse("session-record", args=[visit.pk])
    page = _text(client.get(url))
    assert (
        "Mia has not consented to photos, and is under 18: hand their parent or legal guardian the tablet"
        in page
    )
    assert 'name="consent-signed_as" value="legal_guardian"' in client.get(url).content.decode()
    refused = client.post(
        url,
        {"action": "photo_consent", "consent-agreed": "on", "consent-signature_name": "Sarah Jones"},
        follow=True,
    )
    assert "Please say whether you sign as the parent" in _text(refused) and not PhotoConsent.objects.exists()
    client.post(
        url,
        {
            "action": "photo_consent",
            "consent-agreed": "on",
            "consent-signature_name": "Sarah Jones",
            "consent-signed_as": "parent",
        },
    )
    assert PhotoConsent.objects.get(client=mia).signed_as == "parent"
    client.force_login(world.desk.user)
    desk = _text(client.get(reverse("client-detail", args=[mia.pk])))
    assert "signed “Sarah Jones”, Mia's parent" in desk


def test_who_answered_a_minors_intake_is_asked_and_kept(world, client):
    mia = world.client(first_name="Mia", last_name="Jones", email="mia@example.com", date_of_birth=SEVENTEEN)
    visit = book(world, mia)
    path = _link_path(visit)
    assert "Who is answering these questions?" in _text(client.get(path))
    signed = FILLED | _signature(world, agree="yes", name="Sarah Jones", **{"as": "parent"})
    unsaid = client.post(path, signed)
    assert unsaid.status_code == 400
    assert "Please say who is answering: Mia, or their parent or guardian." in _text(unsaid)
    assert not IntakeResponse.objects.filter(client=mia).exists()
    assert client.post(path, signed | {"answered-by": "parent"}).status_code == 200
    intake = IntakeResponse.objects.get(client=mia)
    assert intake.answered_by == "parent"
    [fhir] = resources(client_bundle(world, mia), "QuestionnaireResponse")
    assert fhir["source"] == {"reference": "#answerer"}
    assert fhir["contained"][0]["relationship"][0]["coding"][0]["code"] == "PRN"
    client.force_login(world.dr_lee.user)
    page = _text(client.get(reverse("client-intake-and-consent", args=[mia.pk])))
    assert "Answered by Mia's parent." in page
    notes = _text(client.get(reverse("appointment-detail", args=[visit.pk])))
    assert "From Mia's intake of 1 Dec 2026 (answered by their parent):" in notes


def test_a_minor_may_answer_their_own_intake_and_an_adult_is_never_asked(world, client):
    mia = world.client(first_name="Mia", email="mia@example.com", date_of_birth=SEVENTEEN)
    signed = FILLED | _signature(world, agree="yes", name="Sarah Jones", **{"as": "parent"})
    response = client.post(_link_path(book(world, mia)), signed | {"answered-by": "self"})
    assert response.status_code == 200
    assert IntakeResponse.objects.get(client=mia).answered_by == ""
    ella = world.client(first_name="Ella", email="ella@example.com", date_of_birth=EIGHTEEN_TODAY)
    path = _link_path(book(world, ella, start=local(world, 2026, 12, 8, 10)))
    assert "Who is answering" not in _text(client.get(path))
    adult = FILLED | _signature(world, agree="yes", name="Ella Smith")
    assert client.post(path, adult | {"answered-by": "parent"}).status_code == 200
    assert IntakeResponse.objects.get(client=ella).answered_by == ""
