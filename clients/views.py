"""Staff pages of the clients layer."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from clients.models import Client
from clients.selectors import clients_matching
from clinic.errors import ClinicError
from clinic.models import OutboxMessage
from clinic.outbox import outbox_resend
from clinic.permissions import staff_required


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
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = "/"
    return redirect(next_url)
