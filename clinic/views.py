"""Pages of the clinic layer: the development mailbox and a health check."""

from django.conf import settings
from django.db import connection
from django.http import Http404, JsonResponse
from django.shortcuts import render

from clinic.mail import read_mailbox
from clinic.permissions import staff_required


@staff_required
def mailbox(request):
    """Show the mail written under var/mail/ when no SMTP server is configured."""
    if settings.EMAIL_BACKEND != "clinic.mail.MailDirBackend":
        raise Http404("Mail goes out over SMTP here; there is no local mailbox.")
    return render(request, "clinic/mailbox.html", {"messages_written": read_mailbox()})


def healthz(request):
    """Answer 200 when the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
