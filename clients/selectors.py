"""Reads of the clients layer."""

import datetime as dt
import re
from dataclasses import dataclass

from django.db.models import Exists, F, Max, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Replace
from django.utils import timezone

from clients.models import (
    GLOGAU_QUESTION,
    Client,
    ConsentCountersignature,
    ConsentTemplate,
    ConsentWithdrawal,
    CountersignatureRole,
    IntakeQuestionnaire,
    IntakeResponse,
    PhotoConsent,
    SignedConsent,
    countersignature_statement,
    fitzpatrick_numeral,
    glogau_numeral,
    sha256_hex,
)
from clinic.models import Clinic, OutboxMessage, OutboxStatus, StaffMember
from clinic.parsing import text_typed

# What people type between the digits of a phone number: "+44 7700-900.123", "(555) 010 2000".
PHONE_PUNCTUATION = " -().+/"


def phone_digits():
    """The stored phone with what people type between its digits taken out, in SQL."""
    digits = F("phone")
    for ch in PHONE_PUNCTUATION:
        digits = Replace(digits, Value(ch), Value(""))
    return digits


def clients_matching(*, clinic: Clinic, query: str) -> QuerySet[Client]:
    """Return the clinic's clients matching the query (see `search_clients`), by name."""
    return search_clients(Client.objects.filter(clinic=clinic, erased_at=None), query)


_DAY_MONTH_YEAR = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})")
_YEAR_MONTH_DAY = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")


def dates_written(word: str) -> set[dt.date]:
    """The dates a word may be, as a date of birth is typed: "1990-05-17", "17/05/1990", "17.5.1990",
    and month first as in the US ("05/17/1990"); "03/04/1985" may be either, and is both. Empty when
    it is no date."""
    if match := _YEAR_MONTH_DAY.fullmatch(word):
        orders = [(int(match[1]), int(match[2]), int(match[3]))]
    elif match := _DAY_MONTH_YEAR.fullmatch(word):
        first, second, year = int(match[1]), int(match[2]), int(match[3])
        orders = [(year, second, first), (year, first, second)]
    else:
        return set()
    found = set()
    for year, month, day in orders:
        try:
            found.add(dt.date(year, month, day))
        except ValueError:
            continue
    return found


def search_clients(clients: QuerySet[Client], query: str) -> QuerySet[Client]:
    """Narrow `clients` to those whose name, email or phone contain every word of the query, and
    whose date of birth is each word that is a date ("Smith 17/05/1990").

    A query that is a phone number (digits and the punctuation around them) matches the phone's
    digits however either was written: "07700 900123" finds "+44 7700 900123", "(555) 010-2000"
    finds "+1 555 010 2000". A NUL character is dropped (`clinic.parsing.text_typed`).
    """
    query = text_typed(query)
    if dates := dates_written(query.strip()):
        return clients.filter(date_of_birth__in=dates).order_by("last_name", "first_name", "id")
    digits = "".join(ch for ch in query if ch.isdigit())
    if len(digits) >= 3 and all(ch.isdigit() or ch in PHONE_PUNCTUATION for ch in query.strip()):
        # the national form ("07700…", "0044…") is the international one less its leading zeros
        numbers = {digits, digits.lstrip("0")} - {""}
        matches = Q(email__icontains=query.strip())
        for number in numbers:
            matches |= Q(phone_digits__contains=number)
        return (
            clients.alias(phone_digits=phone_digits())
            .filter(matches)
            .order_by("last_name", "first_name", "id")
        )
    for word in query.split():
        if dates := dates_written(word):
            clients = clients.filter(date_of_birth__in=dates)
            continue
        clients = clients.filter(
            Q(first_name__icontains=word)
            | Q(last_name__icontains=word)
            | Q(email__icontains=word)
            | Q(phone__icontains=word)
        )
    return clients.order_by("last_name", "first_name", "id")


def withdrawals_by_treatment(client_ids) -> dict[tuple[int, str], dt.datetime]:
    """When each client last withdrew their consent to each treatment: {(client id, modality): at}
    (one query). A consent signed before that no longer counts."""
    rows = (
        ConsentWithdrawal.objects.filter(client_id__in=list(client_ids))
        .values("client_id", "modality")
        .annotate(at=Max("withdrawn_at"))
        .values_list("client_id", "modality", "at")
    )
    return {(client_id, modality): at for client_id, modality, at in rows}


def consent_stands(consent: SignedConsent, withdrawn: dict[tuple[int, str], dt.datetime]) -> bool:
    """The consent was signed after any withdrawal of the client's consent to its treatment."""
    at = withdrawn.get((consent.client_id, consent.modality))
    return at is None or consent.signed_at > at


def withdrawal_ending(
    consent: SignedConsent, withdrawals: list[ConsentWithdrawal]
) -> ConsentWithdrawal | None:
    """The withdrawal that ended the consent: the first of its treatment at or after its signing (the
    client's withdrawals, oldest first); None while it stands."""
    return next(
        (w for w in withdrawals if w.modality == consent.modality and w.withdrawn_at >= consent.signed_at),
        None,
    )


def standing_consent_modalities(client: Client) -> set[str]:
    """The treatments the client has a consent to that they have not withdrawn (two queries)."""
    withdrawn = withdrawals_by_treatment([client.pk])
    return {c.modality for c in SignedConsent.objects.filter(client=client) if consent_stands(c, withdrawn)}


def latest_consent_endings(client: Client, modalities=None) -> dict[str, ConsentWithdrawal]:
    """The client's latest withdrawal or plan change of each treatment (of `modalities`, when given),
    with who recorded it: {modality: ending} (one query)."""
    endings = ConsentWithdrawal.objects.filter(client=client)
    if modalities is not None:
        endings = endings.filter(modality__in=list(modalities))
    latest: dict[str, ConsentWithdrawal] = {}
    for ending in endings.select_related("recorded_by").order_by("withdrawn_at", "id"):
        latest[ending.modality] = ending
    return latest


def plan_changes_to_sign(client: Client, modalities) -> dict[str, ConsentWithdrawal]:
    """For each treatment whose consent the client is asked again as the plan changed, and has not
    signed since, that request: what the client reads above the consent (two queries)."""
    latest_ending = latest_consent_endings(client, modalities)
    signed = dict(
        SignedConsent.objects.filter(client=client, modality__in=list(latest_ending))
        .values("modality")
        .annotate(latest=Max("signed_at"))
        .values_list("modality", "latest")
    )
    return {
        modality: ending
        for modality, ending in latest_ending.items()
        if ending.plan_changed and (signed.get(modality) is None or signed[modality] <= ending.withdrawn_at)
    }


def consents_to_ask_again(consents: list[SignedConsent], member: StaffMember | None) -> set[int]:
    """The consents `member` may ask the client to sign again as the plan changed (`consent_ask_again`'s
    rules): the latest of each treatment, still standing, that they are qualified for (a manager: any).
    `consents` newest first, each with its `withdrawal` (`client_health_forms`). One query at most."""
    if member is None or not (member.is_manager or member.is_practitioner):
        return set()
    latest: dict[str, SignedConsent] = {}
    for consent in consents:
        latest.setdefault(consent.modality, consent)
    standing = [c for c in latest.values() if c.withdrawal is None]
    if not standing or member.is_manager:
        return {c.pk for c in standing}
    qualified = set(member.qualifications.values_list("modality", flat=True))
    return {c.pk for c in standing if c.modality in qualified}


@dataclass(frozen=True)
class FormsNeeded:
    """What a client must fill or sign before a visit: the intake form and consent per modality."""

    intake: IntakeQuestionnaire | None
    consents: list[ConsentTemplate]

    def __bool__(self) -> bool:
        return self.intake is not None or bool(self.consents)

    @property
    def names(self) -> list[str]:
        return ([self.intake.title] if self.intake else []) + [c.title for c in self.consents]


def forms_needed(*, client: Client, modalities: set[str], at: dt.datetime) -> FormsNeeded:
    """Return the forms missing or stale for a visit at `at` (five queries whatever the history).

    Intake is stale once older than the clinic's validity; a consent when the clinic published a
    new version of it or it is older than the clinic's consent validity.
    """
    return forms_needed_for_visits(client.clinic, [(None, client.pk, modalities, at)])[None]


def forms_needed_for_visits(
    clinic: Clinic, visits: list[tuple[object, int, set[str], dt.datetime]]
) -> dict[object, FormsNeeded]:
    """`forms_needed` for many visits of one clinic at once: {key: FormsNeeded} for (key, client id,
    modalities, start) each. Five queries, however many visits and clients. A consent the client
    withdrew (`ConsentWithdrawal`) is missing until they sign again.
    """
    if not visits:
        return {}
    client_ids = {client_id for _, client_id, _, _ in visits}
    all_modalities = set().union(*(modalities for _, _, modalities, _ in visits))
    current_intake = IntakeQuestionnaire.objects.filter(clinic=clinic, is_current=True).first()
    latest_intake = dict(
        IntakeResponse.objects.filter(client_id__in=client_ids)
        .values("client_id")
        .annotate(latest=Max("submitted_at"))
        .values_list("client_id", "latest")
    )
    current_consents = list(
        ConsentTemplate.objects.filter(clinic=clinic, modality__in=all_modalities, is_current=True).order_by(
            "modality"
        )
    )
    consent_validity = dt.timedelta(days=clinic.consent_validity_days)
    signed: dict[int, list[tuple[str, int, dt.datetime]]] = {}
    for client_id, modality, version, signed_at in SignedConsent.objects.filter(
        client_id__in=client_ids,
        modality__in=all_modalities,
        signed_at__gte=min(at for _, _, _, at in visits) - consent_validity,
    ).values_list("client_id", "modality", "version", "signed_at"):
        signed.setdefault(client_id, []).append((modality, version, signed_at))
    # a withdrawal ends the consents signed before it, for the visits after it: a visit had before the
    # client withdrew was had with their consent (its record can still be written)
    withdrawals: dict[tuple[int, str], list[dt.datetime]] = {}
    for client_id, modality, withdrawn_at in (
        ConsentWithdrawal.objects.filter(client_id__in=client_ids, modality__in=all_modalities)
        .order_by("withdrawn_at")
        .values_list("client_id", "modality", "withdrawn_at")
    ):
        withdrawals.setdefault((client_id, modality), []).append(withdrawn_at)

    def stands(client_id, modality, signed_at, at) -> bool:
        before = [w for w in withdrawals.get((client_id, modality), []) if w <= at]
        return not before or signed_at > before[-1]

    intake_validity = dt.timedelta(days=clinic.intake_validity_days)
    needed = {}
    for key, client_id, modalities, at in visits:
        latest = latest_intake.get(client_id)
        intake = (
            current_intake
            if current_intake is not None and (latest is None or latest < at - intake_validity)
            else None
        )
        valid = {
            (m, v)
            for m, v, signed_at in signed.get(client_id, [])
            if signed_at >= at - consent_validity and stands(client_id, m, signed_at, at)
        }
        consents = [
            t for t in current_consents if t.modality in modalities and (t.modality, t.version) not in valid
        ]
        needed[key] = FormsNeeded(intake=intake, consents=consents)
    return needed


@dataclass(frozen=True)
class FormState:
    """Where a client stands with one of the clinic's current forms, said for the front desk."""

    title: str
    state: str  # "current", "stale" (too old or an older version), "missing"
    text: str  # "Filled 3 Nov 2026 (version 2)", "Signed version 1; version 2 is current", "Not signed"


def _day(instant: dt.datetime, zone) -> str:
    local = timezone.localtime(instant, zone)
    return f"{local.day} {local:%b %Y}"


def client_forms(client: Client, *, now: dt.datetime) -> list[FormState]:
    """The client's standing with the clinic's current intake form and each current consent.

    Stale as `forms_needed` counts it: intake older than the clinic's validity, a consent of an older
    version or older than the consent validity, or withdrawn. Five queries.
    """
    clinic = client.clinic
    states = []
    current_intake = IntakeQuestionnaire.objects.filter(clinic=clinic, is_current=True).first()
    if current_intake is not None:
        latest = (
            IntakeResponse.objects.filter(client=client)
            .select_related("questionnaire")
            .order_by("-submitted_at", "-id")
            .first()
        )
        if latest is None:
            states.append(FormState(current_intake.title, "missing", "Not filled yet"))
        else:
            filled = (
                f"Filled {_day(latest.submitted_at, clinic.zone)} (version {latest.questionnaire.version})"
            )
            too_old = latest.submitted_at < now - dt.timedelta(days=clinic.intake_validity_days)
            states.append(
                FormState(
                    current_intake.title,
                    "stale" if too_old else "current",
                    f"{filled}; older than {clinic.intake_validity_days} days, so asked again"
                    if too_old
                    else filled,
                )
            )
    signed = {}
    for consent in SignedConsent.objects.filter(client=client).order_by("signed_at", "id"):
        signed[consent.modality] = consent  # the latest of each modality
    ended = latest_consent_endings(client)
    withdrawn = {(client.pk, modality): ending.withdrawn_at for modality, ending in ended.items()}
    valid_after = now - dt.timedelta(days=clinic.consent_validity_days)
    for template in ConsentTemplate.objects.filter(clinic=clinic, is_current=True).order_by("modality"):
        latest = signed.get(template.modality)
        if latest is None:
            states.append(FormState(template.title, "missing", "Not signed"))
            continue
        if not consent_stands(latest, withdrawn):
            ending = ended[template.modality]
            on = _day(ending.withdrawn_at, clinic.zone)
            said = f"Asked again on {on} as the plan changed" if ending.plan_changed else f"Withdrawn on {on}"
            states.append(FormState(template.title, "missing", f"{said}; not signed since"))
            continue
        on = _day(latest.signed_at, clinic.zone)
        if latest.version != template.version:
            text, state = (
                f"Signed version {latest.version} on {on}; version {template.version} is current",
                "stale",
            )
        elif latest.signed_at < valid_after:
            text, state = (
                f"Signed {on}; older than {clinic.consent_validity_days} days, so asked again",
                "stale",
            )
        else:
            text, state = f"Signed {on} (version {latest.version})", "current"
        states.append(FormState(template.title, state, text))
    return states


@dataclass(frozen=True)
class IntakeAnswer:
    """One question of an intake and the client's answer to it, in words."""

    code: str
    question: str
    answer: str  # "Yes", "No", "4 Aug 2026", what they wrote; "" when left blank
    flagged: bool  # a yes or a date that recorded a condition the protocols' rules check
    kind: str  # yes_no, date, choice or text: a date left blank ("…, if any") gave none
    section: str = ""  # the heading the question comes under on the form, if any

    @property
    def said(self) -> str:
        """The answer as a change reads it: "None given", "Not answered" for a blank."""
        return self.answer or ("None given" if self.kind == "date" else "Not answered")


@dataclass(frozen=True)
class IntakeChange:
    """An answer that differs from the client's intake before: "Are you pregnant?" No → Yes."""

    question: str
    before: str
    after: str


def intake_answers(response: IntakeResponse) -> list[IntakeAnswer]:
    """Each question of the version the client answered, in its order, with their answer in words."""
    answers = []
    for question in response.questionnaire.questions:
        value = (response.answers.get(question["code"]) or "").strip()
        kind = question.get("kind", "text")
        words = value
        if kind == "yes_no" and value in ("yes", "no"):
            words = value.capitalize()
        elif kind == "date" and value:
            try:
                day = dt.date.fromisoformat(value)
            except ValueError:
                pass  # kept as the client gave it
            else:
                words = f"{day.day} {day:%b %Y}"
        flagged = bool(question.get("condition")) and value not in ("", "no")
        answers.append(
            IntakeAnswer(
                question["code"], question["text"], words, flagged, kind, question.get("section", "")
            )
        )
    return answers


@dataclass(frozen=True)
class IntakeReading:
    """One intake the client filled, read question by question."""

    response: IntakeResponse
    answers: list[IntakeAnswer]
    before: IntakeResponse | None  # the intake the client filled before this one, if any
    changes: list[IntakeChange]  # answers that differ from it, to questions both asked

    @property
    def flagged_answers(self) -> list[IntakeAnswer]:
        return [answer for answer in self.answers if answer.flagged]

    @property
    def skin_type(self) -> str:
        """The Fitzpatrick type as clinics write it ("IV"); empty if the client did not give it."""
        return fitzpatrick_numeral(self.response.fitzpatrick_type)

    @property
    def photoageing(self) -> str:
        """The Glogau type as clinics write it ("II"); empty if not asked or left blank."""
        return glogau_numeral(self.response.answers.get(GLOGAU_QUESTION) or "")


def intake_reading(response: IntakeResponse, before: IntakeResponse | None = None) -> IntakeReading:
    """The intake read question by question, and what changed since `before`, the one filled earlier."""
    answers = intake_answers(response)
    earlier = {a.code: a for a in intake_answers(before)} if before else {}
    changes = [
        IntakeChange(a.question, earlier[a.code].said, a.said)
        for a in answers
        if a.code in earlier and earlier[a.code].answer != a.answer
    ]
    return IntakeReading(response, answers, before, changes)


def latest_intake_reading(client: Client) -> IntakeReading | None:
    """The client's latest intake, read question by question, with what changed since the one before
    (one query)."""
    latest_two = list(
        IntakeResponse.objects.filter(client=client)
        .select_related("questionnaire")
        .order_by("-submitted_at", "-id")[:2]
    )
    return intake_reading(*latest_two) if latest_two else None


@dataclass(frozen=True)
class HealthForms:
    """What a client told the clinic and signed, for the practitioners who treat them."""

    intakes: list[IntakeResponse]  # newest first
    shown: IntakeReading | None  # the latest intake unless another was asked for
    # newest first; each with `text_intact` (it still matches its hash) and `withdrawal` (what ended it)
    consents: list[SignedConsent]
    photo_consents: list[PhotoConsent]  # every one given, withdrawn ones included, newest first

    @property
    def latest_shown(self) -> bool:
        return self.shown is not None and self.shown.response == self.intakes[0]


def client_health_forms(client: Client, *, intake_id: int | None = None) -> HealthForms:
    """Every intake the client filled, the answers of one, every consent they signed with the staff's
    signatures on it, and the withdrawals (five queries)."""
    intakes = list(
        IntakeResponse.objects.filter(client=client)
        .select_related("questionnaire")
        .order_by("-submitted_at", "-id")
    )
    at = next((i for i, r in enumerate(intakes) if r.pk == intake_id), 0)
    shown = intakes[at] if intakes else None
    before = intakes[at + 1] if at + 1 < len(intakes) else None
    consents = list(
        SignedConsent.objects.filter(client=client)
        .select_related("template")
        .prefetch_related("countersignatures")
        .order_by("-signed_at", "-id")
    )
    withdrawals = list(
        ConsentWithdrawal.objects.filter(client=client)
        .select_related("recorded_by")
        .order_by("withdrawn_at", "id")
    )
    for consent in consents:
        consent.text_intact = sha256_hex(consent.signed_text) == consent.signed_text_sha256
        consent.withdrawal = withdrawal_ending(consent, withdrawals)
    return HealthForms(
        intakes=intakes,
        shown=intake_reading(shown, before) if shown else None,
        consents=consents,
        photo_consents=list(PhotoConsent.objects.filter(client=client).order_by("-granted_at", "-id")),
    )


@dataclass(frozen=True)
class ConsentSignatures:
    """A consent a visit is treated under, the clinic's staff's signatures on it and those still missing."""

    consent: SignedConsent
    signatures: list[ConsentCountersignature]
    missing: list[str]  # CountersignatureRole values the clinic asks for and nobody has signed yet
    # what the staff member reading may sign now: (role, its label, the words they would sign)
    signable: list[tuple[str, str, str]]

    @property
    def missing_words(self) -> str:
        """What is still to sign, e.g. "the practitioner's signature and a witness's"."""
        words = {"practitioner": "the practitioner's signature", "witness": "a witness's signature"}
        return " and ".join(words[role] for role in self.missing)

    @property
    def missing_text(self) -> str:
        return f"{self.consent.template.title}: {self.missing_words}"


def roles_asked(clinic: Clinic) -> list[str]:
    """The staff signatures the clinic asks for on each consent, in signing order."""
    return [
        role
        for role, asked in (
            (CountersignatureRole.PRACTITIONER, clinic.consent_signed_by_practitioner),
            (CountersignatureRole.WITNESS, clinic.consent_witnessed),
        )
        if asked
    ]


def _may_sign(member: StaffMember | None, role: str, consent: SignedConsent, signatures, qualified) -> bool:
    """`consent_countersign`'s rules, to offer only the signatures the reader may give."""
    if member is None or any(c.signed_by_id == member.pk for c in signatures):
        return False  # one person does not sign as both
    return role == CountersignatureRole.WITNESS or consent.modality in qualified


def latest_standing_consents(client_ids, modalities) -> dict[tuple[int, str], SignedConsent]:
    """Each client's latest consent to each treatment, with the staff signatures on it, left out where
    they withdrew it since: {(client id, modality): consent} (three queries)."""
    latest: dict[tuple[int, str], SignedConsent] = {}
    consents = (
        SignedConsent.objects.filter(client_id__in=list(client_ids), modality__in=list(modalities))
        .select_related("template")
        .prefetch_related("countersignatures")
        .order_by("signed_at", "id")
    )
    for consent in consents:
        latest[(consent.client_id, consent.modality)] = consent
    withdrawn = withdrawals_by_treatment(client_ids)
    return {key: consent for key, consent in latest.items() if consent_stands(consent, withdrawn)}


def _roles_missing(consent: SignedConsent, roles: list[str]) -> list[str]:
    signed = {c.role for c in consent.countersignatures.all()}
    return [role for role in roles if role not in signed]


def consent_signatures(
    *, client: Client, modalities, member: StaffMember | None = None
) -> list[ConsentSignatures]:
    """For each of the treatments, the client's latest consent with the staff signatures on it, those
    the clinic still asks for, and those `member` may give (three queries at most; none when the clinic
    asks for no signature of its staff)."""
    roles = roles_asked(client.clinic)
    if not roles or not modalities:
        return []
    qualified = (
        set(member.qualifications.values_list("modality", flat=True))
        if member is not None and member.is_practitioner
        else set()
    )
    latest = latest_standing_consents([client.pk], modalities)  # withdrawn: none to sign
    result = []
    for _, consent in sorted(latest.items()):
        signatures = list(consent.countersignatures.all())
        missing = _roles_missing(consent, roles)
        signable = [
            (role, CountersignatureRole(role).label, countersignature_statement(role, consent))
            for role in missing
            if _may_sign(member, role, consent, signatures, qualified)
        ]
        result.append(ConsentSignatures(consent, signatures, missing, signable))
    return result


def staff_signatures_missing_for_visits(
    clinic: Clinic, visits: list[tuple[object, int, set[str]]]
) -> dict[object, list[str]]:
    """`consent_signatures`' missing ones for many visits at once: {key: ["Microneedling consent: the
    practitioner's signature", …]} for (key, client id, modalities) each, visits missing none left out.
    Three queries however many visits; none when the clinic asks for no signature of its staff."""
    roles = roles_asked(clinic)
    if not roles or not visits:
        return {}
    latest = latest_standing_consents(
        {client_id for _, client_id, _ in visits}, set().union(*(m for _, _, m in visits))
    )
    missing = {}
    for key, client_id, visit_modalities in visits:
        unsigned = []
        for modality in sorted(visit_modalities):
            consent = latest.get((client_id, modality))
            if consent is None:
                continue  # not signed by the client yet: "Forms missing" says so
            if still := _roles_missing(consent, roles):
                unsigned.append(ConsentSignatures(consent, [], still, []).missing_text)
        if unsigned:
            missing[key] = unsigned
    return missing


def standing_photo_consents(client: Client) -> QuerySet[PhotoConsent]:
    """The client's photo consents not withdrawn, one per use at most (`photo_consent_give` keeps it so)."""
    return PhotoConsent.objects.filter(client=client, revoked_at__isnull=True)


def photo_consent_current(client: Client, scope: str) -> PhotoConsent | None:
    """The client's photo consent for this use still standing, if any."""
    return standing_photo_consents(client).filter(scope=scope).order_by("-granted_at", "-id").first()


def refused_addresses(clients) -> dict[int, OutboxMessage]:
    """Return, per client id, the refusal of their current email address still standing (one query).

    An address stands refused when the client's mail server refused it for good (no such mailbox)
    and nothing sent to it since got through. Correcting the address ends it: the refusal was of
    the old one. The row's `last_error` gives the server's own words.
    """
    addresses = {client.pk: client.email.lower() for client in clients if client.email}
    if not addresses:
        return {}
    got_through_since = OutboxMessage.objects.filter(
        client_id=OuterRef("client_id"),
        recipient_email__iexact=OuterRef("recipient_email"),
        status=OutboxStatus.SENT,
        sent_at__gt=OuterRef("address_refused_at"),
    )
    refusals = (
        OutboxMessage.objects.filter(client_id__in=addresses, address_refused_at__isnull=False)
        .exclude(Exists(got_through_since))
        .only("id", "client_id", "recipient_email", "address_refused_at", "last_error")
        .order_by("client_id", "-address_refused_at", "-id")
    )
    standing: dict[int, OutboxMessage] = {}
    for refusal in refusals:
        of_current_address = refusal.recipient_email.lower() == addresses[refusal.client_id]
        if of_current_address and refusal.client_id not in standing:
            standing[refusal.client_id] = refusal
    return standing


def refused_address(client: Client) -> OutboxMessage | None:
    """Return the refusal of the client's current address still standing, if any (`refused_addresses`)."""
    return refused_addresses([client]).get(client.pk)


def refusal_said(refusal: OutboxMessage, zone) -> str:
    """Say which address its mail server refused, and on which day: "x@y was refused by its mail server
    on Tue 1 Dec" (the staff's own words come after)."""
    local = timezone.localtime(refusal.address_refused_at, zone)
    return f"{refusal.recipient_email} was refused by its mail server on {local:%a} {local.day} {local:%b}"
