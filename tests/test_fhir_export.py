"""A treatment record as HL7 FHIR R4: every resource parses with the FHIR models (fhir.resources), and
what was done reads back as given, in UCUM units, with SNOMED CT body sites and the lot of each product."""

import base64
import datetime as dt
import hashlib
import re
from decimal import Decimal

import pytest
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle
from rest_framework.test import APIClient

from clients.models import IntakeQuestionnaire
from clients.services import intake_submit, photo_consent_give, photo_consent_withdraw
from clinic.models import OutboxMessage, OutboxStatus
from tests.booking_world import build_world, give_face_depth_ranges, local
from tests.factories import ConsentTemplateFactory, sign_consent
from treatments.booking import BookingRequest, appointment_book, appointment_cancel
from treatments.earlier_sessions import earlier_session_record
from treatments.models import BodyArea, Product, ProductLot, Service, VisitFeedback
from treatments.sessions import (
    treatment_session_add_addendum,
    treatment_session_add_mesotherapy,
    treatment_session_add_microcurrent,
    treatment_session_add_microneedling,
    treatment_session_sign_off,
    treatment_session_start,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def record(db):
    return signed_off_record()


def signed_off_record():
    """Olivia's visit of 1 December, its record of three treatments signed off, with an addendum."""
    world = build_world()
    give_face_depth_ranges(world)
    combo = Service.objects.create(
        clinic=world.clinic, name="Full works", duration_minutes=90, price=Decimal("250")
    )
    combo.protocols.set(
        [p for s in (world.microneedling, world.microcurrent, world.mesotherapy) for p in s.protocols.all()]
    )
    lot = ProductLot.objects.create(
        product=Product.objects.create(clinic=world.clinic, name="HA cocktail"),
        lot_number="HA-2291",
        expiry_date=dt.date(2027, 6, 30),
    )
    visit = appointment_book(
        BookingRequest(
            client=world.client(first_name="Olivia", last_name="Smith", email="olivia@example.com"),
            service=combo,
            practitioner=world.dr_lee,
            start=local(world, 2026, 12, 1, 10),
        )
    )
    session = treatment_session_start(appointment=visit, by=world.dr_lee)
    cheeks = BodyArea.objects.get(code="cheeks")
    treatment_session_add_microneedling(
        session=session,
        by=world.dr_lee,
        area=cheeks,
        depth_mm=Decimal("0.75"),
        passes=3,
        device=world.pens[0],
    )
    treatment_session_add_microcurrent(
        session=session,
        by=world.dr_lee,
        area=cheeks,
        current_ua=200,
        frequency_hz=Decimal("2.5"),
        waveform="square",
        minutes=10,
        device=world.microcurrent_unit,
    )
    treatment_session_add_mesotherapy(
        session=session,
        by=world.dr_lee,
        area=BodyArea.objects.get(code="face"),
        lot=lot,
        volume_ml=Decimal("1.5"),
        depth_mm=Decimal("2"),
        technique="papule",
    )
    treatment_session_sign_off(session=session, by=world.dr_lee)
    treatment_session_add_addendum(session=session, by=world.sam, text="Phoned day 2: settled.")
    return world, session


def bundle_of(world, session) -> dict:
    api = APIClient()
    api.force_authenticate(world.dr_lee.user)
    response = api.get(f"/api/v1/treatment-records/{session.pk}/fhir/")
    assert response.status_code == 200
    return response.json()


def resources(bundle, kind):
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def test_the_bundle_is_valid_fhir_and_stable(record):
    world, session = record
    bundle = bundle_of(world, session)
    Bundle.model_validate(bundle)  # every entry parses as its FHIR resource, or this raises
    again = bundle_of(world, session)
    assert [e["fullUrl"] for e in again["entry"]] == [e["fullUrl"] for e in bundle["entry"]]
    assert len({e["fullUrl"] for e in bundle["entry"]}) == len(bundle["entry"])


def test_what_was_done_reads_back_in_ucum_units_with_body_sites_and_lots(record):
    world, session = record
    bundle = bundle_of(world, session)
    [procedure] = resources(bundle, "Procedure")
    assert procedure["status"] == "completed"
    assert [c["code"] for c in procedure["code"]["coding"]] == [
        "microneedling",
        "microcurrent",
        "mesotherapy",
    ]
    assert {"system": "http://snomed.info/sct", "code": "60819002", "display": "Cheeks"} in [
        c for site in procedure["bodySite"] for c in site.get("coding", [])
    ]
    assert (
        procedure["note"][-1]["text"] == "Phoned day 2: settled."
        and procedure["note"][-1]["authorString"] == "Sam Rivera"
    )
    settings = {o["code"]["text"]: o for o in resources(bundle, "Observation")}
    assert settings["needle-depth"]["valueQuantity"] == {
        "value": 0.75,
        "unit": "mm",
        "system": "http://unitsofmeasure.org",
        "code": "mm",
    }
    assert settings["passes"]["valueInteger"] == 3
    assert (
        settings["current"]["valueQuantity"]["value"] == 200
        and settings["current"]["valueQuantity"]["code"] == "uA"
    )
    assert settings["frequency"]["valueQuantity"]["value"] == 2.5
    [medication] = resources(bundle, "Medication")
    assert medication["batch"] == {"lotNumber": "HA-2291", "expirationDate": "2027-06-30"}
    [given] = resources(bundle, "MedicationAdministration")
    assert given["dosage"]["dose"]["value"] == 1.5 and given["dosage"]["dose"]["code"] == "mL"
    assert len(resources(bundle, "Device")) == 2
    [patient] = resources(bundle, "Patient")
    assert patient["name"] == [{"family": "Smith", "given": ["Olivia"]}]


def test_the_front_desk_and_other_clinics_get_no_bundle(record):
    world, session = record
    desk = APIClient()
    desk.force_authenticate(world.desk.user)
    assert desk.get(f"/api/v1/treatment-records/{session.pk}/fhir/").status_code == 403
    elsewhere = APIClient()
    elsewhere.force_authenticate(build_world().dr_lee.user)
    assert elsewhere.get(f"/api/v1/treatment-records/{session.pk}/fhir/").status_code == 404


# --- a visit as an FHIR Appointment --------------------------------------------------------------


def valid_bundle(api, path) -> dict:
    """GET an export and check that every entry parses as its FHIR R4 resource."""
    response = api.get(path)
    assert response.status_code == 200, response.content
    bundle = response.json()
    Bundle.model_validate(bundle)  # every entry parses as its FHIR resource, or this raises
    return bundle


def appointment_bundle(api, visit) -> dict:
    return valid_bundle(api, f"/api/v1/appointments/{visit.pk}/fhir/")


def test_a_visit_exports_as_an_fhir_appointment_with_its_participants_and_local_offset(db):
    world = build_world(time_zone="America/New_York")
    olivia = world.client(first_name="Olivia", last_name="Smith", email="olivia@example.com")
    visit = appointment_book(
        BookingRequest(
            client=olivia,
            service=world.microneedling,
            practitioner=world.dr_lee,
            start=local(world, 2026, 12, 8, 10),
        )
    )
    desk = APIClient()
    desk.force_authenticate(world.desk.user)  # the desk sees visits: the export is theirs too
    bundle = appointment_bundle(desk, visit)
    [appointment] = resources(bundle, "Appointment")
    assert bundle["entry"][0]["resource"] == appointment  # the visit first, then who and what takes part
    assert appointment["status"] == "booked"
    assert appointment["start"] == "2026-12-08T10:00:00-05:00"  # the clinic's wall clock, with its offset
    assert appointment["end"] == "2026-12-08T11:00:00-05:00" and appointment["minutesDuration"] == 60
    assert appointment["serviceType"][0]["text"] == "Microneedling facial"
    assert appointment["serviceType"][0]["coding"][0]["code"] == "microneedling"
    assert appointment["identifier"] == [
        {"system": f"urn:clinic:{world.clinic.slug}:appointment", "value": str(visit.pk)}
    ]
    # each participant's resource is in the bundle, under the reference the appointment gives
    by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    actors = {
        by_url[p["actor"]["reference"]]["resourceType"]: p["actor"]["display"]
        for p in appointment["participant"]
    }
    assert actors == {
        "Patient": "Olivia Smith",
        "Practitioner": "Dr Amara Lee",
        "Location": visit.room.name,
        "Device": visit.device.name,
    }
    [patient] = resources(bundle, "Patient")
    assert {"system": "email", "value": "olivia@example.com"} in patient["telecom"]


def test_the_same_people_have_the_same_ids_in_a_visit_and_its_record(record):
    world, session = record
    api = APIClient()
    api.force_authenticate(world.dr_lee.user)
    visit_ids = {
        e["resource"]["resourceType"]: e["fullUrl"]
        for e in appointment_bundle(api, session.appointment)["entry"]
    }
    record_ids = {e["resource"]["resourceType"]: e["fullUrl"] for e in bundle_of(world, session)["entry"]}
    assert visit_ids["Patient"] == record_ids["Patient"]
    assert visit_ids["Practitioner"] == record_ids["Practitioner"]


def test_a_cancelled_visit_exports_its_status_and_reason_and_other_clinics_get_none(db):
    world = build_world()
    visit = appointment_book(
        BookingRequest(
            client=world.client(),
            service=world.microcurrent,
            practitioner=world.sam,
            start=local(world, 2026, 12, 8, 10),
        )
    )
    appointment_cancel(visit, reason="Client has a cold")
    api = APIClient()
    api.force_authenticate(world.desk.user)
    [appointment] = resources(appointment_bundle(api, visit), "Appointment")
    assert appointment["status"] == "cancelled"
    assert appointment["cancelationReason"] == {"text": "Client has a cold"}
    elsewhere = APIClient()
    elsewhere.force_authenticate(build_world().desk.user)
    assert elsewhere.get(f"/api/v1/appointments/{visit.pk}/fhir/").status_code == 404


# --- a client: Patient, their intake forms and their consents ------------------------------------


@pytest.fixture
def client_with_forms(db):
    world = build_world()
    olivia = world.client(first_name="Olivia", last_name="Smith", email="olivia@example.com")
    questions = [
        {"code": "pregnancy", "text": "Are you pregnant?", "kind": "yes_no", "condition": "pregnancy"},
        {
            "code": "isotretinoin",
            "text": "Last isotretinoin dose?",
            "kind": "date",
            "condition": "isotretinoin",
        },
        {"code": "skin", "text": "Skin type", "kind": "choice", "choices": ["Dry", "Oily"]},
        {"code": "other", "text": "Anything else?", "kind": "text"},
    ]
    first = IntakeQuestionnaire.objects.create(
        clinic=world.clinic, version=1, title="Health questionnaire", questions=questions[:2]
    )
    second = IntakeQuestionnaire.objects.create(
        clinic=world.clinic, version=2, title="Health questionnaire", questions=questions, is_current=True
    )
    intake_submit(client=olivia, questionnaire=first, answers={"pregnancy": "no", "isotretinoin": ""})
    intake_submit(
        client=olivia,
        questionnaire=second,
        answers={
            "pregnancy": "no",
            "isotretinoin": "2026-05-01",
            "skin": "Oily",
            "other": "Café-au-lait",
        },
    )
    template = ConsentTemplateFactory(clinic=world.clinic, body="Risks: redness for 48 hours. Café.")
    sign_consent(olivia, template)
    photo_consent_give(client=olivia, scope="clinical", signature_name="Olivia Smith", agreed=True)
    photo_consent_give(client=olivia, scope="marketing", signature_name="Olivia Smith", agreed=True)
    photo_consent_withdraw(client=olivia, scope="marketing")
    return world, olivia


def client_bundle(world, client, as_user=None) -> dict:
    api = APIClient()
    api.force_authenticate(as_user or world.dr_lee.user)
    return valid_bundle(api, f"/api/v1/clients/{client.pk}/fhir/")


def test_a_clients_forms_export_pinned_to_the_version_they_answered(client_with_forms):
    world, olivia = client_with_forms
    bundle = client_bundle(world, olivia)
    assert bundle["entry"][0]["resource"]["resourceType"] == "Patient"
    questionnaires = resources(bundle, "Questionnaire")
    assert [(q["url"], q["version"], q["status"]) for q in questionnaires] == [
        (f"urn:clinic:{world.clinic.slug}:intake-form", "1", "retired"),
        (f"urn:clinic:{world.clinic.slug}:intake-form", "2", "active"),
    ]
    assert [i["type"] for i in questionnaires[1]["item"]] == ["boolean", "date", "choice", "string"]
    older, newer = resources(bundle, "QuestionnaireResponse")
    assert older["questionnaire"].endswith("|1") and newer["questionnaire"].endswith("|2")
    answers = {item["linkId"]: item.get("answer") for item in newer["item"]}
    assert answers == {
        "pregnancy": [{"valueBoolean": False}],
        "isotretinoin": [{"valueDate": "2026-05-01"}],
        "skin": [{"valueString": "Oily"}],
        "other": [{"valueString": "Café-au-lait"}],
    }
    # a question left blank has no answer, not an empty one
    assert {item["linkId"]: item.get("answer") for item in older["item"]}["isotretinoin"] is None
    patient_ref = bundle["entry"][0]["fullUrl"]
    assert newer["subject"] == {"reference": patient_ref}


def test_the_skin_type_given_exports_as_a_loinc_observation_of_its_intake(db):
    world = build_world()
    ada = world.client(first_name="Ada")
    form = IntakeQuestionnaire.objects.create(
        clinic=world.clinic,
        version=1,
        title="Health questionnaire",
        is_current=True,
        questions=[
            {"code": "fitzpatrick", "text": "Skin type", "kind": "choice", "choices": ["III – medium"]},
        ],
    )
    intake_submit(client=ada, questionnaire=form, answers={"fitzpatrick": ""})
    intake_submit(client=ada, questionnaire=form, answers={"fitzpatrick": "III – medium"})
    bundle = client_bundle(world, ada)
    (observation,) = resources(bundle, "Observation")  # the intake with no skin type gives none
    assert observation["code"]["coding"] == [
        {"system": "http://loinc.org", "code": "66555-4", "display": "Fitzpatrick skin type"}
    ]
    assert observation["valueCodeableConcept"] == {"text": "Type III"}
    later = next(
        e
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "QuestionnaireResponse" and e["resource"]["item"][0].get("answer")
    )
    assert observation["derivedFrom"] == [{"reference": later["fullUrl"]}]
    assert observation["subject"] == {"reference": bundle["entry"][0]["fullUrl"]}


def test_a_clients_consents_export_with_the_exact_text_signed(client_with_forms):
    world, olivia = client_with_forms
    treatment, clinical_photos, marketing_photos = resources(client_bundle(world, olivia), "Consent")
    assert treatment["scope"]["coding"][0]["code"] == "treatment"
    attachment = treatment["sourceAttachment"]
    signed = olivia.signed_consents.get()
    assert base64.b64decode(attachment["data"]).decode() == signed.signed_text
    sha1 = hashlib.sha1(signed.signed_text.encode(), usedforsecurity=False).digest()
    assert attachment["hash"] == base64.b64encode(sha1).decode()  # FHIR's Attachment.hash: SHA-1, base64
    assert attachment["title"] == "Microneedling consent (version 1)"
    assert treatment["status"] == "active"
    assert clinical_photos["scope"]["coding"][0]["code"] == "patient-privacy"
    assert clinical_photos["status"] == "active" and "end" not in clinical_photos["provision"]["period"]
    # a withdrawn consent is inactive, its period ended when it was withdrawn
    assert marketing_photos["status"] == "inactive"
    assert marketing_photos["provision"]["purpose"][0]["code"] == "marketing"
    assert "end" in marketing_photos["provision"]["period"]


def test_the_staffs_signatures_on_a_consent_export_as_provenance_signed_by_their_practitioner(
    client_with_forms,
):
    from clients.services import consent_countersign

    world, olivia = client_with_forms
    consent = olivia.signed_consents.get()
    consent_countersign(consent=consent, role="practitioner", by=world.dr_lee, confirmed=True)
    consent_countersign(consent=consent, role="witness", by=world.desk, confirmed=True)
    bundle = client_bundle(world, olivia)
    consent_url = next(
        e["fullUrl"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Consent"
        and e["resource"]["scope"]["coding"][0]["code"] == "treatment"
    )
    by_name = {
        p["name"][0]["text"]: next(e["fullUrl"] for e in bundle["entry"] if e["resource"] is p)
        for p in resources(bundle, "Practitioner")
    }
    assert set(by_name) == {"Dr Amara Lee", "Jo Carter"}
    practitioner, witness = resources(bundle, "Provenance")
    for provenance, who, code in (
        (practitioner, "Dr Amara Lee", "1.2.840.10065.1.12.1.3"),
        (witness, "Jo Carter", "1.2.840.10065.1.12.1.11"),
    ):
        assert provenance["target"] == [{"reference": consent_url}]
        (signature,) = provenance["signature"]
        assert signature["type"][0]["system"] == "urn:iso-astm:E1762-95:2013"
        assert signature["type"][0]["code"] == code
        assert signature["who"] == {"reference": by_name[who]} == provenance["agent"][0]["who"]
        words = base64.b64decode(signature["data"]).decode()
        assert words == consent.countersignatures.get(signed_by__display_name=who).statement
        assert signature["when"].endswith("+00:00")  # London in winter: the clinic's offset
    assert (
        "I went through this consent with Olivia Smith"
        in base64.b64decode(practitioner["signature"][0]["data"]).decode()
    )


def test_a_clients_health_data_is_not_for_the_desk_or_another_clinic(client_with_forms):
    world, olivia = client_with_forms
    desk = APIClient()
    desk.force_authenticate(world.desk.user)
    refused = desk.get(f"/api/v1/clients/{olivia.pk}/fhir/")
    assert refused.status_code == 403
    assert refused.json()["detail"] == "Health data is for the clinic's practitioners and managers."
    assert desk.get(f"/api/v1/clients/{olivia.pk}/").status_code == 200  # the desk still has the client
    elsewhere = APIClient()
    elsewhere.force_authenticate(build_world().dr_lee.user)
    assert elsewhere.get(f"/api/v1/clients/{olivia.pk}/fhir/").status_code == 404
    client_bundle(world, olivia, as_user=world.manager.user)


def test_a_clients_emails_export_as_communications_and_the_scheduled_ones_as_requests(client_with_forms):
    world, olivia = client_with_forms
    visit = appointment_book(
        BookingRequest(
            client=olivia,
            service=world.microcurrent,
            practitioner=world.sam,
            start=local(world, 2026, 12, 8, 10),
        )
    )
    messages = OutboxMessage.objects.filter(client_id=olivia.pk)
    confirmation = messages.get(dedupe_key=f"appointment:{visit.pk}:booked")
    sent_at = timezone.now()
    messages.filter(pk=confirmation.pk).update(status=OutboxStatus.SENT, sent_at=sent_at)
    bundle = client_bundle(world, olivia)
    [sent] = resources(bundle, "Communication")
    assert sent["status"] == "completed"
    assert sent["sent"] == sent_at.astimezone(world.clinic.zone).isoformat()
    assert sent["topic"] == {"text": "Booking confirmation"}
    assert sent["category"][0]["coding"][0]["code"] == "notification"
    assert sent["recipient"][0]["display"] == "olivia@example.com"
    scheduled = resources(bundle, "CommunicationRequest")
    reminders = messages.filter(template_key="booking_reminder").order_by("due_at")
    assert [r["occurrenceDateTime"] for r in scheduled] == [
        m.due_at.astimezone(world.clinic.zone).isoformat() for m in reminders
    ]
    assert {r["status"] for r in scheduled} == {"active"}
    assert {r["category"][0]["coding"][0]["code"] for r in scheduled} == {"reminder"}
    # cancelling the visit calls the reminders off; a failed email says why it did not go
    appointment_cancel(visit, reason="Unwell")
    messages.filter(pk=confirmation.pk).update(
        status=OutboxStatus.FAILED, sent_at=None, last_error="550 5.1.1 User unknown"
    )
    bundle = client_bundle(world, olivia)
    failed = [c for c in resources(bundle, "Communication") if c["status"] == "not-done"]
    assert [c["statusReason"]["text"] for c in failed] == ["550 5.1.1 User unknown"]
    revoked = [r for r in resources(bundle, "CommunicationRequest") if r["status"] == "revoked"]
    assert len(revoked) == reminders.count()


INSTANT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d")


def instants_in(value, path="") -> dict[str, str]:
    """Every date-time string anywhere in a bundle, by where it is."""
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in instants_in(item, f"{path}.{key}").items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value) for k, v in instants_in(item, f"{path}[{i}]").items()}
    return {path: value} if isinstance(value, str) and INSTANT.match(value) else {}


def test_every_instant_in_the_three_exports_is_the_clinics_local_time(record):
    # given a record, a filled form and a signed consent, in a clinic whose zone is not UTC (New York
    # in December: five hours behind)
    world, session = record
    olivia = session.client
    form = IntakeQuestionnaire.objects.create(
        clinic=world.clinic,
        version=1,
        title="Health questionnaire",
        questions=[{"code": "pregnancy", "text": "Pregnant?", "kind": "yes_no", "condition": "pregnancy"}],
        is_current=True,
    )
    intake_submit(client=olivia, questionnaire=form, answers={"pregnancy": "no"})
    sign_consent(olivia, ConsentTemplateFactory(clinic=world.clinic))
    world.clinic.time_zone = "America/New_York"
    world.clinic.save(update_fields=["time_zone"])
    api = APIClient()
    api.force_authenticate(world.dr_lee.user)
    exports = {
        "record": bundle_of(world, session),
        "visit": appointment_bundle(api, session.appointment),
        "client": client_bundle(world, olivia),
    }
    for name, bundle in exports.items():
        found = instants_in(bundle)
        # then each of them is written with the clinic's offset, the record's included
        assert found and all(text.endswith("-05:00") for text in found.values()), (name, found)
    record_instants = instants_in(exports["record"])
    assert any(".performedDateTime" in where for where in record_instants)
    assert any(".note[" in where and where.endswith(".time") for where in record_instants)
    assert any(
        ".date" in where for where in instants_in(exports["client"])
    )  # the questionnaire's version date


def test_the_intake_forms_headings_export_as_groups_of_their_questions(db):
    world = build_world()
    ada = world.client(first_name="Ada")
    form = IntakeQuestionnaire.objects.create(
        clinic=world.clinic,
        version=1,
        title="Health questionnaire",
        is_current=True,
        questions=[
            {"section": "Your health", "code": "pregnancy", "text": "Pregnant?", "kind": "yes_no"},
            {"section": "Your health", "code": "epilepsy", "text": "Epilepsy?", "kind": "yes_no"},
            {"section": "Medicines", "code": "retinoids", "text": "Last retinoid?", "kind": "date"},
            {"code": "goals", "text": "Goals?", "kind": "text"},
        ],
    )
    intake_submit(
        client=ada,
        questionnaire=form,
        answers={"pregnancy": "no", "epilepsy": "yes", "retinoids": "2026-11-20", "goals": "Glow"},
    )
    bundle = client_bundle(world, ada)
    [questionnaire] = resources(bundle, "Questionnaire")
    [response] = resources(bundle, "QuestionnaireResponse")
    assert [(i["linkId"], i.get("type"), i.get("text")) for i in questionnaire["item"]] == [
        ("section:1", "group", "Your health"),
        ("section:2", "group", "Medicines"),
        ("goals", "string", "Goals?"),
    ]
    assert [i["linkId"] for i in questionnaire["item"][0]["item"]] == ["pregnancy", "epilepsy"]
    # the response mirrors the form's groups, so each answer sits where its question is
    assert [i["linkId"] for i in response["item"]] == ["section:1", "section:2", "goals"]
    assert response["item"][0]["item"][1] == {
        "linkId": "epilepsy",
        "text": "Epilepsy?",
        "answer": [{"valueBoolean": True}],
    }
    assert response["item"][1]["item"][0]["answer"] == [{"valueDate": "2026-11-20"}]


def test_a_merged_clients_patient_says_which_record_it_replaces_and_holds_its_forms(client_with_forms):
    from clients.merging import client_merge

    world, olivia = client_with_forms
    again = world.client(first_name="Olivia", last_name="Smyth", email="liv@example.com")
    sign_consent(again, ConsentTemplateFactory(clinic=world.clinic, modality="mesotherapy"))
    client_merge(kept=olivia, merged=again, by=world.manager)
    bundle = client_bundle(world, olivia)  # valid FHIR, or this raises
    patient = bundle["entry"][0]["resource"]
    assert patient["link"] == [
        {
            "other": {
                "identifier": {"system": f"urn:clinic:{world.clinic.slug}:client", "value": str(again.pk)},
                "display": "Olivia Smyth",
            },
            "type": "replaces",
        }
    ]
    assert len(resources(bundle, "Consent")) == 2 + 2  # both treatment consents, the two photo consents


# --- everything about a client ($everything) --------------------------------------------------------


def everything_of(world, client, as_user=None) -> dict:
    api = APIClient()
    api.force_authenticate(as_user or world.dr_lee.user)
    return valid_bundle(api, f"/api/v1/clients/{client.pk}/fhir/everything/")


def references_in(value) -> list[str]:
    if isinstance(value, dict):
        found = [value["reference"]] if isinstance(value.get("reference"), str) else []
        return found + [ref for v in value.values() for ref in references_in(v)]
    if isinstance(value, list):
        return [ref for v in value for ref in references_in(v)]
    return []


def test_everything_about_a_client_is_one_bundle_each_resource_once_every_reference_in_it(record):
    from treatments.waitlist import waitlist_add, waitlist_end

    world, session = record
    olivia = session.client
    later = appointment_book(
        BookingRequest(
            client=olivia,
            service=world.microcurrent,
            practitioner=world.sam,
            start=local(world, 2026, 12, 8, 10),
        )
    )
    appointment_cancel(later, reason="Away")
    waiting = waitlist_add(
        client=olivia,
        service=world.microcurrent,
        practitioner=world.sam,
        first_day=dt.date(2026, 12, 14),
        last_day=dt.date(2026, 12, 18),
        from_time=dt.time(14),
        note="After work",
    )
    left = waitlist_add(
        client=olivia,
        service=world.microneedling,
        first_day=dt.date(2026, 12, 20),
        last_day=dt.date(2026, 12, 22),
    )
    waitlist_end(left, because="left")
    VisitFeedback.objects.create(appointment=session.appointment, rating=4, comment="Calm and clear.")
    earlier_session_record(
        client=olivia,
        service=world.microneedling,
        given_on=dt.date(2026, 10, 2),
        given_by="Glow Clinic, Leeds",
        notes="0.5 mm, forehead and cheeks",
        by=world.desk,
    )

    bundle = everything_of(world, olivia)
    [patient_ref] = [e["fullUrl"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"]
    urls = [e["fullUrl"] for e in bundle["entry"]]
    assert len(urls) == len(set(urls))
    assert set(references_in(bundle)) <= set(urls)  # nothing points outside the bundle
    [patient] = resources(bundle, "Patient")
    assert patient["name"][0]["family"] == "Smith"
    appointments = resources(bundle, "Appointment")
    assert sorted(a["status"] for a in appointments) == ["cancelled", "cancelled", "fulfilled", "waitlist"]
    [wait] = [a for a in appointments if a["status"] == "waitlist"]
    assert wait["requestedPeriod"] == [
        {"start": "2026-12-14T00:00:00+00:00", "end": "2026-12-19T00:00:00+00:00"}
    ]
    assert wait["comment"] == "After work; Starting from 14:00"
    assert [p["actor"]["display"] for p in wait["participant"] if "display" in p["actor"]] == ["Sam Rivera"]
    [ended] = [a for a in appointments if a.get("cancelationReason", {}).get("text") == "Left by the client"]
    assert ended["identifier"][0]["value"] == str(left.pk)
    procedures = resources(bundle, "Procedure")
    assert len(procedures) == 2
    # the session had before coming here: known by its day, given by someone outside the clinic
    [had] = [p for p in procedures if p["identifier"][0]["system"].endswith("earlier-session")]
    assert had["performedDateTime"] == "2026-10-02" and had["status"] == "completed"
    assert had["code"]["text"] == "Microneedling facial"
    assert had["code"]["coding"][0]["code"] == "microneedling"
    assert had["performer"] == [{"actor": {"display": "Glow Clinic, Leeds"}}]
    assert had["location"] == {"display": "Before coming here"}
    assert had["note"] == [{"text": "0.5 mm, forehead and cheeks"}]
    assert {m["batch"]["lotNumber"] for m in resources(bundle, "Medication")} == {"HA-2291"}
    assert waiting.pk  # still waiting: listed as such
    # what they said of the visit had, authored by them
    [said] = [r for r in resources(bundle, "QuestionnaireResponse") if r["item"][0]["linkId"] == "rating"]
    assert said["item"][0]["answer"] == [{"valueInteger": 4}]
    assert said["item"][1]["answer"] == [{"valueString": "Calm and clear."}]
    assert said["source"] == said["subject"] == {"reference": patient_ref}


def test_everything_takes_a_fixed_number_of_queries(record):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    world, session = record
    olivia = session.client
    api = APIClient()
    api.force_authenticate(world.dr_lee.user)
    path = f"/api/v1/clients/{olivia.pk}/fhir/everything/"

    def had_on(day):
        earlier_session_record(client=olivia, service=world.microneedling, given_on=day, by=world.desk)

    had_on(dt.date(2026, 9, 1))
    with CaptureQueriesContext(connection) as few:
        assert api.get(path).status_code == 200
    for day in (8, 11, 14, 17):
        appointment_book(
            BookingRequest(
                client=olivia,
                service=world.microcurrent,
                practitioner=world.sam,
                start=local(world, 2026, 12, day, 10),
            )
        )
    for month in (10, 11):
        had_on(dt.date(2026, month, 1))
    with CaptureQueriesContext(connection) as many:
        assert len(resources(api.get(path).json(), "Appointment")) == 5
    assert len(many) == len(few)


def test_everything_is_for_practitioners_and_managers_of_the_clinic(record):
    from clients.merging import client_merge
    from tests.factories import ClientFactory, ClinicFactory, PractitionerFactory

    world, session = record
    olivia = session.client
    desk = APIClient()
    desk.force_authenticate(world.desk.user)
    assert desk.get(f"/api/v1/clients/{olivia.pk}/fhir/everything/").status_code == 403
    elsewhere = APIClient()
    elsewhere.force_authenticate(PractitionerFactory(clinic=ClinicFactory()).user)
    assert elsewhere.get(f"/api/v1/clients/{olivia.pk}/fhir/everything/").status_code == 404
    twin = ClientFactory(clinic=world.clinic, first_name="Olivia", last_name="Smith", email="liv@example.com")
    client_merge(kept=olivia, merged=twin, by=world.manager)
    lee = APIClient()
    lee.force_authenticate(world.dr_lee.user)
    gone = lee.get(f"/api/v1/clients/{twin.pk}/fhir/everything/")
    assert gone.status_code == 404 and gone.json()["code"] == "merged"


def test_the_clients_page_offers_the_download_to_those_who_may_read_it(record, client):
    world, session = record
    olivia = session.client
    client.force_login(world.dr_lee.user)
    page = client.get(f"/clients/{olivia.pk}/").content.decode()
    assert f'href="/api/v1/clients/{olivia.pk}/fhir/everything/?format=json"' in page
    download = client.get(f"/api/v1/clients/{olivia.pk}/fhir/everything/?format=json")
    assert download.status_code == 200 and download.json()["resourceType"] == "Bundle"
    client.force_login(world.desk.user)
    assert 'id="export-everything"' not in client.get(f"/clients/{olivia.pk}/").content.decode()


# --- photos ----------------------------------------------------------------------------------------


@pytest.fixture
def photographed(db, settings, tmp_path):
    """Olivia's microneedling of 1 December, with a photo of her cheeks before, signed off."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from treatments.demo_data import demo_photo_png
    from treatments.sessions import treatment_session_add_photo

    settings.MEDIA_ROOT = tmp_path / "media"
    world = build_world()
    give_face_depth_ranges(world)
    olivia = world.client(first_name="Olivia", last_name="Smith")
    photo_consent_give(client=olivia, scope="clinical", signature_name="Olivia Smith", agreed=True)
    visit = appointment_book(
        BookingRequest(
            client=olivia,
            service=world.microneedling,
            practitioner=world.dr_lee,
            start=local(world, 2026, 12, 1, 10),
        )
    )
    session = treatment_session_start(appointment=visit, by=world.dr_lee)
    cheeks = BodyArea.objects.get(code="cheeks")
    image = demo_photo_png(0.8)
    photo = treatment_session_add_photo(
        session=session,
        by=world.dr_lee,
        image=SimpleUploadedFile("olivia.png", image, content_type="image/png"),
        area=cheeks,
        caption="Before",
    )
    treatment_session_add_microneedling(
        session=session, by=world.dr_lee, area=cheeks, depth_mm=Decimal("0.5"), passes=2, device=world.pens[0]
    )
    treatment_session_sign_off(session=session, by=world.dr_lee)
    return world, session, photo, image


def test_a_records_photos_export_as_media_with_their_address_or_the_image_itself(photographed):
    world, session, photo, image = photographed
    api = APIClient()
    api.force_authenticate(world.dr_lee.user)
    bundle = valid_bundle(api, f"/api/v1/treatment-records/{session.pk}/fhir/")
    [media] = resources(bundle, "Media")
    [procedure_ref] = [e["fullUrl"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Procedure"]
    assert media["partOf"] == [{"reference": procedure_ref}]
    assert media["bodySite"]["coding"][0]["code"] == BodyArea.objects.get(code="cheeks").snomed_code
    assert media["createdDateTime"] == photo.taken_at.astimezone(world.clinic.zone).isoformat()
    assert media["note"] == [{"text": "Before"}]
    assert media["content"]["contentType"] == "image/png" and media["content"]["size"] == len(image)
    assert media["content"]["url"].endswith(f"/clients/{session.client_id}/photos/{photo.pk}/")
    assert "data" not in media["content"]
    assert set(references_in(bundle)) <= {e["fullUrl"] for e in bundle["entry"]}

    plain = everything_of(world, session.client)
    assert [m["content"]["url"] for m in resources(plain, "Media")] == [media["content"]["url"]]
    embedded = valid_bundle(api, f"/api/v1/clients/{session.client_id}/fhir/everything/?photos=embedded")
    [inside] = resources(embedded, "Media")
    assert base64.b64decode(inside["content"]["data"]) == image
    assert inside["content"]["hash"] == base64.b64encode(hashlib.sha1(image).digest()).decode()  # noqa: S324
    assert inside["content"]["size"] == len(image) and "url" not in inside["content"]


def test_a_photo_whose_file_is_gone_is_said_so_not_a_500(photographed):
    world, session, photo, _ = photographed
    photo.image.storage.delete(photo.image.name)
    api = APIClient()
    api.force_authenticate(world.dr_lee.user)
    embedded = valid_bundle(api, f"/api/v1/clients/{session.client_id}/fhir/everything/?photos=embedded")
    [media] = resources(embedded, "Media")
    assert media["content"]["title"] == "Before (its file is missing from the clinic's storage)"
    assert "data" not in media["content"]


def test_the_clients_page_offers_the_export_with_the_photos_inside(photographed, client):
    world, session, _, _ = photographed
    client.force_login(world.dr_lee.user)
    page = client.get(f"/clients/{session.client_id}/").content.decode()
    assert (
        f'href="/api/v1/clients/{session.client_id}/fhir/everything/?format=json&amp;photos=embedded"' in page
    )
