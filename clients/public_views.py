"""Pages a client reaches from a link in an email, without signing in."""

from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from clients.links import UNSUBSCRIBE, LinkInvalid, client_from_token
from clients.services import client_unsubscribe


@csrf_exempt  # RFC 8058: the mailbox provider POSTs without a session or a form of ours
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    """GET asks to confirm (link scanners must not unsubscribe anyone); POST unsubscribes, one click."""
    try:
        client, _payload = client_from_token(token, purpose=UNSUBSCRIBE)
    except LinkInvalid as error:
        return render(request, "public/link_invalid.html", {"reason": str(error)}, status=404)
    context = {"clinic": client.clinic, "client": client}
    if request.method == "POST":
        client_unsubscribe(client=client)
        return render(request, "public/unsubscribed.html", context)
    return render(request, "public/unsubscribe.html", context)
