"""A treatment record, and a visit, as HL7 FHIR R4 (`collection` Bundles), for another system to read.

The mapping is `../shared/DOMAIN.md`'s: the client → Patient; the treatment → Procedure (bodySite,
performer, focalDevice, used); each area's settings → Observations in UCUM units (mm, uA, Hz, min);
a mesotherapy product and lot → Medication (batch.lotNumber, expirationDate) + MedicationAdministration;
each photo → Media (bodySite, operator, partOf the Procedure; the image embedded, or its address).
No standard code exists for these treatments, so the modality is coded in a local code system. Body sites
carry their SNOMED CT code where the clinic's area has one. Ids are stable: the same record gives the
same Bundle.

A visit → Appointment (its FHIR status as stored, start and end with the clinic's offset), with its
client (Patient), practitioner, room (Location) and device as participants. A place on the waitlist →
Appointment with status `waitlist` (or `cancelled` once it ended) and the days asked as requestedPeriod.

Everything the clinic holds about one client (FHIR's Patient `$everything`) is the client's own Bundle
(`clients.fhir`) with each of these for them, each resource once.
"""

import base64
import hashlib
from decimal import Decimal

from django.db.models import Prefetch
from django.urls import reverse

from clients.fhir import client_as_fhir_bundle, patient_resource
from clients.links import absolute_url
from clients.models import Client
from clinic.fhir import (
    device_resource,
    fhir_bundle,
    fhir_identifier,
    fhir_instant,
    fhir_urn,
    location_resource,
    practitioner_resource,
)
from treatments.models import (
    Appointment,
    AppointmentStatus,
    EarlierSession,
    SessionPhoto,
    TreatmentSession,
    VisitFeedback,
    WaitlistEntry,
)
from treatments.selectors import local_day_bounds, short_local, with_recorded_areas
from treatments.sessions import mm, photo_media_type

SNOMED = "http://snomed.info/sct"
MEDIA_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/media-type"
# A record's photos, for its Bundle: one query for all the records asked.
RECORD_PHOTOS = Prefetch("photos", SessionPhoto.objects.select_related("area").order_by("taken_at", "id"))
UCUM = "http://unitsofmeasure.org"
MODALITY_SYSTEM = "urn:clinic:code-system:treatment-modality"
SETTING_SYSTEM = "urn:clinic:code-system:treatment-setting"


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


def photo_resource(photo: SessionPhoto, *, patient_ref: str, procedure_ref: str, embed: bool) -> dict:
    """A treatment photo as FHIR R4 Media: when and where on the body, by whom, its caption; the image
    itself in `content.data` (base64, with its SHA-1 as FHIR asks) when `embed`, else its size and the
    address it is served at, behind the clinic's sign-in. A file missing from storage is said so."""
    session = photo.session
    clinic, zone = session.clinic, session.clinic.zone
    taken = fhir_instant(photo.taken_at, zone)
    content = {
        "contentType": photo_media_type(photo.image.name),
        "title": photo.caption or (photo.area.name if photo.area_id else "Treatment photo"),
        "creation": taken,
    }
    try:
        if embed:
            with photo.image.open("rb") as handle:
                data = handle.read()
            content |= {
                "data": base64.b64encode(data).decode(),
                "size": len(data),
                "hash": base64.b64encode(hashlib.sha1(data).digest()).decode(),  # noqa: S324 (FHIR's hash)
            }
        else:
            content |= {
                "url": absolute_url(reverse("client-photo", args=[session.client_id, photo.pk])),
                "size": photo.image.size,
            }
    except FileNotFoundError:
        content["title"] += " (its file is missing from the clinic's storage)"
    media = {
        "resourceType": "Media",
        "identifier": [fhir_identifier(clinic, "treatment-photo", photo.pk)],
        "status": "completed",
        "type": {"coding": [{"system": MEDIA_TYPE_SYSTEM, "code": "image", "display": "Image"}]},
        "subject": {"reference": patient_ref},
        "partOf": [{"reference": procedure_ref}],
        "createdDateTime": taken,
        "operator": {"reference": fhir_urn(clinic, "Practitioner", session.practitioner_id)},
        "content": content,
    }
    if photo.area_id:
        media["bodySite"] = _body_site(photo.area)
    if photo.caption:
        media["note"] = [{"text": photo.caption}]
    return media


def record_as_fhir_bundle(session: TreatmentSession, *, embed_photos: bool = False) -> dict:
    """The record, with its client, devices, products and photos (FHIR Media; the images themselves
    when `embed_photos`), as one FHIR R4 Bundle of type `collection`."""
    clinic = session.clinic
    zone = clinic.zone
    performed = fhir_instant(session.started_at, zone)  # when every setting and product was given
    client = session.client
    patient_ref = fhir_urn(clinic, "Patient", client.pk)
    practitioner_ref = fhir_urn(clinic, "Practitioner", session.practitioner_id)
    procedure_ref = fhir_urn(clinic, "Procedure", session.pk)
    resources: list[tuple[str, dict]] = [
        (patient_ref, patient_resource(clinic, client)),
        (practitioner_ref, practitioner_resource(clinic, session.practitioner)),
    ]

    devices: dict[int, str] = {}

    def device_ref(device) -> str:
        if device.pk not in devices:
            devices[device.pk] = fhir_urn(clinic, "Device", device.pk)
            resources.append((devices[device.pk], device_resource(device)))
        return devices[device.pk]

    def observation(key: str, area, setting: str, value: dict) -> None:
        ref = fhir_urn(clinic, "Observation", f"{session.pk}/{key}/{setting}")
        resources.append(
            (
                ref,
                {
                    "resourceType": "Observation",
                    "status": "final" if session.signed_off_at else "preliminary",
                    "code": {"coding": [{"system": SETTING_SYSTEM, "code": setting}], "text": setting},
                    "subject": {"reference": patient_ref},
                    "partOf": [{"reference": procedure_ref}],
                    "effectiveDateTime": performed,
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
        medication_ref = fhir_urn(clinic, "Medication", f"{record.product_name}/{record.lot_number}")
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
                fhir_urn(clinic, "MedicationAdministration", record.pk),
                {
                    "resourceType": "MedicationAdministration",
                    "status": "completed",
                    "medicationReference": {"reference": medication_ref},
                    "subject": {"reference": patient_ref},
                    "partOf": [{"reference": procedure_ref}],
                    "effectiveDateTime": performed,
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
        "identifier": [fhir_identifier(clinic, "treatment-record", session.pk)],
        "status": "completed" if session.signed_off_at else "in-progress",
        "code": {
            "coding": [{"system": MODALITY_SYSTEM, "code": m} for m in dict.fromkeys(modalities)],
            "text": session.appointment.service.name if session.appointment_id else "Treatment",
        },
        "subject": {"reference": patient_ref},
        "performedDateTime": performed,
        "performer": [{"actor": {"reference": practitioner_ref}}],
        "bodySite": [_body_site(area) for area in sites.values()],
    }
    if session.notes or session.addenda.exists():
        procedure["note"] = [{"text": session.notes}] if session.notes else []
        procedure["note"] += [
            {
                "time": fhir_instant(a.written_at, zone),
                "authorString": a.written_by.display_name,
                "text": a.text,
            }
            for a in session.addenda.all()
        ]
    if focal:
        procedure["focalDevice"] = [{"manipulated": {"reference": ref}} for ref in dict.fromkeys(focal)]
    if used:
        procedure["usedReference"] = used
    resources.insert(2, (procedure_ref, procedure))
    for photo in session.photos.all():
        resources.append(
            (
                fhir_urn(clinic, "Media", photo.pk),
                photo_resource(
                    photo, patient_ref=patient_ref, procedure_ref=procedure_ref, embed=embed_photos
                ),
            )
        )
    return fhir_bundle(resources, zone)


def appointment_as_fhir_bundle(appointment: Appointment) -> dict:
    """The visit as one FHIR R4 Bundle: the Appointment, then each participant's resource."""
    clinic = appointment.clinic
    zone = clinic.zone
    resources: list[tuple[str, dict]] = []
    participants = []

    def take_part(kind: str, key, resource: dict, display: str) -> None:
        ref = fhir_urn(clinic, kind, key)
        resources.append((ref, resource))
        participants.append(
            {"actor": {"reference": ref, "display": display}, "required": "required", "status": "accepted"}
        )

    client, practitioner = appointment.client, appointment.practitioner
    take_part("Patient", client.pk, patient_resource(clinic, client), client.full_name)
    take_part(
        "Practitioner",
        practitioner.pk,
        practitioner_resource(clinic, practitioner),
        practitioner.display_name,
    )
    if appointment.room is not None:
        take_part(
            "Location",
            appointment.room_id,
            location_resource(clinic, appointment.room),
            appointment.room.name,
        )
    for device in appointment.devices:  # a combined treatment holds two
        take_part("Device", device.pk, device_resource(device), device.name)

    service = appointment.service
    modalities = dict.fromkeys(protocol.modality for protocol in service.protocols.all())
    resource = {
        "resourceType": "Appointment",
        "identifier": [fhir_identifier(clinic, "appointment", appointment.pk)],
        "status": appointment.status,
        "serviceType": [
            {"coding": [{"system": MODALITY_SYSTEM, "code": m} for m in modalities], "text": service.name}
        ],
        "description": service.name,
        "start": fhir_instant(appointment.start, zone),
        "end": fhir_instant(appointment.end, zone),
        "minutesDuration": round((appointment.end - appointment.start).total_seconds() / 60),
        "created": fhir_instant(appointment.created_at, zone),
        "participant": participants,
    }
    if appointment.status == AppointmentStatus.CANCELLED and appointment.cancellation_reason:
        resource["cancelationReason"] = {"text": appointment.cancellation_reason}
    # FHIR R4's Appointment has one comment: the clinic's note, then the client's words, each said whose
    if comment := "\n\n".join(
        f"{whose}: {note}"
        for whose, note in (("The clinic", appointment.notes), ("The client", appointment.client_note))
        if note
    ):
        resource["comment"] = comment
    resources.insert(0, (fhir_urn(clinic, "Appointment", appointment.pk), resource))
    return fhir_bundle(resources, zone)


def waitlist_resource(entry: WaitlistEntry, zone) -> dict:
    """A place on the waitlist as a FHIR Appointment: `waitlist` while it waits, `cancelled` once ended
    (the visit it became, if any, as supportingInformation); the days asked as requestedPeriod."""
    clinic = entry.clinic
    first_day_starts, _ = local_day_bounds(clinic, entry.first_day)
    _, last_day_ends = local_day_bounds(clinic, entry.last_day)
    participants = [
        {
            "actor": {"reference": fhir_urn(clinic, "Patient", entry.client_id)},
            "required": "required",
            "status": "needs-action",
        }
    ]
    if entry.practitioner_id:
        participants.append(
            {
                "actor": {
                    "reference": fhir_urn(clinic, "Practitioner", entry.practitioner_id),
                    "display": entry.practitioner.display_name,
                },
                "required": "required",
                "status": "needs-action",
            }
        )
    resource = {
        "resourceType": "Appointment",
        "identifier": [fhir_identifier(clinic, "waitlist-entry", entry.pk)],
        "status": "waitlist" if entry.ended_at is None else "cancelled",
        "serviceType": [{"text": entry.service.name}],
        "description": entry.service.name,
        "created": fhir_instant(entry.added_at, zone),
        "requestedPeriod": [
            {"start": fhir_instant(first_day_starts, zone), "end": fhir_instant(last_day_ends, zone)}
        ],
        "participant": participants,
    }
    starts = " ".join(
        part
        for part in (
            f"from {entry.from_time:%H:%M}" if entry.from_time else "",
            f"until {entry.until_time:%H:%M}" if entry.until_time else "",
        )
        if part
    )
    comment = "; ".join(part for part in (entry.note, f"Starting {starts}" if starts else "") if part)
    if comment:
        resource["comment"] = comment
    if entry.ended_at is not None:
        resource["cancelationReason"] = {"text": entry.get_ended_because_display()}
    if entry.appointment_id:
        resource["supportingInformation"] = [
            {"reference": fhir_urn(clinic, "Appointment", entry.appointment_id)}
        ]
    return resource


def feedback_resource(feedback: VisitFeedback, patient_ref: str, zone) -> dict:
    """What the client said of a visit as a QuestionnaireResponse they authored: the rating (1 to 5)
    and their words; which visit, in the first item's text."""
    visit = feedback.appointment
    items = [
        {
            "linkId": "rating",
            "text": f"How was your visit? ({visit.service.name}, {short_local(visit.start, zone)}; 1 to 5)",
            "answer": [{"valueInteger": feedback.rating}],
        }
    ]
    if feedback.comment:
        items.append(
            {
                "linkId": "comment",
                "text": "Anything you would like to tell us?",
                "answer": [{"valueString": feedback.comment}],
            }
        )
    return {
        "resourceType": "QuestionnaireResponse",
        "identifier": fhir_identifier(visit.clinic, "visit-feedback", feedback.pk),
        "status": "completed",
        "subject": {"reference": patient_ref},
        "source": {"reference": patient_ref},
        "authored": fhir_instant(feedback.given_at, zone),
        "item": items,
    }


def earlier_session_resource(earlier: EarlierSession, patient_ref: str) -> dict:
    """A session the client had before this clinic's calendar held it, as a FHIR Procedure known by
    its day (`performedDateTime` a date), performed elsewhere or in the software used before."""
    modalities = [p.modality for p in earlier.service.protocols.all()]
    resource = {
        "resourceType": "Procedure",
        "identifier": [fhir_identifier(earlier.clinic, "earlier-session", earlier.pk)],
        # taken off as noted by mistake: FHIR's word for it
        "status": "entered-in-error" if earlier.removed_at else "completed",
        "code": {
            "coding": [{"system": MODALITY_SYSTEM, "code": m} for m in dict.fromkeys(modalities)],
            "text": earlier.service.name,
        },
        "subject": {"reference": patient_ref},
        "performedDateTime": earlier.given_on.isoformat(),
        "location": {"display": earlier.get_source_display()},
    }
    if earlier.given_by:
        resource["performer"] = [{"actor": {"display": earlier.given_by}}]
    if earlier.notes:
        resource["note"] = [{"text": earlier.notes}]
    return resource


def client_everything_as_fhir_bundle(client: Client, *, embed_photos: bool = False) -> dict:
    """Everything the clinic holds about a client as one FHIR R4 Bundle (FHIR's Patient `$everything`):
    the client's own Bundle (Patient, intake forms, consents, emails), then each visit with its
    participants, each place on the waitlist, each treatment record with its settings and products,
    each session had before this calendar held it, and what the client said of their visits, oldest
    first; a resource named more than once (the Patient, a practitioner, a device) comes once, as first
    given. A fixed number of queries whatever the number of visits and records."""
    clinic = client.clinic
    entries: dict[str, dict] = {}

    def take(bundle: dict) -> None:
        for entry in bundle["entry"]:
            entries.setdefault(entry["fullUrl"], entry["resource"])

    take(client_as_fhir_bundle(client))
    visits = (
        Appointment.objects.filter(client=client)
        .select_related("clinic", "client", "practitioner", "room", "device", "second_device", "service")
        .prefetch_related("service__protocols")
        .order_by("start", "pk")
    )
    for visit in visits:
        take(appointment_as_fhir_bundle(visit))
    for entry in (
        WaitlistEntry.objects.filter(client=client)
        .select_related("clinic", "service", "practitioner")
        .order_by("added_at", "pk")
    ):
        entries.setdefault(
            fhir_urn(clinic, "Appointment", f"waitlist/{entry.pk}"), waitlist_resource(entry, clinic.zone)
        )
        if entry.practitioner_id:  # asked for someone who has not seen the client yet
            entries.setdefault(
                fhir_urn(clinic, "Practitioner", entry.practitioner_id),
                practitioner_resource(clinic, entry.practitioner),
            )
    sessions = (
        with_recorded_areas(TreatmentSession.objects.filter(client=client))
        .select_related("clinic", "client")
        .prefetch_related("addenda__written_by", RECORD_PHOTOS)
        .order_by("started_at", "pk")
    )
    for session in sessions:
        take(record_as_fhir_bundle(session, embed_photos=embed_photos))
    patient_ref = fhir_urn(clinic, "Patient", client.pk)
    for earlier in (
        EarlierSession.objects.filter(client=client)
        .select_related("clinic", "service")
        .prefetch_related("service__protocols")
        .order_by("given_on", "pk")
    ):
        earlier_ref = fhir_urn(clinic, "Procedure", f"earlier/{earlier.pk}")
        entries.setdefault(earlier_ref, earlier_session_resource(earlier, patient_ref))
    for feedback in (
        VisitFeedback.objects.filter(appointment__client=client)
        .select_related("appointment__clinic", "appointment__service")
        .order_by("given_at", "pk")
    ):
        entries.setdefault(
            fhir_urn(clinic, "QuestionnaireResponse", f"feedback/{feedback.pk}"),
            feedback_resource(feedback, patient_ref, clinic.zone),
        )
    return fhir_bundle(list(entries.items()), clinic.zone)
