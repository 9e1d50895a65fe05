"""Writes about clients. Each function is the one door for its change."""

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils import timezone

from clients.models import (
    FITZPATRICK_QUESTION,
    PHOTO_CONSENT_TEXTS,
    TOLD_THE_CLINIC,
    Client,
    ClientCondition,
    ConsentCountersignature,
    ConsentEndedBecause,
    ConsentTemplate,
    ConsentWithdrawal,
    CountersignatureRole,
    GuardianRole,
    IntakeQuestionnaire,
    IntakeResponse,
    PhotoConsent,
    PhotoConsentScope,
    SignedConsent,
    WithdrawalChannel,
    countersignature_statement,
    fitzpatrick_type_of,
    sha256_hex,
)
from clients.selectors import (
    consent_stands,
    photo_consent_current,
    standing_consent_modalities,
    standing_photo_consents,
    withdrawals_by_treatment,
)
from clinic.errors import ClinicError
from clinic.models import Clinic, Modality, StaffMember
from clinic.outbox import outbox_cancel_non_essential, outbox_message, outbox_readdress, outbox_write


@transaction.atomic
def client_register(
    *,
    clinic: Clinic,
    first_name: str,
    last_name: str,
    email: str = "",
    phone: str = "",
    date_of_birth=None,
    **details,
) -> Client:
    """Create a client of the clinic from already-validated fields."""
    client = Client(
        clinic=clinic,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        email=email.strip().lower(),
        phone=phone.strip(),
        date_of_birth=date_of_birth,
        **details,
    )
    client.full_clean()
    client.save()
    return client


# What a client's details page may change (preferences and notes have their own doors).
CLIENT_DETAIL_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "date_of_birth",
    "emergency_contact_name",
    "emergency_contact_phone",
    "gp_details",
)


def refuse_if_erased(client: Client) -> None:
    """Lock the client's row until the transaction ends and refuse a record erased (meanwhile too)."""
    erased = (
        Client.objects.select_for_update(no_key=True)
        .filter(pk=client.pk)
        .values_list("erased_at", flat=True)
        .first()
    )
    if erased is not None:
        raise ClinicError(
            "This client's record was erased at their request. If they come back, register them again.",
            code="client_erased",
        )


@transaction.atomic
def client_update_details(*, client: Client, **changes) -> int:
    """Change a client's details from already-validated fields; return how many scheduled emails moved.

    The emails still to be sent follow the client: to the new address when it changed, cancelled
    when it was removed (an email already sent or failed stays as it was; staff resend it).
    """
    unknown = set(changes) - set(CLIENT_DETAIL_FIELDS)
    if unknown:
        raise ValueError(f"Not a client detail: {', '.join(sorted(unknown))}")
    if not changes:
        return 0
    refuse_if_erased(client)
    client = Client.objects.select_for_update().get(pk=client.pk)
    before = (client.email, client.full_name)
    for name, value in changes.items():
        setattr(client, name, value.strip() if isinstance(value, str) else value)
    client.email = client.email.lower()
    client.full_clean()
    client.save(update_fields=list(changes))
    if (client.email, client.full_name) == before:
        return 0
    return outbox_readdress(
        client_id=client.pk,
        recipient_email=client.email,
        recipient_name=client.full_name,
        first_name=client.first_name,
    )


@transaction.atomic
def client_unsubscribe(*, client: Client) -> bool:
    """Stop aftercare and other non-essential mail to the client; return False if already stopped.

    Booking mail (confirmations, reminders, changes) still goes: the client needs it to attend.
    """
    client = Client.objects.select_for_update().get(pk=client.pk)
    changed = (
        client.unsubscribed_at is None or client.accepts_aftercare_email or client.accepts_marketing_email
    )
    if changed:
        client.unsubscribed_at = client.unsubscribed_at or timezone.now()
        client.accepts_aftercare_email = False
        if client.accepts_marketing_email:
            client.news_choice_at, client.news_choice_how = client.unsubscribed_at, UNSUBSCRIBED_FROM_NEWS
        client.accepts_marketing_email = False
        client.save(
            update_fields=[
                "unsubscribed_at",
                "accepts_aftercare_email",
                "accepts_marketing_email",
                "news_choice_at",
                "news_choice_how",
            ]
        )
    outbox_cancel_non_essential(client_id=client.pk)
    return changed


UNSUBSCRIBED_FROM_NEWS = "Stopped them with the link in an email"


@transaction.atomic
def client_email_choices(client: Client, *, aftercare: bool, news: bool, how: str) -> list[str]:
    """Record what the client said of the optional emails (aftercare advice, the clinic's news): at the
    desk, or ticked on the booking page. Saying yes to either after unsubscribing is subscribing again.
    `how` says where they said it, kept with a change of the news choice (the consent's record).
    Returns what changed, in words, for the page ("aftercare emails on")."""
    client = Client.objects.select_for_update().get(pk=client.pk)
    refuse_if_erased(client)
    changed = []
    if aftercare != client.accepts_aftercare_email:
        client.accepts_aftercare_email = aftercare
        changed.append("aftercare emails " + ("on" if aftercare else "off"))
    if news != client.accepts_marketing_email:
        client.accepts_marketing_email = news
        client.news_choice_at, client.news_choice_how = timezone.now(), how[:200]
        changed.append("the clinic's news " + ("on" if news else "off"))
    if (aftercare or news) and client.unsubscribed_at:
        client.unsubscribed_at = None
    if not aftercare and "aftercare emails off" in changed:
        # the aftercare still to go stops now, as an unsubscribe stops it (news rows are checked as
        # they go: `treatments.news.out_of_date_news`)
        outbox_cancel_non_essential(
            client_id=client.pk, why="The client asked for no aftercare emails.", news_too=False
        )
    client.save(
        update_fields=[
            "accepts_aftercare_email",
            "accepts_marketing_email",
            "news_choice_at",
            "news_choice_how",
            "unsubscribed_at",
        ]
    )
    return changed


def client_accepts_non_essential_mail(client: Client) -> bool:
    return bool(client.email) and client.unsubscribed_at is None and client.accepts_aftercare_email


YES_NO = {"yes", "no"}


def intake_answers_errors(
    questionnaire: IntakeQuestionnaire, answers: dict, *, today: dt.date
) -> dict[str, str]:
    """Return, per question code, what is wrong with the answer, in words the client understands."""
    errors = {}
    for question in questionnaire.questions:
        code, kind = question["code"], question.get("kind", "text")
        value = (answers.get(code) or "").strip()
        if kind == "yes_no" and value not in YES_NO:
            errors[code] = "Please answer yes or no."
        elif kind == "date" and value:
            try:
                day = dt.date.fromisoformat(value)
            except ValueError:
                errors[code] = "Please give a date as year-month-day, e.g. 2026-03-14."
                continue
            if day > today:
                errors[code] = "This date is in the future. Please check it."
        elif kind == "choice" and value and value not in question.get("choices", []):
            errors[code] = "Please choose one of the options."
    return errors


@transaction.atomic
def intake_submit(
    *,
    client: Client,
    questionnaire: IntakeQuestionnaire,
    answers: dict,
    answered_by: str = "",
    ip_address=None,
    user_agent="",
) -> IntakeResponse:
    """Store the client's answers pinned to this version, and the conditions they record; for a client
    under the age of majority, whether their parent or legal guardian answered (`answered_by`)."""
    refuse_if_erased(client)
    today = timezone.localdate(timezone=client.clinic.zone)
    errors = intake_answers_errors(questionnaire, answers, today=today)
    if errors:
        raise ClinicError("Some answers need another look.", code="intake_incomplete")
    clean = {q["code"]: (answers.get(q["code"]) or "").strip() for q in questionnaire.questions}
    response = IntakeResponse.objects.create(
        client=client,
        questionnaire=questionnaire,
        answers=clean,
        ip_address=ip_address,
        user_agent=user_agent[:500],
        fitzpatrick_type=fitzpatrick_type_of(clean.get(FITZPATRICK_QUESTION, "")),
        answered_by=answered_by if answered_by in GuardianRole.values and signs_for_a_minor(client) else "",
    )
    conditions = []
    for question in questionnaire.questions:
        value, condition = clean[question["code"]], question.get("condition")
        if not condition or not value or value == "no":
            continue
        noted_on = dt.date.fromisoformat(value) if question.get("kind") == "date" else None
        conditions.append(
            ClientCondition(response=response, client=client, code=condition, noted_on=noted_on)
        )
    ClientCondition.objects.bulk_create(conditions)
    return response


def consent_signature_error(
    *, agreed: bool, signature_name: str, minor: bool = False, signed_as: str = ""
) -> str:
    """Return what is missing from a consent signature, in the signer's words; empty if nothing. For a
    client under the age of majority (`minor`) a parent or legal guardian signs and says which."""
    if not agreed:
        return "Please tick the box to say you have read and agree."
    if minor and signed_as not in GuardianRole.values:
        return "Please say whether you sign as the parent or the legal guardian."
    if len(" ".join(signature_name.split())) < 2:
        return "Please type your full name to sign."
    return ""


def signs_for_a_minor(client: Client) -> bool:
    """The client is under the clinic's age of majority today (in the clinic's zone): a parent or legal
    guardian signs their consents."""
    return client.is_minor_on(timezone.localdate(timezone=client.clinic.zone))


@transaction.atomic
def consent_sign(
    *,
    client: Client,
    template: ConsentTemplate,
    signature_name: str,
    agreed: bool,
    signed_as: str = "",
    ip_address=None,
    user_agent="",
) -> SignedConsent:
    """Record the signature of exactly this text; refuse it unsigned or unticked. A client under the
    clinic's age of majority on the day does not sign alone: their parent or legal guardian signs
    (`signed_as`, with their own name); an adult signs for themselves."""
    refuse_if_erased(client)
    signature_name = " ".join(signature_name.split())
    minor = signs_for_a_minor(client)
    if refusal := consent_signature_error(
        agreed=agreed, signature_name=signature_name, minor=minor, signed_as=signed_as
    ):
        raise ClinicError(refusal, code="not_signed")
    return SignedConsent.objects.create(
        client=client,
        template=template,
        modality=template.modality,
        version=template.version,
        signed_text=template.body,
        signed_text_sha256=sha256_hex(template.body),
        signature_name=signature_name,
        signed_as=signed_as if minor else "",
        ip_address=ip_address,
        user_agent=user_agent[:500],
    )


@transaction.atomic
def consent_countersign(
    *, consent: SignedConsent, role: str, by: StaffMember, confirmed: bool
) -> ConsentCountersignature:
    """Sign the client's consent as the practitioner who went through it with them, or as a witness.

    Only the client's latest consent of its treatment can be signed; a practitioner's signature needs a
    practitioner qualified for that treatment; one person does not sign as both. Signing it again
    returns the signature already there.
    """
    client = consent.client
    treatment = Modality(consent.modality).label.lower()
    if by.clinic_id != client.clinic_id or not by.is_active:
        raise ClinicError("Only the clinic's own staff can sign its clients' consents.", code="not_staff")
    if role not in CountersignatureRole.values:
        raise ClinicError("Sign as the practitioner or as a witness.", code="unknown_role")
    # one signer at a time per consent: the row is locked, never updated (a trigger refuses that)
    SignedConsent.objects.select_for_update().filter(pk=consent.pk).first()
    signatures = {c.role: c for c in ConsentCountersignature.objects.filter(consent=consent)}
    if role in signatures:
        return signatures[role]
    if not confirmed:
        raise ClinicError("Tick the box to confirm what you are signing, then sign.", code="not_confirmed")
    latest = (
        SignedConsent.objects.filter(client=client, modality=consent.modality)
        .order_by("-signed_at", "-id")
        .values_list("pk", flat=True)
        .first()
    )
    if latest != consent.pk:
        raise ClinicError(
            f"{client.full_name} has signed a newer {treatment} consent since this one: sign that one.",
            code="superseded",
        )
    if not consent_stands(consent, withdrawals_by_treatment([client.pk])):
        raise ClinicError(
            f"{client.full_name}'s consent to {treatment} no longer stands (withdrawn, or asked again as the "
            "plan changed): there is nothing to sign until they sign it again.",
            code="withdrawn",
        )
    if role == CountersignatureRole.PRACTITIONER and not (
        by.is_practitioner and by.qualifications.filter(modality=consent.modality).exists()
    ):
        raise ClinicError(
            f"Only a practitioner qualified for {treatment} can sign its consent as the practitioner.",
            code="not_qualified",
        )
    if any(other.signed_by_id == by.pk for other in signatures.values()):
        raise ClinicError(
            "The witness must be someone other than the practitioner who signed: ask a colleague.",
            code="same_person",
        )
    try:
        with transaction.atomic():
            return ConsentCountersignature.objects.create(
                consent=consent,
                role=role,
                signed_by=by,
                signer_name=by.display_name,
                statement=countersignature_statement(role, consent),
            )
    except IntegrityError:  # signed by a colleague at the same moment (SQLite has no row lock)
        return ConsentCountersignature.objects.get(consent=consent, role=role)


@transaction.atomic
def consent_withdraw(
    *, client: Client, modality: str, by: StaffMember, told: str, note: str = ""
) -> ConsentWithdrawal:
    """Record that the client withdrew their consent to a treatment (told the clinic in person, by
    phone, email or letter). No consent to it they signed before counts any more: a visit for it shows
    its consent missing until they sign again."""
    if by.clinic_id != client.clinic_id or not by.is_active:
        raise ClinicError("Only the clinic's own staff can record a client's withdrawal.", code="not_staff")
    if modality not in Modality.values:
        raise ClinicError(
            "Choose the treatment the client withdrew their consent to.", code="unknown_modality"
        )
    if told not in dict(TOLD_THE_CLINIC):
        raise ClinicError("Say how the client told the clinic.", code="unknown_channel")
    return _end_standing_consent(
        client=client,
        modality=modality,
        nothing_standing=("there is nothing to withdraw.", "nothing_to_withdraw"),
        told=told,
        note=" ".join(note.split())[:500],
        recorded_by=by,
    )


@transaction.atomic
def consent_withdraw_by_client(
    *, client: Client, modality: str, clinic_page_url: str = ""
) -> ConsentWithdrawal:
    """The client withdraws their consent to a treatment themselves, from their own link: as easy to take
    back as it was to give. It counts at once, as one the desk records; the clinic is emailed in the same
    transaction (its visits ahead for the treatment now lack consent: they call the client)."""
    if modality not in Modality.values:
        raise ClinicError("Choose the treatment you withdraw your consent to.", code="unknown_modality")
    withdrawal = _end_standing_consent(
        client=client,
        modality=modality,
        nothing_standing=("there is nothing to withdraw.", "nothing_to_withdraw"),
        told=WithdrawalChannel.OWN_LINK,
        recorded_by=None,
    )
    _tell_the_clinic(
        client,
        template_key=CONSENT_WITHDRAWN,
        dedupe_key=f"consent-withdrawn:{withdrawal.pk}",
        client_page_url=clinic_page_url,
        treatment=Modality(modality).label.lower(),
    )
    return withdrawal


def _tell_the_clinic(client: Client, *, template_key: str, dedupe_key: str, client_page_url: str, **said):
    """Email the clinic's own address (when it has one) what the client just did from their link, when,
    and the link to their page; in the caller's transaction."""
    clinic = client.clinic
    if not clinic.email:
        return
    outbox_write(
        [
            outbox_message(
                clinic=clinic,
                recipient_email=clinic.email,
                recipient_name=clinic.name,
                template_key=template_key,
                dedupe_key=dedupe_key,
                context={
                    "client_name": client.full_name,
                    "withdrawn_at": _local_said(timezone.now(), clinic.zone),
                    "zone_name": clinic.time_zone,
                    "client_page_url": client_page_url,
                    **said,
                },
                topic=f"{dedupe_key.partition(':')[0]}:{client.pk}",
            )
        ]
    )


def _local_said(instant: dt.datetime, zone) -> str:
    """ "Monday 7 December 2026 at 09:40", the clinic's local time, as the client's emails write it."""
    local = timezone.localtime(instant, zone)
    return f"{local:%A} {local.day} {local:%B %Y at %H:%M}"


# The clinic told that a client withdrew a treatment consent themselves.
CONSENT_WITHDRAWN = "consent_withdrawn"


def _end_standing_consent(
    *, client: Client, modality: str, nothing_standing: tuple[str, str], **row
) -> ConsentWithdrawal:
    """Write the `ConsentWithdrawal` that ends the client's standing consent to the treatment, one at a
    time per client; refused, with `nothing_standing` (what follows in words, its code), when none
    stands."""
    Client.objects.select_for_update().filter(pk=client.pk).first()
    if modality not in standing_consent_modalities(client):
        words, code = nothing_standing
        treatment = Modality(modality).label.lower()
        raise ClinicError(f"{client.full_name} has no consent to {treatment} standing: {words}", code=code)
    return ConsentWithdrawal.objects.create(client=client, modality=modality, **row)


@transaction.atomic
def consent_ask_again(
    *, client: Client, modality: str, by: StaffMember, what_changed: str
) -> ConsentWithdrawal:
    """The practitioner changed the plan the client consented to (other areas, deeper, another course):
    the client consents again before their next visit for it. As after a withdrawal, no consent to the
    treatment signed before counts for the visits after this; the client reads `what_changed` when they
    sign again."""
    if by.clinic_id != client.clinic_id or not by.is_active:
        raise ClinicError("Only the clinic's own staff can ask a client to consent again.", code="not_staff")
    if modality not in Modality.values:
        raise ClinicError("Choose the treatment whose plan changed.", code="unknown_modality")
    treatment = Modality(modality).label.lower()
    if not (by.is_manager or (by.is_practitioner and by.qualifications.filter(modality=modality).exists())):
        raise ClinicError(
            f"Only a practitioner qualified for {treatment}, or a manager, can change its plan.",
            code="not_qualified",
        )
    what_changed = " ".join(what_changed.split())[:500]
    if len(what_changed) < 5:
        raise ClinicError(
            f"Say what changed in the plan: {client.first_name} reads it before signing again.",
            code="what_changed_missing",
        )
    return _end_standing_consent(
        client=client,
        modality=modality,
        nothing_standing=("they sign one before their next visit anyway.", "nothing_to_ask_again"),
        because=ConsentEndedBecause.PLAN_CHANGED,
        told="",
        note=what_changed,
        recorded_by=by,
    )


@transaction.atomic
def form_version_make_current(version: IntakeQuestionnaire | ConsentTemplate) -> bool:
    """Publish this version of the intake form or of a modality's consent: it becomes the current one.

    The version current until now stops being so in the same transaction (the database allows one
    current version per form). Clients whose intake or signature is of an older version are asked
    again before their next visit. Returns False if it was already current.
    """
    model = type(version)
    same_form = {"clinic_id": version.clinic_id}
    if isinstance(version, ConsentTemplate):
        same_form["modality"] = version.modality
    current = model.objects.select_for_update().filter(**same_form, is_current=True)
    if [v.pk for v in current] == [version.pk]:
        return False
    current.update(is_current=False)
    model.objects.filter(pk=version.pk).update(is_current=True, published_at=timezone.now())
    return True


@transaction.atomic
def photo_consent_give(
    *, client: Client, scope: str, signature_name: str, agreed: bool, signed_as: str = ""
) -> PhotoConsent:
    """Record the client's consent to photos for one scope, with the words they agreed to; for a
    client under the age of majority, their parent's or legal guardian's (`signed_as`).

    Asked again while it stands, it is the same consent (a second tap changes nothing).
    """
    refuse_if_erased(client)
    if scope not in PHOTO_CONSENT_TEXTS:
        raise ClinicError("Choose what the photos may be used for.", code="bad_scope")
    signature_name = " ".join(signature_name.split())
    minor = signs_for_a_minor(client)
    if refusal := consent_signature_error(
        agreed=agreed, signature_name=signature_name, minor=minor, signed_as=signed_as
    ):
        raise ClinicError(refusal, code="not_signed")
    Client.objects.select_for_update().filter(pk=client.pk).first()  # one consent per scope at a time
    standing = photo_consent_current(client, scope)
    if standing is not None:
        return standing
    return PhotoConsent.objects.create(
        client=client,
        scope=scope,
        signed_text=PHOTO_CONSENT_TEXTS[scope],
        signature_name=signature_name,
        signed_as=signed_as if minor else "",
    )


@transaction.atomic
def photo_consent_withdraw(*, client: Client, scope: str) -> int:
    """Record that the client withdrew their photo consent for a scope; return how many were standing."""
    return standing_photo_consents(client).filter(scope=scope).update(revoked_at=timezone.now())


# The clinic told that a client withdrew consent to photos for teaching or marketing themselves.
PHOTOS_WITHDRAWN = "photo_consent_withdrawn"


@transaction.atomic
def photo_consent_withdraw_by_client(*, client: Client, scope: str, client_page_url: str = "") -> int:
    """The client withdraws their consent to photos for one use from their own link: as easy to take
    back as it was to give. How many were standing (0: nothing to withdraw). For teaching or marketing
    the clinic must stop using photos it may already show, so the clinic is emailed, in the same
    transaction; photos in the clinical record stay part of it."""
    if scope not in PhotoConsentScope.values:
        raise ClinicError("That is not a use of photos the clinic asks consent for.", code="bad_scope")
    standing = sorted(standing_photo_consents(client).filter(scope=scope).values_list("pk", flat=True))
    withdrawn = photo_consent_withdraw(client=client, scope=scope)
    if withdrawn and scope != PhotoConsentScope.CLINICAL:
        _tell_the_clinic(
            client,
            template_key=PHOTOS_WITHDRAWN,
            dedupe_key=f"photos-withdrawn:{standing[0]}",
            client_page_url=client_page_url,
            use=PhotoConsentScope(scope).label.lower(),
        )
    return withdrawn


# The client's copy of what they signed from their link (`forms_copy_write`).
FORMS_COPY = "forms_signed"


def forms_copy_write(
    client: Client,
    *,
    intake: IntakeResponse | None = None,
    consents: list[SignedConsent] = (),
    photo_consents: list[PhotoConsent] = (),
) -> None:
    """Email the client a copy of what they just signed: each consent's exact text, version, signer,
    time and SHA-256, and each use of photos agreed to. Their intake answers are health data and are
    not put in an email: the copy says only that the questionnaire (its title and version) was
    received. Written in the transaction that recorded them; one email per submission (its dedupe key
    names the first row the submission made), sent even to a client who unsubscribed from optional
    mail, as it is their record of a signature."""
    if not client.email or not (intake or consents or photo_consents):
        return
    zone = client.clinic.zone
    first = (
        f"intake:{intake.pk}"
        if intake
        else f"consent:{consents[0].pk}"
        if consents
        else f"photo:{photo_consents[0].pk}"
    )
    signed_at = min(
        [c.signed_at for c in consents]
        + [p.granted_at for p in photo_consents]
        + ([intake.submitted_at] if intake else [])
    )
    roles = dict(GuardianRole.choices)
    scopes = dict(PhotoConsentScope.choices)
    outbox_write(
        [
            outbox_message(
                clinic=client.clinic,
                recipient_email=client.email,
                recipient_name=client.full_name,
                template_key=FORMS_COPY,
                dedupe_key=f"forms-copy:{first}",
                context={
                    "client_first_name": client.first_name,
                    "signed_at": _local_said(signed_at, zone),
                    "zone_name": client.clinic.time_zone,
                    "intake_title": intake.questionnaire.title if intake else "",
                    "intake_version": intake.questionnaire.version if intake else None,
                    "consents": [
                        {
                            "title": consent.template.title,
                            "version": consent.version,
                            "text": consent.signed_text,
                            "sha256": consent.signed_text_sha256,
                            "signed_by": consent.signature_name,
                            "signed_as": roles.get(consent.signed_as, "").lower(),
                        }
                        for consent in consents
                    ],
                    "photo_uses": [
                        {"label": scopes[p.scope], "text": p.signed_text, "signed_by": p.signature_name}
                        for p in photo_consents
                    ],
                },
                topic=f"forms-copy:{client.pk}",
                is_essential=True,
                client_id=client.pk,
            )
        ]
    )
