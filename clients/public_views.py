"""Pages a client reaches from a link in an email, without signing in."""

from django.db import transaction
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from clients.forms import IntakeContactsForm
from clients.links import FORMS, UNSUBSCRIBE, LinkInvalid, client_from_token
from clients.models import PHOTO_CONSENT_TEXTS, GuardianRole, PhotoConsentScope
from clients.selectors import forms_needed, plan_changes_to_sign, standing_photo_consents
from clients.services import (
    client_unsubscribe,
    client_update_details,
    consent_sign,
    consent_signature_error,
    forms_copy_write,
    intake_answers_errors,
    intake_submit,
    photo_consent_give,
    signs_for_a_minor,
)
from clinic.middleware import show_times_in_clinic_zone


@csrf_exempt  # RFC 8058: the mailbox provider POSTs without a session or a form of ours
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    """GET asks to confirm (link scanners must not unsubscribe anyone); POST unsubscribes, one click."""
    try:
        client, _payload = client_from_token(token, purpose=UNSUBSCRIBE)
    except LinkInvalid as error:
        return render(request, "public/link_invalid.html", {"reason": str(error)}, status=404)
    show_times_in_clinic_zone(client.clinic)
    context = {"clinic": client.clinic, "client": client}
    if request.method == "POST":
        client_unsubscribe(client=client)
        return render(request, "public/unsubscribed.html", context)
    return render(request, "public/unsubscribe.html", context)


def _client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


@require_http_methods(["GET", "POST"])
def forms(request, token):
    """The intake form and the consents a client's visit needs, filled and signed in one go."""
    try:
        client, payload = client_from_token(token, purpose=FORMS)
    except LinkInvalid as error:
        return render(request, "public/link_invalid.html", {"reason": str(error)}, status=404)
    show_times_in_clinic_zone(client.clinic)
    needed = forms_needed(client=client, modalities=set(payload.get("m", [])), at=timezone.now())

    def page(answers, errors, signatures, contacts=None, status=200):
        questions = [
            {**q, "value": answers.get(q["code"], ""), "error": errors.get(q["code"], "")}
            for q in (needed.intake.questions if needed.intake else [])
        ]
        consents = [
            {
                "template": t,
                "plan_change": plan_changes.get(t.modality),
                "agreed": signatures.get(t.pk, (False, "", ""))[0],
                "name": signatures.get(t.pk, (False, "", ""))[1],
                "signed_as": signatures.get(t.pk, (False, "", ""))[2],
                "signs_as_field": f"consent-{t.pk}-as",
                "error": errors.get(f"consent-{t.pk}", ""),
            }
            for t in needed.consents
        ]
        context = {
            "clinic": client.clinic,
            "client": client,
            "needed": needed,
            "questions": questions,
            "consents": consents,
            # a client under the age of majority: a parent or legal guardian signs for them
            "minor": minor,
            "guardian_roles": GuardianRole.choices,
            "photo_scopes": [
                {"scope": scope, "label": label, "text": PHOTO_CONSENT_TEXTS[scope], "agreed": scope in asked}
                for scope, label in PhotoConsentScope.choices
                if scope not in photos_given
            ],
            "photo_name": photo_name,
            "photo_as": photo_as,
            "answered_by": answered_by,
            "answered_by_error": errors.get("answered-by", ""),
            "photo_error": errors.get("photo", ""),
            # who to call in an emergency and their GP come with the intake, as the clinic has them
            "contacts": (contacts or IntakeContactsForm(instance=client, prefix="details"))
            if needed.intake
            else None,
            "has_errors": bool(errors) or bool(contacts and contacts.errors),
        }
        return render(request, "public/forms.html", context, status=status)

    # why a consent the client signed before is asked again: their practitioner changed the plan
    plan_changes = plan_changes_to_sign(client, {t.modality for t in needed.consents})
    minor = signs_for_a_minor(client)
    # Photos are optional, asked with the forms: each use the client has not consented to yet.
    photos_given = set(standing_photo_consents(client).values_list("scope", flat=True))
    asked: list[str] = []
    photo_name = photo_as = answered_by = ""
    if request.method == "GET" or not needed:
        return page({}, {}, {})
    offered = [scope for scope in PhotoConsentScope.values if scope not in photos_given]
    asked = [scope for scope in offered if request.POST.get(f"photo-{scope}") == "yes"]
    photo_name = request.POST.get("photo-name", "").strip()
    answers = {key[2:]: value for key, value in request.POST.items() if key.startswith("q-")}
    today = timezone.localdate(timezone=client.clinic.zone)
    errors = intake_answers_errors(needed.intake, answers, today=today) if needed.intake else {}
    # a client under the age of majority may answer themselves, or their parent or guardian for them
    answered_by = request.POST.get("answered-by", "") if minor and needed.intake else ""
    if minor and needed.intake and answered_by not in ("self", *GuardianRole.values):
        errors["answered-by"] = (
            f"Please say who is answering: {client.first_name}, or their parent or guardian."
        )
    signatures = {}
    for template in needed.consents:
        agreed = request.POST.get(f"consent-{template.pk}-agree") == "yes"
        name = request.POST.get(f"consent-{template.pk}-name", "").strip()
        signed_as = request.POST.get(f"consent-{template.pk}-as", "") if minor else ""  # `signs_as_field`
        signatures[template.pk] = (agreed, name, signed_as)
        if refusal := consent_signature_error(
            agreed=agreed, signature_name=name, minor=minor, signed_as=signed_as
        ):
            errors[f"consent-{template.pk}"] = refusal
    photo_as = request.POST.get("photo-as", "") if minor else ""
    if asked and (
        refusal := consent_signature_error(
            agreed=True, signature_name=photo_name, minor=minor, signed_as=photo_as
        )
    ):
        errors["photo"] = refusal
    contacts = IntakeContactsForm(request.POST, instance=client, prefix="details") if needed.intake else None
    if errors or (contacts is not None and not contacts.is_valid()):
        return page(answers, errors, signatures, contacts, status=400)
    ip, agent = _client_ip(request), request.META.get("HTTP_USER_AGENT", "")
    intake, consents, photo_consents = None, [], []
    with transaction.atomic():
        if needed.intake:
            client_update_details(client=client, **contacts.changes())
            intake = intake_submit(
                client=client,
                questionnaire=needed.intake,
                answers=answers,
                answered_by="" if answered_by == "self" else answered_by,
                ip_address=ip,
                user_agent=agent,
            )
        for template in needed.consents:
            agreed, name, signed_as = signatures[template.pk]
            signed = consent_sign(
                client=client,
                template=template,
                signature_name=name,
                agreed=agreed,
                signed_as=signed_as,
                ip_address=ip,
                user_agent=agent,
            )
            consents.append(signed)
        for scope in asked:
            photo_consents.append(
                photo_consent_give(
                    client=client, scope=scope, signature_name=photo_name, agreed=True, signed_as=photo_as
                )
            )
        forms_copy_write(client, intake=intake, consents=consents, photo_consents=photo_consents)
    return render(request, "public/forms_done.html", {"clinic": client.clinic, "client": client})
