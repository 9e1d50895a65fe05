"""Sending staff back to the page they acted from."""

from django.http import HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme


def redirect_back(request, fallback_url: str) -> HttpResponseRedirect:
    """Redirect to the page a form's `next` names, when it is a path on this site; else to fallback_url.

    Only a path ("/", "/?date=…") is followed: anything else (another site, "x", a view name) is
    ignored, and it is never looked up as a URL name, which made "x" a 500.
    """
    next_url = request.POST.get("next", "")
    if next_url.startswith("/") and url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return HttpResponseRedirect(next_url)
    return HttpResponseRedirect(fallback_url)
