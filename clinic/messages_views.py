"""Managers' pages about email: the clinic's wording of each message, and the outbox."""

from django.contrib import messages
from django.db.models import Case, F, IntegerField, Value, When
from django.shortcuts import redirect, render
from django.template import TemplateDoesNotExist
from django.views.decorators.http import require_http_methods

from clinic.errors import ClinicError
from clinic.message_templates import (
    SAMPLE_CONTEXT,
    SECTION_TAGS,
    Wording,
    default_keys,
    default_wording,
    has_section,
    message_template_restore_default,
    message_template_save,
    message_template_send_test,
    render_wording,
    slug_re,
)
from clinic.models import MessageTemplate, OutboxMessage, OutboxStatus
from clinic.outbox import with_resend_refusals
from clinic.permissions import manager_required

OUTBOX_PAGE = 200
# Failures first: they need someone; then what is still to go; then the record of what went.
STATUS_ORDER = Case(
    When(status=OutboxStatus.FAILED, then=Value(0)),
    When(status=OutboxStatus.SENDING, then=Value(1)),
    When(status=OutboxStatus.PENDING, then=Value(2)),
    default=Value(3),
    output_field=IntegerField(),
)
# Within "still to go", the next to go out first; everything else newest first.
NEXT_TO_GO_FIRST = Case(When(status__in=[OutboxStatus.SENDING, OutboxStatus.PENDING], then=F("due_at")))


ONLY_MANAGERS = "Only a manager can change the clinic's emails or see its outbox."


@manager_required(ONLY_MANAGERS)
def message_template_list(request):
    """List every message the clinic sends, showing which use the clinic's own wording."""
    clinic = request.staff_member.clinic
    own = {row.key: row for row in MessageTemplate.objects.filter(clinic=clinic).select_related("updated_by")}
    keys = sorted(set(default_keys()) | set(own))
    rows = [{"key": key, "own": own.get(key)} for key in keys]
    return render(request, "clinic/message_templates.html", {"rows": rows})


@manager_required(ONLY_MANAGERS)
@require_http_methods(["GET", "POST"])
def message_template_edit(request, key):
    """Edit one message's subject, text and HTML, with a preview; or go back to the shipped wording."""
    manager = request.staff_member
    clinic = manager.clinic
    if not slug_re.fullmatch(key):
        messages.error(request, "A message name uses lower-case letters, digits, - and _ only.")
        return redirect("message-templates")
    own = MessageTemplate.objects.filter(clinic=clinic, key=key).first()
    try:
        shipped = default_wording(key)
    except TemplateDoesNotExist:  # a key of the clinic's own, with no shipped wording
        shipped = None
    if own:
        wording = Wording(subject=own.subject, body_text=own.body_text, body_html=own.body_html)
    else:
        wording = shipped or Wording(subject="", body_text="", body_html="")
    error = ""
    if request.method == "POST":
        if request.POST.get("action") == "restore":
            message_template_restore_default(clinic=clinic, key=key, by=manager)
            messages.success(request, f"“{key}” uses the standard wording again.")
            return redirect("message-template-edit", key=key)
        if request.POST.get("action") == "test":
            try:
                message_template_send_test(clinic=clinic, key=key, by=manager)
            except ClinicError as refusal:
                messages.error(request, refusal.message)
            else:
                messages.success(
                    request,
                    f"A test of “{key}”, as clients get it now, with sample details, is on its way to "
                    f"{manager.user.email}.",
                )
            return redirect("message-template-edit", key=key)
        wording = Wording(
            subject=request.POST.get("subject", ""),
            body_text=request.POST.get("body_text", ""),
            body_html=request.POST.get("body_html", ""),
        )
        try:
            message_template_save(
                clinic=clinic,
                key=key,
                subject=wording.subject,
                body_text=wording.body_text,
                body_html=wording.body_html,
                by=manager,
            )
        except ClinicError as refusal:
            error = refusal.message
        else:
            messages.success(request, f"Saved. New “{key}” emails use this wording.")
            return redirect("message-template-edit", key=key)
    preview = None
    if not error and wording.subject:
        preview = render_wording(wording, {**SAMPLE_CONTEXT, "clinic": clinic})
    return render(
        request,
        "clinic/message_template_edit.html",
        {
            "key": key,
            "wording": wording,
            "own": own,
            "has_default": shipped is not None,
            "section_tags": SECTION_TAGS,
            "shipped_with_section": bool(shipped) and has_section(shipped.body_text, html=False),
            "preview": preview,
            "error": error,
            "sample_names": sorted(SAMPLE_CONTEXT),
        },
        status=400 if error else 200,
    )


@manager_required(ONLY_MANAGERS)
def outbox_list(request):
    """The clinic's outbox, failures first; ?status= narrows it."""
    rows = OutboxMessage.objects.filter(clinic=request.staff_member.clinic)
    status = request.GET.get("status", "")
    if status in OutboxStatus.values:
        rows = rows.filter(status=status)
    rows = rows.annotate(status_order=STATUS_ORDER).order_by(
        "status_order", NEXT_TO_GO_FIRST.asc(nulls_last=True), "-due_at", "-id"
    )
    counts = {
        s: OutboxMessage.objects.filter(clinic=request.staff_member.clinic, status=s).count()
        for s in (OutboxStatus.FAILED, OutboxStatus.PENDING)
    }
    return render(
        request,
        "clinic/outbox.html",
        {
            "messages_shown": with_resend_refusals(rows[:OUTBOX_PAGE]),
            "status": status,
            "statuses": OutboxStatus.choices,
            "failed_count": counts[OutboxStatus.FAILED],
            "pending_count": counts[OutboxStatus.PENDING],
            "page_size": OUTBOX_PAGE,
        },
    )
