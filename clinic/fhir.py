"""HL7 FHIR R4 building blocks of the clinic layer, for the exports of the layers above.

Ids are stable URNs (`fhir_urn`): the same staff member, room or device is the same resource in
every export, so a system that reads several bundles can join them.
"""

import uuid

from django.utils import timezone

from clinic.models import Clinic, Device, Room, StaffMember

NAMESPACE = uuid.UUID("8f6f7a52-5d2e-4c36-9a57-4d0c3b7f2e10")


def fhir_urn(clinic: Clinic, kind: str, key) -> str:
    """The stable `urn:uuid:` of a resource of the clinic (kind: "Patient", "Device", …)."""
    return f"urn:uuid:{uuid.uuid5(NAMESPACE, f'{clinic.slug}/{kind}/{key}')}"


def fhir_identifier(clinic: Clinic, what: str, pk) -> dict:
    """The clinic's own id of a row: `urn:clinic:<slug>:<what>` and the id."""
    return {"system": f"urn:clinic:{clinic.slug}:{what}", "value": str(pk)}


def fhir_instant(moment, zone) -> str:
    """An instant as FHIR writes it: ISO 8601 with the offset, in the clinic's local time."""
    return moment.astimezone(zone).isoformat()


def practitioner_resource(clinic: Clinic, staff_member: StaffMember) -> dict:
    return {
        "resourceType": "Practitioner",
        "identifier": [fhir_identifier(clinic, "staff", staff_member.pk)],
        "name": [{"text": staff_member.display_name}],
    }


def device_resource(device: Device) -> dict:
    resource = {
        "resourceType": "Device",
        "deviceName": [{"name": device.name, "type": "user-friendly-name"}],
        "type": {"text": device.get_kind_display()},
        "status": "active" if device.is_active else "inactive",
    }
    if device.serial_number:
        resource["serialNumber"] = device.serial_number
    return resource


def location_resource(clinic: Clinic, room: Room) -> dict:
    """A treatment room: a Location of mode `instance`."""
    return {
        "resourceType": "Location",
        "identifier": [fhir_identifier(clinic, "room", room.pk)],
        "status": "active" if room.is_active else "inactive",
        "name": room.name,
        "mode": "instance",
        "physicalType": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/location-physical-type",
                    "code": "ro",
                    "display": "Room",
                }
            ]
        },
    }


def fhir_bundle(resources: list[tuple[str, dict]], zone) -> dict:
    """A Bundle of type `collection` of (fullUrl, resource) pairs, in that order, made now (clinic time)."""
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": fhir_instant(timezone.now(), zone),
        "entry": [{"fullUrl": ref, "resource": resource} for ref, resource in resources],
    }
