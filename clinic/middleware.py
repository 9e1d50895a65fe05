"""Render every page in its clinic's time zone: a staff member's, or the clinic a client's page is of;
keep a session without its code out where the clinic requires two-step sign-in; and end a sign-in
left unused where the clinic asks."""

import time
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import logout
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone

from clinic.permissions import staff_member_of
from clinic.two_step import VERIFIED_SESSION_KEY


class ClinicTimezoneMiddleware:
    """Activate the clinic's IANA zone for the request, so templates show local times."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        member = staff_member_of(request.user)
        if member is not None:
            timezone.activate(member.clinic.zone)
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


def show_times_in_clinic_zone(clinic) -> None:
    """Render the rest of this request in `clinic`'s zone: for the pages a client (not signed in) opens.

    Templates write aware times in the active zone, which is otherwise the server's (UTC). The
    middleware above resets it after the response.
    """
    timezone.activate(clinic.zone)


class TwoStepRequiredMiddleware:
    """Where a clinic requires two-step sign-in, a session that has not given a code sees only the
    two-step page (to set it up, or give a code) until it does; the API answers 403 in words.

    Sign-ins through the code page and setting it up mark the session; one signed in before the
    clinic turned it on gives a code once. API tokens are not sessions: a manager issues them.
    """

    # Sign-in and sign-out, and what the clinic's clients open from their links (a staff member's
    # browser opening a client's link is not signing in to the clinic).
    OPEN_PATHS = ("/accounts/", "/static/", "/healthz", "/p/", "/clients/forms/", "/clients/u/", "/feeds/")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        member = staff_member_of(request.user)
        if (
            member is not None
            and member.clinic.two_step_required
            and not request.session.get(VERIFIED_SESSION_KEY)
            and not request.path.startswith(self.OPEN_PATHS)
        ):
            if request.path.startswith("/api/"):
                return JsonResponse(
                    {
                        "code": "two_step_required",
                        "detail": "Your clinic asks for a code at sign-in: sign in again with it.",
                    },
                    status=403,
                )
            return redirect(f"{reverse('two-step')}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)


IDLE_SIGNED_OUT = (
    "You were signed out after a while without use, so that nobody else reads the clinic's records on "
    "this screen."
)


class IdleSignOutMiddleware:
    """Where a clinic sets `idle_sign_out_minutes`, a sign-in nobody used for that long ends.

    Each request that is someone's use notes the time in the session (written at most once a minute);
    the day's list asking whether it changed (`X-Clinic-Poll`) and reloading itself (`?auto=1`) are
    not use, or a screen left on the day's list would never sign out. The screen signs itself out too
    (`static/js/idle-sign-out.js`): a page left open stops showing records even if nothing is clicked.
    """

    SEEN_KEY = "seen_at"
    NOTE_EVERY = 60  # seconds

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        member = staff_member_of(request.user)
        minutes = member.clinic.idle_sign_out_minutes if member is not None else None
        if minutes:
            now = time.time()
            seen = request.session.get(self.SEEN_KEY)
            polled = bool(request.headers.get("X-Clinic-Poll")) or request.GET.get("auto") == "1"
            if isinstance(seen, int | float) and now - seen > minutes * 60:
                logout(request)
                messages.info(request, IDLE_SIGNED_OUT)
                if polled or request.path.startswith("/api/"):
                    return JsonResponse({"code": "signed_out", "detail": IDLE_SIGNED_OUT}, status=401)
                return redirect(f"{reverse('login')}?{urlencode({'next': request.get_full_path()})}")
            if not isinstance(seen, int | float) or (not polled and now - seen >= self.NOTE_EVERY):
                request.session[self.SEEN_KEY] = now
        return self.get_response(request)
