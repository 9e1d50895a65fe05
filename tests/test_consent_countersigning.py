"""Where the clinic asks, its staff sign the client's consent too: the practitioner who went through it
with them, and a witness. Lumen (London) at SUITE_NOW, 07:00 on Tuesday 1 December 2026; Olivia's
microneedling is at 10:00 today with Dr Lee. Sam Rivera is qualified for microneedling and
microcurrent, not mesotherapy; Jo Carter is at the desk.
"""

import html
import re

import pytest
from django.db import DatabaseError, IntegrityError, transaction
from django.urls import reverse

from clients.models import ConsentCountersignature, SignedConsent
from clients.services import consent_countersign
from clinic.errors import ClinicError
from tests.booking_world import build_world, local
from tests.factories import ConsentTemplateFactory, sign_consent
from treatments.booking import BookingRequest, appointment_book
from treatments.models import TreatmentSession
from treatments.sessions import treatment_session_start

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    world = build_world()
    world.clinic.consent_signed_by_practitioner = True
    world.clinic.save(update_fields=["consent_signed_by_practitioner"])
    world.template = ConsentTemplateFactory(clinic=world.clinic, modality="microneedling")
    return world


@pytest.fixture
def visit(world):
    olivia = world.client(first_name="Olivia", last_name="Smith")
    sign_consent(olivia, world.template)
    return appointment_book(
        BookingRequest(
            client=olivia,
            service=world.microneedling,
            practitioner=world.dr_lee,
            start=local(world, 2026, 12, 1, 10),
        )
    )


def _consent(visit, modality="microneedling") -> SignedConsent:
    return SignedConsent.objects.filter(client=visit.client, modality=modality).latest()


def _sign(visit, by, role="practitioner", confirmed=True):
    return consent_countersign(consent=_consent(visit), role=role, by=by, confirmed=confirmed)


def _text(response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def test_a_clinic_that_asks_for_none_treats_on_the_clients_signature_alone(world, visit):
    world.clinic.consent_signed_by_practitioner = False
    world.clinic.save(update_fields=["consent_signed_by_practitioner"])
    assert treatment_session_start(appointment=visit, by=world.dr_lee).pk
    assert not ConsentCountersignature.objects.exists()


def test_the_record_waits_for_the_practitioners_signature_on_the_consent(world, visit):
    with pytest.raises(ClinicError) as refusal:
        treatment_session_start(appointment=visit, by=world.dr_lee)
    assert refusal.value.code == "countersignature_missing"
    assert refusal.value.message == (
        "Olivia's consent still needs signing by the clinic: Microneedling consent: the practitioner's "
        "signature. Sign it under “Before the session” on the visit's page, then start the record."
    )
    signature = _sign(visit, world.dr_lee)
    assert (signature.role, signature.signer_name, signature.signed_by) == (
        "practitioner",
        "Dr Amara Lee",
        world.dr_lee,
    )
    assert signature.statement.startswith("I went through this consent with Olivia Smith: the procedure")
    assert treatment_session_start(appointment=visit, by=world.dr_lee).pk


def test_an_unticked_confirmation_signs_nothing(world, visit):
    with pytest.raises(ClinicError, match="Tick the box to confirm what you are signing"):
        _sign(visit, world.dr_lee, confirmed=False)
    assert not ConsentCountersignature.objects.exists()


def test_only_a_practitioner_qualified_for_the_treatment_signs_as_the_practitioner(world, visit):
    meso = ConsentTemplateFactory(clinic=world.clinic, modality="mesotherapy", title="Mesotherapy consent")
    meso_signed = sign_consent(visit.client, meso)
    with pytest.raises(ClinicError, match="Only a practitioner qualified for mesotherapy can sign"):
        consent_countersign(consent=meso_signed, role="practitioner", by=world.sam, confirmed=True)
    for not_a_practitioner in (world.desk, world.manager):
        with pytest.raises(ClinicError, match="Only a practitioner qualified for microneedling"):
            _sign(visit, not_a_practitioner)
    assert _sign(visit, world.sam).signed_by == world.sam  # qualified, though not the visit's practitioner
    assert ConsentCountersignature.objects.count() == 1


def test_a_witness_is_someone_else_and_both_are_needed_where_the_clinic_asks_both(world, visit):
    world.clinic.consent_witnessed = True
    world.clinic.save(update_fields=["consent_witnessed"])
    _sign(visit, world.dr_lee)
    with pytest.raises(ClinicError, match="Microneedling consent: a witness's signature"):
        treatment_session_start(appointment=visit, by=world.dr_lee)
    with pytest.raises(ClinicError, match="The witness must be someone other than the practitioner"):
        _sign(visit, world.dr_lee, role="witness")
    witness = _sign(visit, world.desk, role="witness")
    assert (
        witness.statement
        == "Olivia Smith confirmed to me in person that they read this consent and signed it."
    )
    assert treatment_session_start(appointment=visit, by=world.dr_lee).pk


def test_signing_twice_keeps_the_first_signature(world, visit):
    first = _sign(visit, world.dr_lee)
    assert _sign(visit, world.sam) == first
    assert ConsentCountersignature.objects.get().signed_by == world.dr_lee


def test_a_newer_consent_needs_its_own_signature_and_the_old_one_cannot_be_signed(world, visit):
    old = _consent(visit)
    consent_countersign(consent=old, role="practitioner", by=world.dr_lee, confirmed=True)
    world.template.is_current = False
    world.template.save(update_fields=["is_current"])
    v2 = ConsentTemplateFactory(clinic=world.clinic, version=2, body="Version 2: new risks listed.")
    sign_consent(visit.client, v2)
    with pytest.raises(ClinicError, match="Microneedling consent: the practitioner's signature"):
        treatment_session_start(appointment=visit, by=world.dr_lee)
    old_again = SignedConsent.objects.get(pk=old.pk)
    world.clinic.consent_witnessed = True
    world.clinic.save(update_fields=["consent_witnessed"])
    with pytest.raises(ClinicError, match="Olivia Smith has signed a newer microneedling consent since"):
        consent_countersign(consent=old_again, role="witness", by=world.desk, confirmed=True)


def test_another_clinics_staff_cannot_sign(world, visit):
    other = build_world()
    with pytest.raises(ClinicError, match="Only the clinic's own staff"):
        _sign(visit, other.dr_lee)


def test_the_database_keeps_one_signature_per_role_and_never_changes_one(world, visit):
    signature = _sign(visit, world.dr_lee)
    with pytest.raises(IntegrityError), transaction.atomic():
        ConsentCountersignature.objects.create(
            consent=signature.consent,
            role="practitioner",
            signed_by=world.sam,
            signer_name="Sam Rivera",
            statement="Again",
        )
    with pytest.raises(DatabaseError, match="a countersignature can never be changed"), transaction.atomic():
        ConsentCountersignature.objects.filter(pk=signature.pk).update(statement="Edited")
    # the signed consent's own trigger survived the migration that added these
    with pytest.raises(DatabaseError, match="signed consent can never be changed"), transaction.atomic():
        SignedConsent.objects.filter(pk=signature.consent_id).update(signature_name="Edited")


# --- pages ----------------------------------------------------------------------------------------


def test_the_visit_page_offers_the_practitioner_the_signature_and_the_record_after_it(client, world, visit):
    url = reverse("appointment-detail", args=[visit.pk])
    client.force_login(world.dr_lee.user)
    page = client.get(url)
    text = _text(page)
    assert "Still to sign by the clinic: the practitioner's signature" in text
    assert "I went through this consent with Olivia Smith" in text
    assert "Sign as the practitioner" in text
    assert "Intake and consent are in order" not in text
    assert "Start the treatment record" not in text
    # sent without the box ticked: refused in words, nothing signed
    sign_url = reverse("consent-countersign", args=[_consent(visit).pk])
    refused = client.post(sign_url, {"role": "practitioner", "next": url}, follow=True)
    assert "Tick the box to confirm what you are signing" in _text(refused)
    assert not ConsentCountersignature.objects.exists()
    signed = client.post(sign_url, {"role": "practitioner", "confirm": "yes", "next": url}, follow=True)
    assert signed.redirect_chain[-1][0] == url
    text = _text(signed)
    assert "You signed Olivia Smith's Microneedling consent (version 1) as the practitioner." in text
    assert "Practitioner: Dr Amara Lee" in text
    assert "Sign as the practitioner" not in text
    assert "Start the treatment record" in text


def test_the_desk_sees_what_is_missing_but_is_not_offered_the_practitioners_signature(client, world, visit):
    client.force_login(world.desk.user)
    text = _text(client.get(reverse("appointment-detail", args=[visit.pk])))
    assert "Still to sign by the clinic: the practitioner's signature" in text
    assert "Sign as the practitioner" not in text
    assert "A practitioner qualified for this treatment signs as the practitioner" in text
    # a witness they may be
    world.clinic.consent_witnessed = True
    world.clinic.save(update_fields=["consent_witnessed"])
    text = _text(client.get(reverse("appointment-detail", args=[visit.pk])))
    assert "Sign as the witness" in text and "Sign as the practitioner" not in text


def test_the_clients_forms_page_shows_the_staffs_signatures_and_offers_the_missing_one(client, world, visit):
    url = reverse("client-intake-and-consent", args=[visit.client_id])
    client.force_login(world.dr_lee.user)
    assert "Sign as the practitioner" in _text(client.get(url))
    _sign(visit, world.dr_lee)
    text = _text(client.get(url))
    assert "Sign as the practitioner" not in text
    assert "Signed by Dr Amara Lee as the practitioner" in text
    assert "“I went through this consent with Olivia Smith" in text


def test_another_clinics_consent_is_not_found_and_a_bad_role_is_refused(client, world, visit):
    other = build_world()
    client.force_login(other.dr_lee.user)
    response = client.post(
        reverse("consent-countersign", args=[_consent(visit).pk]), {"role": "practitioner", "confirm": "yes"}
    )
    assert response.status_code == 404
    client.force_login(world.dr_lee.user)
    response = client.post(
        reverse("consent-countersign", args=[_consent(visit).pk]),
        {"role": "notary", "confirm": "yes"},
        follow=True,
    )
    assert "Sign as the practitioner or as a witness." in _text(response)
    assert not ConsentCountersignature.objects.exists()
    assert not TreatmentSession.objects.exists()


def test_the_days_list_the_calendar_and_the_clients_page_flag_a_consent_to_countersign(client, world, visit):
    client.force_login(world.desk.user)
    pages = [
        "/?date=2026-12-01",
        "/calendar/?date=2026-12-01",
        reverse("client-detail", args=[visit.client_id]),
    ]
    for url in pages:
        text = _text(client.get(url))
        assert "Consent to countersign" in text, url
    page = client.get("/?date=2026-12-01").content.decode()
    assert (
        'title="Still to sign by the clinic: Microneedling consent: the practitioner&#x27;s signature"'
        in page
    )
    _sign(visit, world.dr_lee)
    for url in pages:
        assert "Consent to countersign" not in _text(client.get(url)), url
