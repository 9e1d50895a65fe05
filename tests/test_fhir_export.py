"""A treatment record as HL7 FHIR R4: every resource parses with the FHIR models (fhir.resources), and
what was done reads back as given, in UCUM units, with SNOMED CT body sites and the lot of each product."""

import datetime as dt
from decimal import Decimal

import pytest
from fhir.resources.R4B.bundle import Bundle
from rest_framework.test import APIClient

from tests.booking_world import build_world, give_face_depth_ranges, local
from treatments.booking import BookingRequest, appointment_book
from treatments.models import BodyArea, Product, ProductLot, Service
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
