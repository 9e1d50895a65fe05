"""Staff pages of the clients layer."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from clients.access_log import health_data_read
from clients.erasure import client_erase, erasure_outlook
from clients.forms import ClientDetailsForm
from clients.merging import held_said
from clients.models import Client, HealthDataRead, PhotoConsentScope, SignedConsent
from clients.selectors import (
    client_forms,
    client_health_forms,
    clients_matching,
    consent_signatures,
    consents_to_ask_again,
    refused_address,
)
from clients.services import (
    client_email_choices,
    client_update_details,
    consent_countersign,
    photo_consent_withdraw,
)
from clinic.errors import ClinicError
from clinic.models import OutboxMessage
from clinic.outbox import outbox_resend
from clinic.parsing import parse_id
from clinic.permissions import manager_required, may_read_health_data, staff_required
from clinic.redirects import redirect_back


@staff_required
def client_list(request):
    """List the clinic's clients, narrowed by ?q= over name, email and phone."""
    query = request.GET.get("q", "").strip()
    clients = clients_matching(clinic=request.staff_member.clinic, query=query)[:100]
    return render(request, "clients/client_list.html", {"clients": clients, "query": query})


@staff_required
@require_POST
def outbox_message_resend(request, pk):
    """Send a message again, to the client's current address; come back where the button was."""
    message = get_object_or_404(OutboxMessage, pk=pk, clinic=request.staff_member.clinic)
    client = Client.objects.filter(pk=message.client_id, clinic=message.clinic).first()
    try:
        if client and not message.is_essential and client.unsubscribed_at:
            raise ClinicError(
                f"{client.full_name} unsubscribed from optional emails; this one is not resent."
            )
        outbox_resend(message, recipient_email=client.email if client else message.recipient_email)
    except ClinicError as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, "Queued to send again now.")
    return redirect_back(request, "/")


@staff_required
@require_POST
def client_email_choices_view(request, pk):
    """Record what the client said, at the desk, of the optional emails: aftercare advice, the news."""
    client = get_object_or_404(Client, pk=pk, clinic=request.staff_member.clinic)
    try:
        changed = client_email_choices(
            client,
            aftercare=request.POST.get("aftercare") == "on",
            news=request.POST.get("news") == "on",
            how=f"Told {request.staff_member.display_name}",
        )
    except ClinicError as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(
            request, f"{client.first_name}: {', '.join(changed)}." if changed else "Nothing changed."
        )
    return redirect(reverse("client-detail", args=[pk]) + "#email-choices")


@staff_required
@require_http_methods(["GET", "POST"])
def client_edit(request, pk):
    """Correct a client's name, contact details or date of birth; their scheduled emails follow."""
    client = get_object_or_404(Client, pk=pk, clinic=request.staff_member.clinic)
    # The form checks a copy: the page's heading keeps the client's saved name while a typo is fixed.
    form = ClientDetailsForm(request.POST or None, instance=Client.objects.get(pk=client.pk))
    if request.method == "POST" and form.is_valid():
        refused = refused_address(client)
        moved = client_update_details(client=client, **form.changes())
        client.refresh_from_db()
        note = f"Saved {client.full_name}'s details."
        emails = f"{moved} scheduled email{'' if moved == 1 else 's'}"
        if moved:
            note += (
                f" {emails} will go to {client.email}."
                if client.email
                else f" {emails} cancelled: no email address."
            )
        if refused and client.email and client.email != refused.recipient_email.lower():
            note += f" What {refused.recipient_email} refused can be sent again to {client.email} below."
        messages.success(request, note)
        return redirect("client-detail", pk=client.pk)
    return render(request, "clients/client_edit.html", {"client": client, "form": form})


@staff_required
@require_POST
def photo_consent_withdraw_view(request, pk, scope):
    """Record that the client withdrew their consent to photos for one use (told at the desk or by phone)."""
    client = get_object_or_404(Client, pk=pk, clinic=request.staff_member.clinic)
    if scope not in PhotoConsentScope.values:
        messages.error(request, "That is not a use of photos the clinic asks consent for.")
    elif photo_consent_withdraw(client=client, scope=scope):
        label = PhotoConsentScope(scope).label.lower()
        messages.success(
            request, f"{client.full_name} withdrew consent to photos for: {label}. No new ones are taken."
        )
    else:
        messages.info(request, f"{client.full_name} had no standing consent to withdraw there.")
    return redirect("client-detail", pk=client.pk)


@staff_required
def client_intake_and_consent(request, pk):
    """What the client answered on their intake forms and the consents they signed, word for word.

    Health data: for the practitioners and managers. `?intake=<id>` reads an earlier intake.
    """
    client = get_object_or_404(Client, pk=pk, clinic=request.staff_member.clinic)
    if not may_read_health_data(request.staff_member):
        raise PermissionDenied(
            "Intake answers and signed consents are health data, for the clinic's practitioners and "
            f"managers. {client.full_name}'s page shows whether their forms are filled and signed."
        )
    health = client_health_forms(client, intake_id=parse_id(request.GET.get("intake")))
    health_data_read(request.staff_member, client.pk, HealthDataRead.INTAKE_AND_CONSENT)
    signing = consent_signatures(
        client=client, modalities={c.modality for c in health.consents}, member=request.staff_member
    )
    return render(
        request,
        "clients/intake_and_consent.html",
        {
            "client": client,
            "health": health,
            "standing": client_forms(client, now=timezone.now()),
            # the clinic's own signatures still missing on the latest consents, to give here
            "unsigned": [item for item in signing if item.missing],
            # the consents the reader may ask the client to sign again, as the plan changed
            "askable": consents_to_ask_again(health.consents, request.staff_member),
        },
    )


@staff_required
@require_POST
def consent_countersign_view(request, pk):
    """Sign a client's consent as the practitioner who went through it with them, or as a witness;
    come back where the button was (the visit's page, or the client's forms)."""
    consent = get_object_or_404(
        SignedConsent.objects.select_related("client", "template"),
        pk=pk,
        client__clinic=request.staff_member.clinic,
    )
    role = request.POST.get("role", "")
    try:
        signature = consent_countersign(
            consent=consent,
            role=role,
            by=request.staff_member,
            confirmed=request.POST.get("confirm") == "yes",
        )
    except ClinicError as refusal:
        messages.error(request, refusal.message)
    else:
        as_role = signature.get_role_display().lower()
        if signature.signed_by_id == request.staff_member.pk:
            messages.success(
                request,
                f"You signed {consent.client.full_name}'s {consent.template.title} (version "
                f"{consent.version}) as the {as_role}.",
            )
        else:
            messages.info(request, f"{signature.signer_name} had already signed it as the {as_role}.")
    return redirect_back(request, reverse("client-detail", args=[consent.client_id]))


@manager_required("Erasing a client's record is for a manager: ask one.")
@require_http_methods(["GET", "POST"])
def client_erase_view(request, pk):
    """Erase a client's record at their request: the page says what goes and what stays, or why it
    cannot be erased; a manager confirms the client asked."""
    client = get_object_or_404(Client, pk=pk, clinic=request.staff_member.clinic)
    if client.erased_at:
        return redirect("client-detail", pk=client.pk)
    error = ""
    if request.method == "POST":
        if request.POST.get("asked") != "yes":
            error = "Tick the box to confirm the client asked for their record to be erased."
        else:
            try:
                client_erase(client=client, by=request.staff_member)
            except ClinicError as refusal:
                error = refusal.message
            else:
                messages.success(request, "The record is erased: nothing that names the client is kept.")
                return redirect("client-detail", pk=client.pk)
    outlook = erasure_outlook(client)
    return render(
        request,
        "clients/client_erase.html",
        {
            "client": client,
            "refusal": outlook.refusal,
            "error": error,
            "health": held_said(outlook.health) if outlook.health else "",
            "kept_until": outlook.kept_until,
        },
        status=400 if error else 200,
    )
