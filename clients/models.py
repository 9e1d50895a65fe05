"""People: clients, their intake answers and the consents they signed."""

import datetime as dt
import hashlib
import re
import unicodedata

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from clinic.models import Clinic, Modality, StaffMember

# A client needs one of email and phone; said wherever a client's details are typed in.
NO_WAY_TO_REACH = "Give an email address or a phone number so we can reach the client."
# Nobody alive was born longer ago: an earlier date of birth is a mistyped year.
OLDEST_AGE_YEARS = 120


def validate_date_of_birth(value: dt.date) -> None:
    """Refuse a date of birth in the future or more than OLDEST_AGE_YEARS ago (a mistyped year)."""
    today = timezone.localdate()
    if value > today:
        raise ValidationError("The date of birth cannot be in the future.", code="future")
    if value.year < today.year - OLDEST_AGE_YEARS:
        raise ValidationError(
            f"A date of birth in {value.year} is more than {OLDEST_AGE_YEARS} years ago. Check the year.",
            code="too_old",
        )


def validate_printable(value: str) -> None:
    """Refuse control characters (a stray tab or escape pasted in), which no name or number has."""
    if any(unicodedata.category(character) == "Cc" for character in value):
        raise ValidationError(
            "This contains a control character (such as a tab). Type it again.", code="control"
        )


def validate_phone_number(value: str) -> None:
    """Refuse what cannot be dialled ("n/a", "ask her"): a phone number has at least six digits."""
    if sum(character.isdigit() for character in value) < 6:
        raise ValidationError(
            "This does not look like a phone number: give the digits, e.g. 07700 900123.", code="phone"
        )


class ErasureReason(models.TextChoices):
    """Why a client's record was erased (`clients.erasure`)."""

    ASKED = "asked", "at the client's request"
    KEPT_LONG_ENOUGH = "kept_long_enough", "once the clinic no longer had to keep it"


class Client(models.Model):
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="clients")
    first_name = models.CharField(max_length=100, validators=[validate_printable])
    last_name = models.CharField(max_length=100, validators=[validate_printable])
    date_of_birth = models.DateField(null=True, blank=True, validators=[validate_date_of_birth])
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True, validators=[validate_printable])
    emergency_contact_name = models.CharField(max_length=200, blank=True, validators=[validate_printable])
    emergency_contact_phone = models.CharField(
        max_length=40, blank=True, validators=[validate_printable, validate_phone_number]
    )
    gp_details = models.CharField("GP", max_length=200, blank=True, validators=[validate_printable])
    # Email preferences: booking mail is always sent; these cover non-essential mail.
    accepts_aftercare_email = models.BooleanField(default=True)
    accepts_marketing_email = models.BooleanField(default=False)  # the clinic's news (`treatments.news`)
    # when and how the client last said yes or no to the clinic's news ("Ticked on the booking page")
    news_choice_at = models.DateTimeField(null=True, blank=True, editable=False)
    news_choice_how = models.CharField(max_length=200, blank=True, editable=False)
    unsubscribed_at = models.DateTimeField(null=True, blank=True, help_text="Set by one-click unsubscribe.")
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Erased at the client's request, or once the clinic no longer had to keep it (`clients.erasure`):
    # the row stays, without anything that names them, so the schedule's past keeps its visits; nothing
    # new is booked for it.
    erased_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="Set when the record was erased: nothing that names the client is kept.",
    )
    erased_because = models.CharField(
        max_length=20, choices=ErasureReason.choices, blank=True, editable=False
    )
    erased_by = models.ForeignKey(
        StaffMember,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    # Registered from a file of clients the clinic had in other software (`clients.imports`).
    imported_in = models.ForeignKey(
        "ClientImport",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="clients",
    )

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        indexes = [
            models.Index(fields=["clinic", "last_name", "first_name"], name="client_clinic_name"),
            models.Index(fields=["clinic", "email"], name="client_clinic_email"),
            models.Index(fields=["clinic", "phone"], name="client_clinic_phone"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(first_name="") & ~Q(last_name=""), name="client_name_required"
            ),
            models.CheckConstraint(
                condition=Q(erased_at__isnull=True)
                | Q(
                    email="",
                    phone="",
                    date_of_birth__isnull=True,
                    emergency_contact_name="",
                    emergency_contact_phone="",
                    gp_details="",
                    notes="",
                ),
                name="client_erased_holds_no_details",
                violation_error_message="An erased client's record keeps nothing that names them.",
            ),
            models.CheckConstraint(
                condition=Q(erased_at__isnull=True, erased_because="")
                | Q(erased_at__isnull=False, erased_because__in=ErasureReason.values),
                name="client_erased_says_why",
                violation_error_message="An erased client's record says why it was erased.",
            ),
        ]

    def __str__(self):
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def initials(self) -> str:
        """'O. S.' for Olivia Smith: who a visit is with, short of their name (a practitioner's calendar
        feed and the emails telling them of a client's change say no more)."""
        names = (part.strip() for part in (self.first_name, self.last_name))
        return " ".join(f"{name[0].upper()}." for name in names if name)

    def age_on(self, day: dt.date) -> int | None:
        """Their age in whole years on the day; None when the date of birth is not known."""
        born = self.date_of_birth
        if born is None:
            return None
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))

    def is_minor_on(self, day: dt.date) -> bool:
        """Younger than the clinic's age of majority on the day: a parent or guardian signs for them."""
        age = self.age_on(day)
        return age is not None and age < self.clinic.age_of_majority


# The intake question whose answer is the client's skin type; the response keeps it as a number (1–6).
FITZPATRICK_QUESTION = "fitzpatrick"
FITZPATRICK_NUMERALS = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6}


def fitzpatrick_type_of(answer: str) -> int | None:
    """The skin type an answer names by its first word, a Roman numeral or a digit ("IV – …" → 4)."""
    words = answer.replace("–", " ").replace("-", " ").split()
    if not words:
        return None
    first = words[0].upper().rstrip(".:,")
    if first in FITZPATRICK_NUMERALS:
        return FITZPATRICK_NUMERALS[first]
    return int(first) if first in {"1", "2", "3", "4", "5", "6"} else None


# The intake question whose answer is the client's photoageing, Glogau I–IV, its numeral first.
GLOGAU_QUESTION = "glogau"


def glogau_numeral(answer: str) -> str:
    """The Glogau type an answer names by its first word ("II – lines when I smile" → "II"); else empty."""
    kind = fitzpatrick_type_of(answer)  # read the same way: a Roman numeral or a digit first
    return fitzpatrick_numeral(kind) if kind is not None and kind <= 4 else ""


def fitzpatrick_numeral(skin_type: int | None) -> str:
    """The skin type as clinics write it (4 → "IV"); empty when not known."""
    return next((numeral for numeral, n in FITZPATRICK_NUMERALS.items() if n == skin_type), "")


QUESTION_KINDS = {
    "yes_no": "a yes or no",
    "date": "a date",
    "text": "a few words",
    "choice": "one of the choices",
}
QUESTION_KEYS = {"code", "text", "kind", "condition", "choices", "section"}
SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
QUESTIONS_EXAMPLE = (
    '[{"section": "Your health", "code": "pregnancy", "text": "Are you pregnant?", "kind": "yes_no", '
    '"condition": "pregnancy"}, {"code": "goals", "text": "What would you like to improve?", '
    '"kind": "text"}]'
)


def intake_questions_errors(questions) -> list[str]:
    """What is wrong with an intake form's questions, in words a manager can act on (empty: nothing).

    Each question is {"code", "text", "kind", "condition"?, "choices"?, "section"?}: a short code
    unique in the form, the question as the client reads it, how it is answered (yes_no, date, text,
    choice), the condition a yes or a date records for the contraindication rules, the choices of a
    choice question, and the heading it comes under.
    """
    if not isinstance(questions, list):
        return [f"Write the questions as a list, in square brackets, e.g. {QUESTIONS_EXAMPLE}"]
    errors, seen = [], set()
    for number, question in enumerate(questions, start=1):
        if not isinstance(question, dict):
            errors.append(f'Question {number} is not written as {{"code": …, "text": …}}.')
            continue
        text = question.get("text")
        name = f"Question {number}" + (f" (“{text}”)" if isinstance(text, str) and text.strip() else "")
        unknown = sorted(set(question) - QUESTION_KEYS)
        if unknown:
            errors.append(
                f"{name} has {', '.join(repr(k) for k in unknown)}, which a question does not have "
                f"(it has {', '.join(sorted(QUESTION_KEYS))})."
            )
        code = question.get("code")
        if not isinstance(code, str) or not SLUG.match(code):
            errors.append(f"{name} needs a code of small letters, digits and hyphens, such as “pregnancy”.")
        elif code in seen:
            errors.append(f"{name}: the code “{code}” is used twice. Give each question its own code.")
        else:
            seen.add(code)
        if not isinstance(text, str) or not text.strip():
            errors.append(f"{name} needs its text: the question as the client reads it.")
        kind = question.get("kind", "text")
        if kind not in QUESTION_KINDS:
            errors.append(f"{name}: the kind must be one of {', '.join(QUESTION_KINDS)}, not “{kind}”.")
        condition = question.get("condition", "")
        if not isinstance(condition, str) or (condition and not SLUG.match(condition)):
            errors.append(
                f"{name}: the condition must be a code of small letters, digits and hyphens, such as "
                "“pregnancy”, or left empty."
            )
        section = question.get("section", "")
        if not isinstance(section, str):
            errors.append(f"{name}: the section is the heading it comes under, in words.")
        choices = question.get("choices")
        if kind == "choice":
            if (
                not isinstance(choices, list)
                or len(choices) < 2
                or not all(isinstance(c, str) and c.strip() for c in choices)
            ):
                errors.append(f"{name} is a choice: list at least two choices, in words.")
            elif len(set(choices)) != len(choices):
                errors.append(f"{name} offers the same choice twice.")
            elif code == FITZPATRICK_QUESTION and any(fitzpatrick_type_of(c) is None for c in choices):
                errors.append(
                    f"{name} is the skin type: begin each choice with its type, I to VI "
                    "(e.g. “IV – olive: rarely burns, tans easily”)."
                )
            elif code == GLOGAU_QUESTION and any(not glogau_numeral(c) for c in choices):
                errors.append(
                    f"{name} is the photoageing type: begin each choice with its type, I to IV "
                    "(e.g. “II – lines when I smile or frown”)."
                )
        elif choices is not None:
            errors.append(f"{name} has choices but is not a choice question: make its kind “choice”.")
    return errors


def validate_intake_questions(questions) -> None:
    """Refuse questions the intake form could not ask (see `intake_questions_errors`)."""
    if errors := intake_questions_errors(questions):
        raise ValidationError(errors, code="questions")


class IntakeQuestionnaire(models.Model):
    """One version of the clinic's intake form; answers map to condition codes that rules check.

    `questions` is a list of {"code", "text", "kind": "yes_no"|"date"|"text"|"choice",
    "condition": <condition code a yes/date answer records>, "choices": [...], "section": <heading>}
    (`intake_questions_errors` says what each must hold).
    A published version is never edited: publish a new version instead.
    """

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="intake_questionnaires")
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    questions = models.JSONField(
        default=list,
        validators=[validate_intake_questions],
        help_text=(
            "The questions, in order, as a list: each with a code, its text, its kind (yes_no, date, "
            "text or choice), the condition a yes or a date records for the contraindication rules, "
            f"its choices if a choice, and the section it comes under. For example: {QUESTIONS_EXAMPLE}"
        ),
    )
    is_current = models.BooleanField(default=False)
    published_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["clinic_id", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "version"],
                name="intake_version_unique",
                violation_error_message=(
                    "There is already an intake form with this version number: give the new one the "
                    "next number."
                ),
            ),
            models.UniqueConstraint(
                fields=["clinic"],
                condition=Q(is_current=True),
                name="intake_one_current_per_clinic",
                violation_error_message=(
                    "Another version is current. Save this one without ticking it, then choose it in the "
                    "list and make it the current version."
                ),
            ),
            models.CheckConstraint(
                condition=Q(version__gte=1),
                name="intake_version_positive",
                violation_error_message="Version numbers start at 1.",
            ),
        ]

    def __str__(self):
        return f"{self.title} v{self.version}"


class GuardianRole(models.TextChoices):
    """Who signs a consent for a client under the clinic's age of majority."""

    PARENT = "parent", "Parent"
    LEGAL_GUARDIAN = "legal_guardian", "Legal guardian"


class IntakeResponse(models.Model):
    """A client's answers, pinned to the questionnaire version they answered."""

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="intake_responses")
    questionnaire = models.ForeignKey(IntakeQuestionnaire, on_delete=models.PROTECT, related_name="responses")
    answers = models.JSONField(default=dict)
    submitted_at = models.DateTimeField(default=timezone.now)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    fitzpatrick_type = models.PositiveSmallIntegerField(null=True, blank=True)
    answered_by = models.CharField(
        max_length=20,
        choices=GuardianRole.choices,
        blank=True,
        help_text="Empty when the client answered; their parent or legal guardian for a client under the "
        "age of majority who did not answer themselves.",
    )

    class Meta:
        ordering = ["client_id", "-submitted_at", "-id"]
        get_latest_by = "submitted_at"
        constraints = [
            models.CheckConstraint(
                condition=Q(answered_by="") | Q(answered_by__in=GuardianRole.values),
                name="intake_answered_by_known",
            ),
            models.CheckConstraint(
                condition=Q(fitzpatrick_type__isnull=True)
                | Q(fitzpatrick_type__gte=1, fitzpatrick_type__lte=6),
                name="intake_fitzpatrick_1_6",
            ),
        ]

    def __str__(self):
        return f"{self.client} intake {self.submitted_at:%Y-%m-%d}"


class ClientCondition(models.Model):
    """A condition an intake answer recorded (e.g. 'isotretinoin' with the date of the last dose)."""

    response = models.ForeignKey(IntakeResponse, on_delete=models.CASCADE, related_name="conditions")
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="conditions")
    code = models.SlugField(max_length=60)
    noted_on = models.DateField(null=True, blank=True, help_text="When it happened or was last true.")
    details = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["client_id", "code", "id"]
        indexes = [models.Index(fields=["client", "code"], name="condition_client_code")]
        constraints = [
            models.UniqueConstraint(fields=["response", "code"], name="condition_once_per_response"),
        ]

    def __str__(self):
        return self.code


class ConsentTemplate(models.Model):
    """One version of the consent text for a modality; a version in use is never edited."""

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="consent_templates")
    modality = models.CharField(max_length=20, choices=Modality.choices)
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    body = models.TextField(
        help_text="Procedure, benefit, risks, alternatives, aftercare, right to withdraw."
    )
    is_current = models.BooleanField(default=False)
    published_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["clinic_id", "modality", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "modality", "version"],
                name="consent_version_unique",
                violation_error_message=(
                    "There is already a consent of this version for this modality: give the new one the "
                    "next number."
                ),
            ),
            models.UniqueConstraint(
                fields=["clinic", "modality"],
                condition=Q(is_current=True),
                name="consent_one_current_per_modality",
                violation_error_message=(
                    "Another version of this consent is current. Save this one without ticking it, then "
                    "choose it in the list and make it the current version."
                ),
            ),
            models.CheckConstraint(
                condition=~Q(body=""),
                name="consent_body_required",
                violation_error_message="A consent needs the text the client signs.",
            ),
        ]

    def __str__(self):
        return f"{self.title} v{self.version}"


def sha256_hex(text: str) -> str:
    """Return the hex SHA-256 of the text as UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class SignedConsent(models.Model):
    """What a client signed, exactly as they saw it. A database trigger refuses any UPDATE."""

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="signed_consents")
    template = models.ForeignKey(ConsentTemplate, on_delete=models.PROTECT, related_name="signatures")
    modality = models.CharField(max_length=20, choices=Modality.choices)
    version = models.PositiveIntegerField()
    signed_text = models.TextField()
    signed_text_sha256 = models.CharField(max_length=64)
    signature_name = models.CharField(
        max_length=200, help_text="The name typed to sign: the client's, or their parent's or guardian's."
    )
    signed_as = models.CharField(
        max_length=20,
        choices=GuardianRole.choices,
        blank=True,
        help_text="Empty when the client signed; who signed for a client under the age of majority.",
    )
    signed_at = models.DateTimeField(default=timezone.now)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["client_id", "-signed_at", "-id"]
        get_latest_by = "signed_at"
        constraints = [
            models.CheckConstraint(condition=~Q(signed_text=""), name="signed_consent_text_required"),
            models.CheckConstraint(condition=~Q(signature_name=""), name="signed_consent_signature_required"),
            models.CheckConstraint(
                condition=Q(signed_text_sha256__regex=r"^[0-9a-f]{64}$"), name="signed_consent_hash_hex"
            ),
            models.CheckConstraint(
                condition=Q(signed_as="") | Q(signed_as__in=GuardianRole.values),
                name="signed_consent_signer_known",
            ),
        ]

    def __str__(self):
        return f"{self.client} consent {self.modality} v{self.version}"


class CountersignatureRole(models.TextChoices):
    PRACTITIONER = "practitioner", "Practitioner"
    WITNESS = "witness", "Witness"


def countersignature_statement(role: str, consent: "SignedConsent") -> str:
    """The words a member of staff signs on a client's consent, kept with their signature: with the
    client, and with the parent or guardian who signed for a client under the age of majority."""
    signers = consent.client.full_name
    if consent.signed_as:
        signers += f" and {consent.signature_name}, their {consent.get_signed_as_display().lower()},"
    if role == CountersignatureRole.PRACTITIONER:
        return (
            f"I went through this consent with {signers.rstrip(',')}: the procedure, its benefits, risks "
            "and alternatives, and the aftercare. I answered their questions, and I believe they understand "
            "it and agree freely."
        )
    return f"{signers} confirmed to me in person that they read this consent and signed it."


class ConsentCountersignature(models.Model):
    """A member of staff's signature on a client's signed consent, where the clinic asks for one: the
    practitioner's, or a witness's. A database trigger refuses any UPDATE."""

    consent = models.ForeignKey(SignedConsent, on_delete=models.PROTECT, related_name="countersignatures")
    role = models.CharField(max_length=20, choices=CountersignatureRole.choices)
    signed_by = models.ForeignKey(StaffMember, on_delete=models.PROTECT, related_name="countersignatures")
    signer_name = models.CharField(max_length=120, help_text="Their name as it was when they signed.")
    statement = models.TextField(help_text="The words they signed.")
    signed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["consent_id", "signed_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["consent", "role"], name="countersigned_once_per_role"),
            models.CheckConstraint(
                condition=Q(role__in=CountersignatureRole.values), name="countersignature_role_known"
            ),
            models.CheckConstraint(
                condition=~Q(statement="") & ~Q(signer_name=""), name="countersignature_words_required"
            ),
        ]

    def __str__(self):
        return f"{self.get_role_display()} {self.signer_name} on {self.consent}"


class WithdrawalChannel(models.TextChoices):
    IN_PERSON = "in_person", "In person"
    PHONE = "phone", "By phone"
    EMAIL = "email", "By email"
    LETTER = "letter", "In writing"
    OWN_LINK = "own_link", "From their own link"  # the client themselves; no staff member records it


# How the desk may say a client told the clinic (the client's own link records itself).
TOLD_THE_CLINIC = [choice for choice in WithdrawalChannel.choices if choice[0] != WithdrawalChannel.OWN_LINK]


class ConsentEndedBecause(models.TextChoices):
    """Why a client's consent to a treatment stopped counting (DOMAIN.md: they may withdraw it at any
    time; they consent again when the plan changes)."""

    CLIENT_WITHDREW = "withdrawn", "The client withdrew it"
    PLAN_CHANGED = "plan_changed", "The plan changed"


class ConsentWithdrawal(models.Model):
    """A client's consent to a treatment stopped counting: they withdrew it, or their practitioner
    changed the plan it was given for and asks them to consent again. No consent to it they signed
    before counts any more, and they are treated again only once they sign again. A database trigger
    refuses any UPDATE."""

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="consent_withdrawals")
    modality = models.CharField(max_length=20, choices=Modality.choices)
    withdrawn_at = models.DateTimeField(default=timezone.now)
    because = models.CharField(
        max_length=20, choices=ConsentEndedBecause.choices, default=ConsentEndedBecause.CLIENT_WITHDREW
    )
    told = models.CharField(
        "How the client said so",
        max_length=20,
        choices=WithdrawalChannel.choices,
        blank=True,
        help_text="When the client withdrew it; empty when the practitioner asks again.",
    )
    note = models.CharField(
        max_length=500,
        blank=True,
        help_text="What the client said, if they gave a reason; what changed in the plan, which the client "
        "reads when they sign again.",
    )
    recorded_by = models.ForeignKey(
        StaffMember,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty when the client withdrew it themselves, from their own link.",
    )

    class Meta:
        ordering = ["client_id", "modality", "withdrawn_at", "id"]
        indexes = [models.Index(fields=["client", "modality"], name="withdrawal_client_modality")]
        constraints = [
            models.CheckConstraint(
                condition=Q(because=ConsentEndedBecause.CLIENT_WITHDREW, told__in=WithdrawalChannel.values)
                | Q(because=ConsentEndedBecause.PLAN_CHANGED, told=""),
                name="withdrawal_channel_known",
            ),
            models.CheckConstraint(
                condition=~Q(because=ConsentEndedBecause.PLAN_CHANGED) | ~Q(note=""),
                name="plan_change_says_what_changed",
            ),
            # a staff member records it, but for the client's own withdrawal from their link
            models.CheckConstraint(
                condition=Q(recorded_by__isnull=False, told__in=[c for c, _ in TOLD_THE_CLINIC] + [""])
                | Q(recorded_by__isnull=True, told=WithdrawalChannel.OWN_LINK),
                name="withdrawal_recorded_by_staff_or_client",
            ),
        ]

    def __str__(self):
        if self.because == ConsentEndedBecause.PLAN_CHANGED:
            return f"{self.client}: {self.modality} plan changed, consent asked again"
        return f"{self.client} withdrew {self.modality} consent"

    @property
    def plan_changed(self) -> bool:
        return self.because == ConsentEndedBecause.PLAN_CHANGED


class PhotoConsentScope(models.TextChoices):
    CLINICAL = "clinical", "Clinical record"
    TEACHING = "teaching", "Teaching"
    MARKETING = "marketing", "Marketing"


# What the client agrees to for each scope, kept word for word with their signature.
PHOTO_CONSENT_TEXTS = {
    PhotoConsentScope.CLINICAL: (
        "I agree that the clinic may photograph the treated areas before, during and after my treatments, "
        "and keep the photos in my clinical record, seen only by the staff who treat me. They are not "
        "shown to anyone else or used for anything else. I may withdraw this at any time; photos already "
        "taken stay in my record."
    ),
    PhotoConsentScope.TEACHING: (
        "I agree that photos from my clinical record may be shown, without my name, to train the "
        "clinic's practitioners. I may withdraw this at any time."
    ),
    PhotoConsentScope.MARKETING: (
        "I agree that photos from my clinical record may be used in the clinic's publicity (website, "
        "social media, leaflets). I may withdraw this at any time; it stops new uses, not ones already "
        "printed."
    ),
}


class PhotoConsent(models.Model):
    """Consent to photos for one scope; revocable, so revocation is its own timestamp."""

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="photo_consents")
    scope = models.CharField(max_length=20, choices=PhotoConsentScope.choices)
    signed_text = models.TextField()
    signature_name = models.CharField(max_length=200)
    signed_as = models.CharField(
        max_length=20,
        choices=GuardianRole.choices,
        blank=True,
        help_text="Empty when the client signed; who signed for a client under the age of majority.",
    )
    granted_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["client_id", "scope", "-granted_at"]
        constraints = [
            models.CheckConstraint(condition=~Q(signature_name=""), name="photo_consent_signature_required"),
            models.CheckConstraint(
                condition=Q(signed_as="") | Q(signed_as__in=GuardianRole.values),
                name="photo_consent_signer_known",
            ),
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True) | Q(revoked_at__gte=models.F("granted_at")),
                name="photo_consent_revoked_after_granted",
            ),
        ]

    def __str__(self):
        return f"{self.client} photos: {self.scope}"


class ClientMerge(models.Model):
    """Two records of one person made one: what the merged record said, and who merged it when.

    The merged record is deleted once everything it held (visits, forms, records, messages) points to
    the kept one; this row keeps its details for the audit trail and lets its old links and pages find
    the kept record. Should the kept record itself be merged later, this row follows it there.

    It also keeps which rows moved and what the kept record said before, so that a merge of two people
    taken for one can be undone (`clients.merging.client_merge_undo`): the row stays, with `undone_at`.
    """

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="client_merges")
    kept = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="merged_records")
    merged_client_id = models.PositiveIntegerField(help_text="The id the merged record had.")
    merged_name = models.CharField(max_length=201)
    merged_details = models.JSONField(help_text="The merged record's details as they were.")
    moved = models.JSONField(default=dict, help_text="How many of each kind of row moved.")
    moved_rows = models.JSONField(
        default=dict, help_text='The rows that moved, to move back: {"app.Model.field": [ids]}.'
    )
    kept_details = models.JSONField(
        default=dict, help_text="The kept record's id, and its details before and after the merge."
    )
    cancelled_messages = models.JSONField(
        default=list, help_text="The emails the merge cancelled (the client unsubscribed on one record)."
    )
    merged_at = models.DateTimeField(default=timezone.now)
    merged_by = models.ForeignKey(StaffMember, on_delete=models.SET_NULL, null=True, related_name="+")
    undone_at = models.DateTimeField(
        null=True, blank=True, help_text="Set when the two records were found to be two people."
    )
    undone_by = models.ForeignKey(
        StaffMember, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-merged_at", "-id"]
        constraints = [
            # An undone merge's record is back, and may be merged again (into the same or another).
            models.UniqueConstraint(
                fields=["merged_client_id"], condition=Q(undone_at__isnull=True), name="client_merged_once"
            ),
            models.CheckConstraint(
                condition=Q(undone_at__isnull=True) | Q(undone_at__gte=models.F("merged_at")),
                name="client_merge_undone_after_it",
            ),
            models.CheckConstraint(
                condition=~Q(merged_client_id=models.F("kept")), name="client_merge_keeps_another"
            ),
        ]

    def __str__(self):
        return f"{self.merged_name} merged into {self.kept}"


class DistinctClients(models.Model):
    """Staff said two records that look alike (same email, phone, or name and birthday) are two people:
    twins sharing a family email, a parent and child on one phone. They are not offered as duplicates
    again. The pair is kept in id order, once."""

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="+")
    first = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+")
    second = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+")
    noted_at = models.DateTimeField(default=timezone.now)
    noted_by = models.ForeignKey(StaffMember, on_delete=models.SET_NULL, null=True, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["first", "second"], name="distinct_clients_once"),
            models.CheckConstraint(
                condition=Q(first__lt=models.F("second")), name="distinct_clients_in_id_order"
            ),
        ]

    def __str__(self):
        return f"{self.first} is not {self.second}"


class HealthDataRead(models.TextChoices):
    INTAKE_AND_CONSENT = "intake_and_consent", "Intake answers and signed consents"
    VISIT_INTAKE = "visit_intake", "Intake summary on a visit's page"
    TREATMENT_HISTORY = "treatment_history", "Treatment history on their page"
    TREATMENT_RECORD = "treatment_record", "A treatment record"
    PHOTO = "photo", "A treatment photo"
    EXPORT = "export", "An export (FHIR)"
    LOT_RECALL = "lot_recall", "Named among those given a product lot (a recall)"


class HealthDataAccess(models.Model):
    """A staff member opened a client's health data: who, what, when (`clients.access_log`).

    Written as the page or export is served, at most once per reader, client and kind of data in each
    half hour of the clock (`period`; reading a record while writing it is one access, not forty): one
    INSERT that a unique constraint lets through or not. It follows a merge of the client's records,
    as every row about them does.
    """

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="+")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="health_data_accesses")
    staff_member = models.ForeignKey(StaffMember, on_delete=models.PROTECT, related_name="+")
    what = models.CharField(max_length=30, choices=HealthDataRead.choices)
    at = models.DateTimeField(default=timezone.now)
    # the half hour of the clock `at` falls in: one row per reader, client, kind of data and period
    period = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["client", "at"], name="health_data_access_client_at")]
        constraints = [
            models.CheckConstraint(
                condition=Q(what__in=HealthDataRead.values), name="health_data_access_what_known"
            ),
            models.UniqueConstraint(
                fields=["client", "staff_member", "what", "period"], name="health_data_access_once_a_period"
            ),
        ]

    def __str__(self):
        return f"{self.staff_member} read {self.what} of client {self.client_id} at {self.at:%Y-%m-%d %H:%M}"


class ClientImportStatus(models.TextChoices):
    READ = "read", "Read, not imported yet"
    BOOKING = "booking", "Being booked"  # a file of visits, booked by a worker (treatments.visit_imports)
    IMPORTED = "imported", "Imported"
    DISCARDED = "discarded", "Put aside"


# an import's file is kept while it is read and not imported, and while its visits are being booked
FILE_KEPT = [ClientImportStatus.READ, ClientImportStatus.BOOKING]


class ImportKind(models.TextChoices):
    """What a file brought from other software holds."""

    CLIENTS = "clients", "Clients"
    VISITS = "visits", "Visits still ahead"


class DateOrder(models.TextChoices):
    """How the old software wrote a date like 03/04/1985."""

    DAY_FIRST = "dmy", "day/month/year (03/04/1985 is 3 April)"
    MONTH_FIRST = "mdy", "month/day/year (03/04/1985 is March 4)"


class ClientImport(models.Model):
    """A CSV file of the clients a clinic had in the software it used before, or of their visits still
    ahead there, read, checked and imported once (`clients.imports`, `treatments.visit_imports`).

    The file's text is kept only until it is imported or put aside (a file left unimported is put aside
    after a week); then `left_out` keeps the rows not imported (already a client, the same person twice,
    or refused) with why, to fix and import again, for 90 days.
    """

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=ImportKind.choices, default=ImportKind.CLIENTS)
    file_name = models.CharField(max_length=200)
    uploaded_by = models.ForeignKey(StaffMember, on_delete=models.SET_NULL, null=True, related_name="+")
    uploaded_at = models.DateTimeField(default=timezone.now)
    text = models.TextField(blank=True)
    delimiter = models.CharField(max_length=1, default=",")
    # the file's first line, and for each of its columns the client's detail it holds ("" for none)
    columns = models.JSONField(default=list)
    mapping = models.JSONField(default=list)
    date_order = models.CharField(max_length=3, choices=DateOrder.choices, default=DateOrder.DAY_FIRST)
    # visits: which service and practitioner here a name in the file is, where the manager said so
    # ({"service": {"Microneedling - face": 3}, "practitioner": {…}}), and whether clients are emailed
    # their visit's confirmation (reminders go either way)
    names_chosen = models.JSONField(default=dict, blank=True)
    confirmations_sent = models.BooleanField(default=False)
    # when the manager asked for a file of visits to be booked (by `done_by`), which a worker does
    queued_at = models.DateTimeField(null=True, blank=True)
    # the lines of a file of visits booked so far (a worker books them a batch at a time)
    booked_lines = models.JSONField(default=list, blank=True)
    status = models.CharField(
        max_length=10, choices=ClientImportStatus.choices, default=ClientImportStatus.READ
    )
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        StaffMember, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    imported_count = models.PositiveIntegerField(default=0)
    # the rows not imported, with why; forgotten after a while (`imports.imports_forget_old`), counted still
    left_out = models.JSONField(default=list, blank=True)
    left_out_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ClientImportStatus.values), name="client_import_status_known"
            ),
            models.CheckConstraint(condition=Q(kind__in=ImportKind.values), name="client_import_kind_known"),
            models.CheckConstraint(
                condition=Q(status__in=FILE_KEPT, done_at__isnull=True)
                | (~Q(status__in=FILE_KEPT) & Q(done_at__isnull=False, text="")),
                name="client_import_text_kept_until_done",
                violation_error_message="An import done or put aside keeps no file.",
            ),
        ]

    def __str__(self):
        return f"{self.file_name} ({self.get_status_display().lower()})"
