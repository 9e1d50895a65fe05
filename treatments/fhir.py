"""A treatment record as HL7 FHIR R4 (a `collection` Bundle), for another system to read.

The mapping is `../shared/DOMAIN.md`'s: the client → Patient; the treatment → Procedure (bodySite,
performer, focalDevice, used); each area's settings → Observations in UCUM units (mm, uA, Hz, min);
a mesotherapy product and lot → Medication (batch.lotNumber, expirationDate) + MedicationAdministration.
No standard code exists for these treatments, so the modality is coded in a local code system. Body sites
carry their SNOMED CT code where the clinic's area has one. Ids are stable: the same record gives the
same Bundle.
"""

import uuid
from decimal import Decimal

from django.utils import timezone

from treatments.models import TreatmentSession
from treatments.sessions import mm

SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
MODALITY_SYSTEM = "urn:clinic:code-system:treatment-modality"
SETTING_SYSTEM = "urn:clinic:code-system:treatment-setting"
NAMESPACE = uuid.UUID("8f6f7a52-5d2e-4c36-9a57-4d0c3b7f2e10")


def _urn(clinic_slug: str, kind: str, key) -> str:
    return f"urn:uuid:{uuid.uuid5(NAMESPACE, f'{clinic_slug}/{kind}/{key}')}"


def _when(instant) -> str:
    return instant.isoformat()


def _body_site(area) -> dict:
    coding = [{"system": SNOMED, "code": area.snomed_code, "display": area.name}] if area.snomed_code else []
    return {"coding": coding, "text": area.name} if coding else {"text": area.name}


def _quantity(value, unit: str) -> dict:
    number = Decimal(value)
    return {
        "value": float(number) if number != number.to_integral() else int(number),
        "unit": unit,
        "system": UCUM,
        "code": unit,
    }


def record_as_fhir_bundle(session: TreatmentSession) -> dict:
    """The record, with its client, devices and products, as one FHIR R4 Bundle of type `collection`."""
    clinic = session.clinic
    slug = clinic.slug
    client = session.client
    patient_ref = _urn(slug, "Patient", client.pk)
    practitioner_ref = _urn(slug, "Practitioner", session.practitioner_id)
    procedure_ref = _urn(slug, "Procedure", session.pk)
    resources: list[tuple[str, dict]] = []

    patient = {
        "resourceType": "Patient",
        "identifier": [{"system": f"urn:clinic:{slug}:client", "value": str(client.pk)}],
        "name": [{"family": client.last_name, "given": [client.first_name]}],
    }
    telecom = [{"system": "email", "value": client.email}] if client.email else []
    telecom += [{"system": "phone", "value": client.phone}] if client.phone else []
    if telecom:
        patient["telecom"] = telecom
    if client.date_of_birth:
        patient["birthDate"] = client.date_of_birth.isoformat()
    resources.append((patient_ref, patient))
    resources.append(
        (
            practitioner_ref,
            {
                "resourceType": "Practitioner",
                "identifier": [{"system": f"urn:clinic:{slug}:staff", "value": str(session.practitioner_id)}],
                "name": [{"text": session.practitioner.display_name}],
            },
        )
    )

    devices: dict[int, str] = {}

    def device_ref(device) -> str:
        if device.pk not in devices:
            devices[device.pk] = _urn(slug, "Device", device.pk)
            entry = {
                "resourceType": "Device",
                "deviceName": [{"name": device.name, "type": "user-friendly-name"}],
                "type": {"text": device.get_kind_display()},
            }
            if device.serial_number:
                entry["serialNumber"] = device.serial_number
            resources.append((devices[device.pk], entry))
        return devices[device.pk]

    def observation(key: str, area, setting: str, value: dict) -> None:
        ref = _urn(slug, "Observation", f"{session.pk}/{key}/{setting}")
        resources.append(
            (
                ref,
                {
                    "resourceType": "Observation",
                    "status": "final" if session.signed_off_at else "preliminary",
                    "code": {"coding": [{"system": SETTING_SYSTEM, "code": setting}], "text": setting},
                    "subject": {"reference": patient_ref},
                    "partOf": [{"reference": procedure_ref}],
                    "effectiveDateTime": _when(session.started_at),
                    "bodySite": _body_site(area),
                    **value,
                },
            )
        )

    modalities, sites, focal = [], {}, []
    for record in session.microneedling.all():
        modalities.append("microneedling")
        sites[record.area_id] = record.area
        key = f"microneedling/{record.pk}"
        observation(key, record.area, "needle-depth", {"valueQuantity": _quantity(record.depth_mm, "mm")})
        observation(key, record.area, "passes", {"valueInteger": record.passes})
        if record.device is not None:
            focal.append(device_ref(record.device))
    for record in session.microcurrent.all():
        modalities.append("microcurrent")
        sites[record.area_id] = record.area
        key = f"microcurrent/{record.pk}"
        observation(key, record.area, "current", {"valueQuantity": _quantity(record.current_ua, "uA")})
        observation(key, record.area, "frequency", {"valueQuantity": _quantity(record.frequency_hz, "Hz")})
        observation(key, record.area, "waveform", {"valueString": record.get_waveform_display()})
        observation(key, record.area, "duration", {"valueQuantity": _quantity(record.minutes, "min")})
        if record.device is not None:
            focal.append(device_ref(record.device))
    used = []
    for record in session.mesotherapy.all():
        modalities.append("mesotherapy")
        sites[record.area_id] = record.area
        medication_ref = _urn(slug, "Medication", f"{record.product_name}/{record.lot_number}")
        if medication_ref not in {ref for ref, _ in resources}:
            resources.append(
                (
                    medication_ref,
                    {
                        "resourceType": "Medication",
                        "code": {"text": record.product_name},
                        "batch": {
                            "lotNumber": record.lot_number,
                            "expirationDate": record.expiry_date.isoformat(),
                        },
                    },
                )
            )
            used.append({"reference": medication_ref})
        resources.append(
            (
                _urn(slug, "MedicationAdministration", record.pk),
                {
                    "resourceType": "MedicationAdministration",
                    "status": "completed",
                    "medicationReference": {"reference": medication_ref},
                    "subject": {"reference": patient_ref},
                    "partOf": [{"reference": procedure_ref}],
                    "effectiveDateTime": _when(session.started_at),
                    "performer": [{"actor": {"reference": practitioner_ref}}],
                    "dosage": {
                        "site": _body_site(record.area),
                        "text": f"{record.get_technique_display()}, {mm(record.depth_mm)}",
                        "dose": _quantity(record.volume_ml, "mL"),
                    },
                },
            )
        )

    procedure = {
        "resourceType": "Procedure",
        "identifier": [{"system": f"urn:clinic:{slug}:treatment-record", "value": str(session.pk)}],
        "status": "completed" if session.signed_off_at else "in-progress",
        "code": {
            "coding": [{"system": MODALITY_SYSTEM, "code": m} for m in dict.fromkeys(modalities)],
            "text": session.appointment.service.name if session.appointment_id else "Treatment",
        },
        "subject": {"reference": patient_ref},
        "performedDateTime": _when(session.started_at),
        "performer": [{"actor": {"reference": practitioner_ref}}],
        "bodySite": [_body_site(area) for area in sites.values()],
    }
    if session.notes or session.addenda.exists():
        procedure["note"] = [{"text": session.notes}] if session.notes else []
        procedure["note"] += [
            {"time": _when(a.written_at), "authorString": a.written_by.display_name, "text": a.text}
            for a in session.addenda.all()
        ]
    if focal:
        procedure["focalDevice"] = [{"manipulated": {"reference": ref}} for ref in dict.fromkeys(focal)]
    if used:
        procedure["usedReference"] = used
    resources.insert(2, (procedure_ref, procedure))
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": _when(timezone.now()),
        "entry": [{"fullUrl": ref, "resource": resource} for ref, resource in resources],
    }
