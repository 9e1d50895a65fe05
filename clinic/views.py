"""Pages of the clinic layer: the development mailbox, a health check and the error pages."""

from django.conf import settings
from django.db import connection
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views import defaults
from django.views.decorators.http import require_safe

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


# Pages clients reach from a link or the booking site: their error pages speak to a client, not to staff.
PUBLIC_PREFIXES = ("/p/", "/clients/forms/", "/clients/u/")


def _for_clients(request) -> bool:
    return request.path.startswith(PUBLIC_PREFIXES)


def page_not_found(request, exception):
    """The 404 page, in the clinic's look; a client's own wording on the public pages."""
    template = "public/not_found.html" if _for_clients(request) else "404.html"
    return defaults.page_not_found(request, exception, template_name=template)


def server_error(request):
    """The 500 page (rendered without a request context, so it cannot fail itself)."""
    template = "public/server_error.html" if _for_clients(request) else "500.html"
    return defaults.server_error(request, template_name=template)


@staff_required
@require_safe
def still_here(request):
    """Nothing but a sign of use: an open page someone is typing in or scrolling tells the server so
    (`static/js/idle-sign-out.js`), and the clinic's sign-out after a while without use waits."""
    return HttpResponse(status=204)
