"""Sign-in that guessing cannot get through: after a few wrong passwords an account is locked for a
while, and an address that tries many accounts is too.

`LockingModelBackend` refuses a locked account's password however it is tried (the sign-in page, the
admin's); `SignInForm` says why on the sign-in page. The `user_login_failed` signal records each
wrong password (`SignInFailure`), and `user_logged_in` clears the username's.
"""

import datetime as dt
import ipaddress
import math

from django import forms
from django.conf import settings
from django.contrib.auth import user_logged_in, user_login_failed
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver
from django.utils import timezone

from clinic.account_events import account_event_record
from clinic.models import AccountAction, SignInFailure

# Wrong passwords for one username within LOCK_WINDOW that lock it until the window has passed.
FAILURES_PER_USERNAME = 5
# Wrong passwords from one address (any usernames) within LOCK_WINDOW that stop it trying.
FAILURES_PER_ADDRESS = 30
LOCK_WINDOW = dt.timedelta(minutes=15)


def _username(raw) -> str:
    return str(raw or "").strip().lower()[:150]


def client_address(request) -> str | None:
    """The address a request came from: REMOTE_ADDR, or behind the clinic's proxy (BEHIND_TLS_PROXY)
    the address the proxy added last to X-Forwarded-For (the ones before it, the client may have
    written itself). Without this, every sign-in would seem to come from the proxy."""
    if request is None:
        return None
    if settings.BEHIND_TLS_PROXY and (forwarded := request.META.get("HTTP_X_FORWARDED_FOR", "")):
        last = forwarded.split(",")[-1].strip()
        try:
            return str(ipaddress.ip_address(last))
        except ValueError:
            pass
    return request.META.get("REMOTE_ADDR") or None


def locked_until(username: str, address: str | None, *, now: dt.datetime | None = None) -> dt.datetime | None:
    """When the lock on this username (or this address) ends, or None if it may try now. Two queries."""
    now = now or timezone.now()
    ends = list(paused_until([username], now=now).values())
    if address:
        recent = list(
            SignInFailure.objects.filter(at__gt=now - LOCK_WINDOW, ip_address=address)
            .order_by("-at")
            .values_list("at", flat=True)[:FAILURES_PER_ADDRESS]
        )
        if len(recent) >= FAILURES_PER_ADDRESS:
            ends.append(recent[-1] + LOCK_WINDOW)  # until the oldest of the last ones leaves the window
    return max(ends) if ends else None


def paused_until(usernames, *, now: dt.datetime | None = None) -> dict[str, dt.datetime]:
    """For each of these usernames paused now (by their own wrong passwords), when it ends; one query."""
    now = now or timezone.now()
    recent: dict[str, list[dt.datetime]] = {}
    for username, at in SignInFailure.objects.filter(
        username__in={_username(u) for u in usernames}, at__gt=now - LOCK_WINDOW
    ).values_list("username", "at"):
        recent.setdefault(username, []).append(at)
    # locked until the oldest of the last FAILURES_PER_USERNAME leaves the window
    return {
        username: sorted(times)[-FAILURES_PER_USERNAME] + LOCK_WINDOW
        for username, times in recent.items()
        if len(times) >= FAILURES_PER_USERNAME
    }


def lock_said(until: dt.datetime, *, now: dt.datetime | None = None) -> str:
    """The lock in words, its end as minutes from now (nobody signed in: no clinic zone to say a time in)."""
    minutes = max(1, math.ceil((until - (now or timezone.now())).total_seconds() / 60))
    return (
        "Too many wrong passwords: signing in is paused to stop guessing. Try again in "
        f"{minutes} minute{'s' if minutes != 1 else ''}, choose a new password from “Forgotten your "
        "password?”, or ask a manager to set you one."
    )


class LockingModelBackend(ModelBackend):
    """Django's username and password sign-in, refused while the account or address is locked."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is not None and locked_until(username, client_address(request)) is not None:
            raise PermissionDenied("Signing in is paused after too many wrong passwords.")
        return super().authenticate(request, username=username, password=password, **kwargs)


class SignInForm(AuthenticationForm):
    """The sign-in page's form: says when a lock ends rather than "wrong password" again."""

    locked = ""

    def clean(self):
        username = self.cleaned_data.get("username")
        if username:
            until = locked_until(username, client_address(self.request))
            if until is not None:
                self.locked = lock_said(until)
                raise forms.ValidationError(self.locked, code="locked")
        return super().clean()


# Failures are kept this long (who tried which account, from where), then deleted as new ones come.
KEPT_FOR = dt.timedelta(days=30)


@receiver(user_login_failed)
def record_sign_in_failure(sender, credentials, request=None, **kwargs):
    username = _username(credentials.get("username"))
    if username:
        now = timezone.now()
        SignInFailure.objects.create(username=username, ip_address=client_address(request), at=now)
        SignInFailure.objects.filter(at__lt=now - KEPT_FOR).delete()


def sign_in_failures_clear(user) -> int:
    """Forget the user's wrong passwords (a sign-in, a new password, a manager's unpause); how many."""
    deleted, _ = SignInFailure.objects.filter(username=_username(user.get_username())).delete()
    return deleted


@receiver(user_logged_in)
def clear_sign_in_failures(sender, request, user, **kwargs):
    sign_in_failures_clear(user)
    account_event_record(user, AccountAction.SIGNED_IN, address=client_address(request))
