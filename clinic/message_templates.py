"""The wording of emails: a clinic's own templates, edited by its managers, or the defaults.

Defaults live under templates/email/<key>/{subject.txt, body.txt, body.html}; a MessageTemplate
row for the clinic and key replaces all three. Both are Django templates rendered with the
message's context; plain text is rendered without HTML escaping, HTML with it.

A body may mark its own part with `{% block section %}…{% endblock %}`: one email made of several
parts (a visit with two treatments gets one aftercare email a day, not two) renders each part's
section inside its own wording (greeting and footer once), and the part's full email when it stands
alone. A wording shipped with a section keeps it when a manager edits it.
"""

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.template import Context, TemplateDoesNotExist, TemplateSyntaxError, engines
from django.template.defaultfilters import linebreaksbr
from django.template.loader import get_template
from django.template.loader_tags import BlockNode
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from clinic.errors import ClinicError
from clinic.models import SUBJECT_TEMPLATE_MAX, Clinic, MessageTemplate, StaffMember
from clinic.permissions import require_manager_of

DEFAULTS_FOLDER = "email"
SECTION_BLOCK = "section"
SECTION_TAGS = "{% block section %} … {% endblock %}"
slug_re = re.compile(r"[a-z0-9][a-z0-9_-]{0,79}")


@dataclass(frozen=True)
class Wording:
    """Template sources for one kind of message."""

    subject: str
    body_text: str
    body_html: str = ""


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    body_text: str
    body_html: str


def _source(name: str) -> str:
    return get_template(name).template.source


def default_wording(key: str) -> Wording:
    """Return the wording shipped with the application; TemplateDoesNotExist if there is none."""
    folder = f"{DEFAULTS_FOLDER}/{key}"
    try:
        html = _source(f"{folder}/body.html")
    except TemplateDoesNotExist:
        html = ""
    return Wording(
        subject=_source(f"{folder}/subject.txt"), body_text=_source(f"{folder}/body.txt"), body_html=html
    )


def default_keys() -> list[str]:
    """Return the keys that have shipped wording (booking mail, form requests, default aftercare)."""
    keys = set()
    for folder in settings.TEMPLATES[0]["DIRS"]:
        root = Path(folder) / DEFAULTS_FOLDER
        keys.update(p.parent.name for p in root.glob("*/subject.txt"))
    return sorted(keys - {"outbox_test"})


def wording_for(*, clinic_id: int, key: str, overrides: dict | None = None) -> Wording:
    """Return the clinic's wording for `key`, else the default.

    `overrides` maps (clinic_id, key) to MessageTemplate rows already read (a delivery batch reads
    them once); without it, one query.
    """
    if overrides is None:
        row = MessageTemplate.objects.filter(clinic_id=clinic_id, key=key).first()
    else:
        row = overrides.get((clinic_id, key))
    if row is not None:
        return Wording(subject=row.subject, body_text=row.body_text, body_html=row.body_html)
    return default_wording(key)


def overrides_for(pairs: set[tuple[int, str]]) -> dict[tuple[int, str], MessageTemplate]:
    """Read the clinic wording for many (clinic_id, key) pairs in one query."""
    if not pairs:
        return {}
    rows = MessageTemplate.objects.filter(clinic_id__in={c for c, _ in pairs}, key__in={k for _, k in pairs})
    return {(row.clinic_id, row.key): row for row in rows}


@functools.lru_cache(maxsize=512)
def _compile(source: str, *, html: bool):
    """Compile a template source once per process (a batch renders the same few many times)."""
    wrapped = source if html else "{% autoescape off %}" + source + "{% endautoescape %}"
    return engines["django"].from_string(wrapped)


def render_wording(wording: Wording, context: dict) -> RenderedMessage:
    """Render subject (one line), text and HTML with the context."""
    subject = " ".join(_compile(wording.subject, html=False).render(context).split())
    text = _compile(wording.body_text, html=False).render(context)
    html = _compile(wording.body_html, html=True).render(context) if wording.body_html.strip() else ""
    return RenderedMessage(subject=subject, body_text=text, body_html=html)


def _section_node(compiled) -> BlockNode | None:
    for node in compiled.template.nodelist.get_nodes_by_type(BlockNode):
        if node.name == SECTION_BLOCK:
            return node
    return None


def has_section(source: str, *, html: bool) -> bool:
    """Say whether a body marks its section (a template that does not compile has none)."""
    try:
        return _section_node(_compile(source, html=html)) is not None
    except TemplateSyntaxError:
        return False


def _render_section(source: str, context: dict, *, html: bool) -> str:
    """Render the body's section alone, else the whole body; stripped of surrounding blank lines."""
    compiled = _compile(source, html=html)
    node = _section_node(compiled)
    if node is None:
        return compiled.render(context).strip()
    bound = Context(context, autoescape=html)
    with bound.bind_template(compiled.template):
        return node.render(bound).strip()


def render_parts(parts: list[dict], base_context: dict, wording_of: Callable[[str], Wording]) -> list[dict]:
    """Render each part ({"key", "title", "context"}) as its wording's section, text and HTML.

    A part's HTML is that of its own wording (escaped when rendered), or its text in a paragraph
    when the wording has no HTML body.
    """
    rendered = []
    for part in parts:
        wording = wording_of(part["key"])
        context = {**base_context, **part.get("context", {})}
        text = _render_section(wording.body_text, context, html=False)
        if wording.body_html.strip():
            html = _render_section(wording.body_html, context, html=True)
        else:
            html = format_html("<p>{}</p>", linebreaksbr(text))
        rendered.append({"title": part.get("title", ""), "text": text, "html": mark_safe(html)})
    return rendered


def wording_errors(wording: Wording, sample_context: dict) -> dict[str, str]:
    """Return, per field, what stops the wording from rendering, in words a manager can act on."""
    errors = {}
    for field, html in (("subject", False), ("body_text", False), ("body_html", True)):
        source = getattr(wording, field)
        try:
            _compile(source, html=html).render(sample_context)
        except TemplateSyntaxError as error:
            errors[field] = f"This template has a mistake: {error}"
        except Exception as error:  # noqa: BLE001 (a tag or filter failing on the sample: still the wording's fault)
            errors[field] = f"This template fails when filled in: {error}"
    return errors


# What a preview and a check of a manager's wording render with: every name the shipped
# templates use, with believable values.
SAMPLE_CONTEXT = {
    "client_first_name": "Olivia",
    "recipient_name": "Olivia Smith",
    "service_name": "Microneedling facial",
    "price": "£120",
    "practitioner_name": "Dr Amara Lee",
    "local_start": "Monday 7 December 2026 at 10:00",
    "zone_name": "Europe/London",
    "zone_abbreviation": "GMT",
    "manage_url": "https://clinic.example/p/manage/sample/",
    "visits_url": "https://clinic.example/p/visits/sample/",
    "cancellation_window_hours": 24,
    "missed_visit_fee": "£25",
    "protocol_name": "Microneedling",
    "session_date": "Monday 7 December 2026",
    "deepest_needle_mm": "1.5",
    "areas": ["Cheeks", "Forehead"],
    "products": [
        {"name": "Hyaluronic cocktail", "lot_number": "HA-2291", "volume_ml": "1.50", "area": "Cheeks"}
    ],
    "rebook_url": "https://clinic.example/p/lumen/",
    "unsubscribe_url": "https://clinic.example/clients/u/sample/",
    "news_subject": "Our new LED treatment",
    "news_text": "From January we offer LED light therapy after microneedling.\n\nAsk us at your next visit.",
    "forms_url": "https://clinic.example/clients/forms/sample/",
    "forms_needed": ["Health questionnaire", "Microneedling consent"],
    "note": "A test note.",
    "waiting_for": "Microneedling facial, Thu 3 Dec to Fri 11 Dec, starting 14:00–17:00",
    "times": [
        "Thursday 3 December at 14:30 with Dr Amara Lee",
        "Friday 4 December at 15:00 with Dr Amara Lee",
    ],
    "more_times": 0,
    "waitlist_url": "https://clinic.example/p/waitlist/sample/",
    "change": "moved",
    "client_initials": "O. S.",
    "client_left_note": True,
    "late_minutes": 20,
    "feedback_url": "https://clinic.example/p/feedback/sample/",
    "expected_local_time": "14:20",
    "was_local_start": "Friday 4 December 2026 at 15:00",
    "was_practitioner_name": "",
    "visit_url": "https://clinic.example/appointments/42/",
    "settings_url": "https://clinic.example/my-calendar/",
    "username": "jo.carter",
    "password_link_url": "https://clinic.example/accounts/password/link/MQ/sample/",
    "link_minutes": 60,
    "moving_from": "",
    "client_name": "Olivia Smith",
    "use": "marketing",
    "treatment": "microneedling",
    "withdrawn_at": "Monday 7 December 2026 at 09:40",
    "client_page_url": "https://clinic.example/clients/42/",
    "signed_at": "Monday 7 December 2026 at 09:40",
    "intake_title": "Health questionnaire",
    "intake_version": 3,
    "consents": [
        {
            "title": "Microneedling consent",
            "version": 2,
            "text": "I understand that microneedling makes many small punctures in the skin …",
            "sha256": "9f2c0d6e…",
            "signed_by": "Olivia Smith",
            "signed_as": "",
        }
    ],
    "photo_uses": [
        {
            "label": "Clinical record",
            "text": "I agree that the clinic may photograph the treated areas …",
            "signed_by": "Olivia Smith",
        }
    ],
    "count": 3,
    "oldest_kept_until": "4 March 2025",
    "review_url": "https://clinic.example/manage/keeping/",
    "kept_years": 8,
    "product_name": "Hyaluronic cocktail",
    "lot_number": "HA-2291",
    "given_on": ["Monday 7 December 2026"],
    "clinic_words": "The maker found that some vials may not be sterile. Most people have no problem; if the "
    "treated skin is red, swollen or warm, please call us so we can see you.",
    "offset_days": 0,
    "is_refund": False,
    "amount": "£60",
    "method": "card",
    "reference": "004512",
    "reason": "",
    "visit_day": "Monday 7 December 2026 at 10:00",
    "owed": "£60",
    "receipt_number": "1-42",
    "sessions": [],
    "code": "K7PD-3QXM",
    "bought_by": "Sarah Smith",
    "for_whom": "Olivia Smith",
    "expires_on": "7 December 2027",
    "taken_on": "07/12/2026 09:55",
    "protocol_names": ["Microneedling", "Microcurrent"],
    "parts": [
        {
            "title": "Microneedling",
            "text": "For the next 24 hours, wash only with a gentle cleanser.",
            "html": mark_safe("<p>For the next 24 hours, wash only with a gentle cleanser.</p>"),
        },
        {
            "title": "Microcurrent",
            "text": "Drink plenty of water today.",
            "html": mark_safe("<p>Drink plenty of water today.</p>"),
        },
    ],
}


def sections_lost(key: str, wording: Wording) -> str:
    """Name the body that lost the section its shipped wording marks ('' when none did)."""
    try:
        shipped = default_wording(key)
    except TemplateDoesNotExist:
        return ""
    lost = []
    if has_section(shipped.body_text, html=False) and not has_section(wording.body_text, html=False):
        lost.append("plain text")
    if (
        wording.body_html.strip()
        and has_section(shipped.body_html, html=True)
        and not has_section(wording.body_html, html=True)
    ):
        lost.append("HTML")
    return " and the ".join(lost)


@transaction.atomic
def message_template_save(
    *, clinic: Clinic, key: str, subject: str, body_text: str, body_html: str, by: StaffMember
) -> MessageTemplate:
    """Store the clinic's wording for `key` after checking that it renders; ClinicError if not."""
    require_manager_of(clinic, by, to="change its emails")
    if not slug_re.fullmatch(key):
        raise ClinicError("A message name uses lower-case letters, digits, - and _ only.", code="bad_key")
    wording = Wording(subject=subject.strip(), body_text=body_text, body_html=body_html)
    if not wording.subject or not wording.body_text.strip():
        raise ClinicError("Both the subject and the plain-text body are needed.", code="empty_wording")
    if len(wording.subject) > SUBJECT_TEMPLATE_MAX:
        raise ClinicError(
            f"The subject is {len(wording.subject)} characters long, tags and all: make it at most "
            f"{SUBJECT_TEMPLATE_MAX}.",
            code="subject_too_long",
        )
    errors = wording_errors(wording, {**SAMPLE_CONTEXT, "clinic": clinic})
    if errors:
        raise ClinicError(" ".join(errors.values()), code="template_error")
    if lost := sections_lost(key, wording):
        raise ClinicError(
            f"Keep {SECTION_TAGS} around the advice in the {lost}: a visit with several treatments "
            "sends that part of this email inside one email for the day.",
            code="section_missing",
        )
    row, _ = MessageTemplate.objects.update_or_create(
        clinic=clinic,
        key=key,
        defaults={
            "subject": wording.subject,
            "body_text": wording.body_text,
            "body_html": wording.body_html,
            "updated_at": timezone.now(),
            "updated_by": by,
        },
    )
    return row


def message_template_restore_default(*, clinic: Clinic, key: str, by: StaffMember) -> None:
    """Drop the clinic's wording for `key`, so the shipped wording applies again."""
    require_manager_of(clinic, by, to="change its emails")
    MessageTemplate.objects.filter(clinic=clinic, key=key).delete()


# The combined aftercare email's test is made of two shipped aftercare messages' sections.
TEST_PARTS = [
    {"key": "aftercare_microneedling_day0", "title": "Microneedling"},
    {"key": "aftercare_microcurrent_day0", "title": "Microcurrent"},
]


def refuse_without_test_address(by: StaffMember) -> None:
    """Refuse a test email to someone whose sign-in has no address, saying how to get one."""
    if not by.user.email:
        raise ClinicError(
            "Your sign-in has no email address to send the test to: another manager gives it one on the "
            "staff page.",
            code="no_email",
        )


@transaction.atomic
def message_template_send_test(*, clinic: Clinic, key: str, by: StaffMember, now=None):
    """Email the manager the message `key` as the clinic's clients get it now (its saved wording, else
    the standard one) filled with the sample details, through the outbox like any message."""
    from clinic.outbox import outbox_enqueue  # the outbox renders with this module: imported when used

    require_manager_of(clinic, by, to="change its emails")
    refuse_without_test_address(by)
    if not MessageTemplate.objects.filter(clinic=clinic, key=key).exists():
        try:
            default_wording(key)
        except TemplateDoesNotExist:
            raise ClinicError(
                "Save this email's wording first, then send yourself a test.", code="no_wording"
            ) from None
    now = now or timezone.now()
    context = {name: value for name, value in SAMPLE_CONTEXT.items() if name != "parts"}
    if key == "aftercare_several_treatments":
        context["parts"] = TEST_PARTS
    return outbox_enqueue(
        clinic=clinic,
        recipient_email=by.user.email,
        recipient_name=by.display_name,
        template_key=key,
        dedupe_key=f"template-test:{clinic.pk}:{key}:{by.pk}:{now.isoformat()}",
        topic=f"template-test:{key}",
        context=context,
    )
