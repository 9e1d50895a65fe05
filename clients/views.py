"""Staff pages of the clients layer."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST

from clients.models import Client
from clients.selectors import clients_matching
from clinic.errors import ClinicError
from clinic.models import OutboxMessage
from clinic.outbox import outbox_resend
from clinic.permissions import staff_required
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
