"""A client as HL7 FHIR R4: Patient, and (for the exports that carry them) what they told and signed.

`../shared/DOMAIN.md`'s mapping: client → Patient; filled intake form → QuestionnaireResponse (pinned
to the Questionnaire's url and version); signed consent → Consent (scope treatment); photo consent →
Consent (scope patient-privacy); the clinic's staff's signatures on a consent → Provenance (ASTM signature
types), signed by their Practitioner; the emails the clinic sent them → Communication, the ones still
scheduled → CommunicationRequest.
"""

import base64
import hashlib

from django.db.models import Prefetch

from clients.models import (
    Client,
    ConsentCountersignature,
    CountersignatureRole,
    GuardianRole,
    IntakeQuestionnaire,
    IntakeResponse,
    PhotoConsent,
    SignedConsent,
    fitzpatrick_numeral,
)
from clients.selectors import withdrawal_ending
from clinic.fhir import fhir_bundle, fhir_identifier, fhir_instant, fhir_urn, practitioner_resource
from clinic.models import Clinic, OutboxMessage, OutboxStatus


def patient_resource(clinic: Clinic, client: Client, merges=()) -> dict:
    """The client as a FHIR Patient; `merges`, the records merged into theirs, as links that this
    Patient replaces each (by the id it had), so a system that knew the old record can follow."""
    patient = {
        "resourceType": "Patient",
        "identifier": [fhir_identifier(clinic, "client", client.pk)],
        "name": [{"family": client.last_name, "given": [client.first_name]}],
    }
    telecom = [{"system": "email", "value": client.email}] if client.email else []
    telecom += [{"system": "phone", "value": client.phone}] if client.phone else []
    if telecom:
        patient["telecom"] = telecom
    if client.date_of_birth:
        patient["birthDate"] = client.date_of_birth.isoformat()
    if merges:
        patient["link"] = [
            {
                "other": {
                    "identifier": fhir_identifier(clinic, "client", merge.merged_client_id),
                    "display": merge.merged_name,
                },
                "type": "replaces",
            }
            for merge in merges
        ]
    return patient


CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
CONSENT_CATEGORY = {
    "coding": [{"system": "http://loinc.org", "code": "59284-0", "display": "Consent Document"}]
}
OPT_IN = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}]}
PHOTO_USE_SYSTEM = "urn:clinic:code-system:photo-use"
COMMUNICATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/communication-category"
EMAIL = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode",
            "code": "EMAILWRIT",
            "display": "email",
        }
    ]
}
# What happened to a message → (resource, status); a message being handed over is still "in progress".
MESSAGE_STATES = {
    OutboxStatus.SENT: ("Communication", "completed"),
    OutboxStatus.FAILED: ("Communication", "not-done"),
    OutboxStatus.SENDING: ("Communication", "in-progress"),
    OutboxStatus.PENDING: ("CommunicationRequest", "active"),
    OutboxStatus.CANCELLED: ("CommunicationRequest", "revoked"),
}
# An intake question's kind → the Questionnaire item type, and the answer's value[x].
ITEM_TYPES = {"yes_no": "boolean", "date": "date", "choice": "choice", "text": "string"}


def questionnaire_url(clinic: Clinic) -> str:
    return f"urn:clinic:{clinic.slug}:intake-form"


def _in_groups(questions: list[dict], item_of, *, typed: bool) -> list[dict]:
    """The items of the questions in order; those under a heading inside one `group` item per heading
    (a Questionnaire's group has a type, its response's does not)."""
    items: list[dict] = []
    heading = None
    for question in questions:
        section = question.get("section", "")
        item = item_of(question)
        if not section:
            items.append(item)
            heading = None
            continue
        if heading != section:
            group = {"linkId": f"section:{len(items) + 1}", "text": section} | (
                {"type": "group"} if typed else {}
            )
            items.append(group | {"item": []})
            heading = section
        items[-1]["item"].append(item)
    return items


def questionnaire_resource(clinic: Clinic, questionnaire: IntakeQuestionnaire, zone) -> dict:
    """One version of the intake form, its headings as groups; a response pins it as `url|version`."""

    def item_of(question: dict) -> dict:
        item = {
            "linkId": question["code"],
            "text": question["text"],
            "type": ITEM_TYPES.get(question.get("kind", "text"), "string"),
        }
        if item["type"] == "choice":
            item["answerOption"] = [{"valueString": choice} for choice in question.get("choices", [])]
        return item

    items = _in_groups(questionnaire.questions, item_of, typed=True)
    return {
        "resourceType": "Questionnaire",
        "url": questionnaire_url(clinic),
        "version": str(questionnaire.version),
        "title": questionnaire.title,
        "status": "active" if questionnaire.is_current else "retired",
        "date": fhir_instant(questionnaire.published_at, zone),
        "item": items,
    }


def _answer(kind: str, value: str) -> list[dict]:
    if value in ("", None):
        return []
    if kind == "yes_no":
        return [{"valueBoolean": value == "yes"}]
    if kind == "date":
        return [{"valueDate": value}]
    return [{"valueString": str(value)}]


def questionnaire_response_resource(clinic: Clinic, response: IntakeResponse, patient_ref: str, zone) -> dict:
    questionnaire = response.questionnaire

    def item_of(question: dict) -> dict:
        item = {"linkId": question["code"], "text": question["text"]}
        answer = _answer(question.get("kind", "text"), response.answers.get(question["code"], ""))
        return item | ({"answer": answer} if answer else {})

    items = _in_groups(questionnaire.questions, item_of, typed=False)
    # who answered: the client, or their parent or legal guardian for a client under the age of majority
    contained, source = _agreed_by(response.answered_by, "", patient_ref, "answerer")
    return {
        "resourceType": "QuestionnaireResponse",
        **({"contained": contained} if contained else {}),
        "identifier": fhir_identifier(clinic, "intake-response", response.pk),
        "questionnaire": f"{questionnaire_url(clinic)}|{questionnaire.version}",
        "status": "completed",
        "subject": {"reference": patient_ref},
        "source": source,
        "authored": fhir_instant(response.submitted_at, zone),
        "item": items,
    }


def skin_type_observation(response: IntakeResponse, patient_ref: str, response_ref: str, zone) -> dict:
    """The skin type the client gave on the intake, as an Observation coded LOINC 66555-4."""
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {
            "coding": [{"system": "http://loinc.org", "code": "66555-4", "display": "Fitzpatrick skin type"}],
            "text": "Fitzpatrick skin type",
        },
        "subject": {"reference": patient_ref},
        "effectiveDateTime": fhir_instant(response.submitted_at, zone),
        "performer": [{"reference": patient_ref}],  # the client said it
        "valueCodeableConcept": {"text": f"Type {fitzpatrick_numeral(response.fitzpatrick_type)}"},
        "derivedFrom": [{"reference": response_ref}],
    }


def _text_attachment(text: str, title: str, signed_at: str) -> dict:
    """The exact text signed, with its SHA-1 as FHIR's Attachment.hash asks (base64)."""
    data = text.encode()
    return {
        "contentType": "text/plain; charset=utf-8",
        "data": base64.b64encode(data).decode(),
        "size": len(data),
        "hash": base64.b64encode(hashlib.sha1(data, usedforsecurity=False).digest()).decode(),
        "title": title,
        "creation": signed_at,
    }


# HL7 v3 RoleCode: who signs for a client under the age of majority.
ROLE_CODES = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
GUARDIAN_ROLE_CODES = {GuardianRole.PARENT: "PRN", GuardianRole.LEGAL_GUARDIAN: "GUARD"}


def _agreed_by(role: str, name: str, patient_ref: str, local_id: str) -> tuple[list[dict], dict]:
    """Who answered or agreed: the patient (`role` empty), or their parent or legal guardian
    (`GuardianRole`) for a client under the age of majority, as a RelatedPerson contained in the
    resource that names them. Returns (contained resources, reference)."""
    if not role:
        return [], {"reference": patient_ref}
    person = {
        "resourceType": "RelatedPerson",
        "id": local_id,
        "patient": {"reference": patient_ref},
        "relationship": [
            {
                "coding": [
                    {
                        "system": ROLE_CODES,
                        "code": GUARDIAN_ROLE_CODES[role],
                        "display": GuardianRole(role).label.lower(),
                    }
                ]
            }
        ],
    }
    return [person | ({"name": [{"text": name}]} if name else {})], {"reference": f"#{local_id}"}


def consent_resource(
    clinic: Clinic, consent: SignedConsent, patient_ref: str, zone, withdrawn_at=None
) -> dict:
    """A signed treatment consent: scope treatment, the exact text signed attached; inactive, its
    provision's period ended, once the client withdrew it."""
    signed_at = fhir_instant(consent.signed_at, zone)
    period = {"start": signed_at}
    if withdrawn_at is not None:
        period["end"] = fhir_instant(withdrawn_at, zone)
    contained, signer = _agreed_by(consent.signed_as, consent.signature_name, patient_ref, "signer")
    return {
        "resourceType": "Consent",
        **({"contained": contained} if contained else {}),
        "identifier": [fhir_identifier(clinic, "signed-consent", consent.pk)],
        "status": "inactive" if withdrawn_at is not None else "active",
        "scope": {"coding": [{"system": CONSENT_SCOPE, "code": "treatment"}]},
        "category": [CONSENT_CATEGORY, {"text": consent.get_modality_display()}],
        "patient": {"reference": patient_ref},
        "dateTime": signed_at,
        "sourceAttachment": _text_attachment(
            consent.signed_text, f"{consent.template.title} (version {consent.version})", signed_at
        ),
        "policyRule": OPT_IN,
        "performer": [signer],
        "verification": [{"verified": True, "verifiedWith": signer, "verificationDate": signed_at}],
        "provision": {"type": "permit", "period": period},
    }


# ASTM E1762 signature types: a co-participant's (the practitioner who went through the consent with
# the client) and a consent witness's.
SIGNATURE_TYPES = "urn:iso-astm:E1762-95:2013"
COUNTERSIGNATURE_TYPES = {
    CountersignatureRole.PRACTITIONER: ("1.2.840.10065.1.12.1.3", "Co-participant's Signature"),
    CountersignatureRole.WITNESS: ("1.2.840.10065.1.12.1.11", "Consent Witness Signature"),
}


def countersignature_provenance(
    signature: ConsentCountersignature, consent_ref: str, signer_ref: str, zone
) -> dict:
    """A member of staff's signature on a consent: who, when, as what, and the words they signed."""
    when = fhir_instant(signature.signed_at, zone)
    code, display = COUNTERSIGNATURE_TYPES[signature.role]
    return {
        "resourceType": "Provenance",
        "target": [{"reference": consent_ref}],
        "recorded": when,
        "agent": [{"who": {"reference": signer_ref}}],
        "signature": [
            {
                "type": [{"system": SIGNATURE_TYPES, "code": code, "display": display}],
                "when": when,
                "who": {"reference": signer_ref},
                "sigFormat": "text/plain",
                "data": base64.b64encode(signature.statement.encode()).decode(),
            }
        ],
    }


def photo_consent_resource(clinic: Clinic, consent: PhotoConsent, patient_ref: str, zone) -> dict:
    """Consent to photos for one use: scope patient-privacy; inactive once withdrawn."""
    granted_at = fhir_instant(consent.granted_at, zone)
    period = {"start": granted_at}
    if consent.revoked_at:
        period["end"] = fhir_instant(consent.revoked_at, zone)
    contained, signer = _agreed_by(consent.signed_as, consent.signature_name, patient_ref, "signer")
    return {
        "resourceType": "Consent",
        **({"contained": contained} if contained else {}),
        "identifier": [fhir_identifier(clinic, "photo-consent", consent.pk)],
        "status": "inactive" if consent.revoked_at else "active",
        "scope": {"coding": [{"system": CONSENT_SCOPE, "code": "patient-privacy"}]},
        "category": [CONSENT_CATEGORY, {"text": f"Photos: {consent.get_scope_display()}"}],
        "patient": {"reference": patient_ref},
        "dateTime": granted_at,
        "sourceAttachment": _text_attachment(
            consent.signed_text, f"Photos: {consent.get_scope_display()}", granted_at
        ),
        "policyRule": OPT_IN,
        "performer": [signer],
        "provision": {
            "type": "permit",
            "period": period,
            "purpose": [
                {"system": PHOTO_USE_SYSTEM, "code": consent.scope, "display": consent.get_scope_display()}
            ],
        },
    }


def _message_category(message: OutboxMessage) -> str:
    if message.template_key == "booking_reminder":
        return "reminder"
    return "notification" if message.is_essential else "instruction"


def message_resource(clinic: Clinic, message: OutboxMessage, patient_ref: str, zone) -> dict:
    """An email to the client: sent (or failed) → Communication; scheduled (or called off) →
    CommunicationRequest. The topic is the kind of message; the address is the one it went to."""
    kind, status = MESSAGE_STATES[message.status]
    resource = {
        "resourceType": kind,
        "identifier": [fhir_identifier(clinic, "message", message.pk)],
        "status": status,
        "category": [
            {
                "coding": [{"system": COMMUNICATION_CATEGORY, "code": _message_category(message)}],
                "text": message.label,
            }
        ],
        "medium": [EMAIL],
        "subject": {"reference": patient_ref},
        "recipient": [{"reference": patient_ref, "display": message.recipient_email}],
    }
    if kind == "Communication":
        resource["topic"] = {"text": message.label}
        if message.sent_at:
            resource["sent"] = fhir_instant(message.sent_at, zone)
        if message.status == OutboxStatus.FAILED:
            resource["statusReason"] = {"text": message.last_error or "Not delivered"}
    else:
        resource["occurrenceDateTime"] = fhir_instant(message.due_at, zone)
        resource["payload"] = [{"contentString": message.label}]
        if message.status == OutboxStatus.CANCELLED and message.last_error:
            resource["note"] = [{"text": message.last_error}]
    return resource


def client_as_fhir_bundle(client: Client) -> dict:
    """The client as one FHIR R4 Bundle: Patient, each intake form filled (with the version it
    answered, and the skin type it gave as an Observation), each consent signed and each photo
    consent, oldest first; then the emails sent to them and still scheduled, in order of their time."""
    clinic = client.clinic
    zone = clinic.zone
    patient_ref = fhir_urn(clinic, "Patient", client.pk)
    merges = list(client.merged_records.filter(undone_at__isnull=True).order_by("merged_at", "pk"))
    resources = [(patient_ref, patient_resource(clinic, client, merges))]
    versions_given = set()
    responses = client.intake_responses.select_related("questionnaire").order_by("submitted_at", "pk")
    for response in responses:
        questionnaire = response.questionnaire
        if questionnaire.pk not in versions_given:
            versions_given.add(questionnaire.pk)
            resources.append(
                (
                    fhir_urn(clinic, "Questionnaire", questionnaire.pk),
                    questionnaire_resource(clinic, questionnaire, zone),
                )
            )
        response_ref = fhir_urn(clinic, "QuestionnaireResponse", response.pk)
        resources.append((response_ref, questionnaire_response_resource(clinic, response, patient_ref, zone)))
        if response.fitzpatrick_type:
            resources.append(
                (
                    fhir_urn(clinic, "Observation", f"skin-type/{response.pk}"),
                    skin_type_observation(response, patient_ref, response_ref, zone),
                )
            )
    signers_given = set()
    consents = client.signed_consents.select_related("template").prefetch_related(
        Prefetch("countersignatures", ConsentCountersignature.objects.select_related("signed_by"))
    )
    withdrawals = list(client.consent_withdrawals.order_by("withdrawn_at", "pk"))
    for consent in consents.order_by("signed_at", "pk"):
        consent_ref = fhir_urn(clinic, "Consent", f"treatment/{consent.pk}")
        ended = withdrawal_ending(consent, withdrawals)
        withdrawn_at = ended.withdrawn_at if ended else None
        resources.append((consent_ref, consent_resource(clinic, consent, patient_ref, zone, withdrawn_at)))
        # the clinic's staff's signatures on it, each as a Provenance signed by a Practitioner
        for signature in consent.countersignatures.all():
            signer_ref = fhir_urn(clinic, "Practitioner", signature.signed_by_id)
            if signature.signed_by_id not in signers_given:
                signers_given.add(signature.signed_by_id)
                resources.append((signer_ref, practitioner_resource(clinic, signature.signed_by)))
            resources.append(
                (
                    fhir_urn(clinic, "Provenance", f"countersignature/{signature.pk}"),
                    countersignature_provenance(signature, consent_ref, signer_ref, zone),
                )
            )
    for consent in client.photo_consents.order_by("granted_at", "pk"):
        resources.append(
            (
                fhir_urn(clinic, "Consent", f"photos/{consent.pk}"),
                photo_consent_resource(clinic, consent, patient_ref, zone),
            )
        )
    messages = OutboxMessage.objects.filter(clinic=clinic, client_id=client.pk).order_by("due_at", "pk")
    for message in messages:
        resources.append(
            (
                fhir_urn(clinic, "Communication", message.pk),
                message_resource(clinic, message, patient_ref, zone),
            )
        )
    return fhir_bundle(resources, zone)
