"""Signing in with a code as well as the password (`clinic.two_step`): the sign-in page, the code page,
and each person's own two-step page (the managers' switches are on the staff page: `staff_views`)."""

import time

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model, login, user_login_failed
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from clinic.errors import ClinicError
from clinic.middleware import IDLE_SIGNED_OUT
from clinic.models import TwoStepDevice, TwoStepKey
from clinic.permissions import staff_required
from clinic.sign_in import SignInForm, client_address, lock_said, locked_until
from clinic.two_step import (
    DEVICE_COOKIE,
    PENDING_SECONDS,
    PENDING_SESSION_KEY,
    REMEMBERED_FOR,
    VERIFIED_SESSION_KEY,
    WRONG_CODE,
    device_remember,
    device_remembered,
    devices_forget,
    provisioning_uri,
    qr_code_svg,
    recovery_codes_left,
    recovery_codes_renew,
    secret_in_groups,
    two_step_begin,
    two_step_check,
    two_step_confirm,
    two_step_on,
    two_step_turn_off,
)


class SignInView(auth_views.LoginView):
    """The password; then, for someone with two-step sign-in, the code page before they are in."""

    authentication_form = SignInForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        # the screen signed itself out (static/js/idle-sign-out.js): said as the server says it
        said = IDLE_SIGNED_OUT if self.request.GET.get("idle") else ""
        return {**super().get_context_data(**kwargs), "signed_out_idle": said}

    def form_valid(self, form):
        user = form.get_user()
        if two_step_on(user) and device_remembered(user, self.request.COOKIES.get(DEVICE_COOKIE)):
            response = super().form_valid(form)  # a device they trust: the password is enough here
            self.request.session[VERIFIED_SESSION_KEY] = True
            return response
        if two_step_on(user):
            self.request.session[PENDING_SESSION_KEY] = {
                "user": user.pk,
                "backend": user.backend,
                "at": time.time(),
                "next": self.get_success_url(),
            }
            return redirect("two-step-code")
        return super().form_valid(form)


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=40,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True, "size": 12}
        ),
    )
    remember = forms.BooleanField(required=False)


def _pending_user(request):
    pending = request.session.get(PENDING_SESSION_KEY)
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        return None, None
    user = get_user_model().objects.filter(pk=pending.get("user"), is_active=True).first()
    return user, pending


@require_http_methods(["GET", "POST"])
def two_step_code(request):
    """The sign-in's second step: a code from the app (or a recovery code) for the password given."""
    user, pending = _pending_user(request)
    if user is None:
        request.session.pop(PENDING_SESSION_KEY, None)
        messages.error(request, "Sign in again: the code is asked for within five minutes of the password.")
        return redirect("login")
    form = CodeForm(request.POST or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        until = locked_until(user.get_username(), client_address(request))
        if until is not None:
            error = lock_said(until)
        elif two_step_check(user, code=form.cleaned_data["code"]):
            request.session.pop(PENDING_SESSION_KEY, None)
            login(request, user, backend=pending["backend"])
            request.session[VERIFIED_SESSION_KEY] = True
            next_url = pending.get("next")
            response = redirect(next_url if _safe(request, next_url) else "/")
            if form.cleaned_data["remember"]:
                described = request.headers.get("User-Agent", "")
                response.set_cookie(
                    DEVICE_COOKIE,
                    device_remember(user, described=described),
                    max_age=int(REMEMBERED_FOR.total_seconds()),
                    secure=request.is_secure(),
                    httponly=True,
                    samesite="Lax",
                )
            return response
        else:
            _wrong_code(request, user)
            error = WRONG_CODE
    elif request.method == "POST":
        error = "Type the code your authenticator app shows, or one of your recovery codes."
    return render(
        request,
        "registration/two_step_code.html",
        {"form": form, "error": error, "remembered_for_days": REMEMBERED_FOR.days},
        status=400 if error else 200,
    )


@staff_required
@require_http_methods(["GET", "POST"])
def two_step_settings(request):
    """One's own two-step sign-in: set it up (QR code, then a code to confirm), new recovery codes,
    or turn it off. Where the clinic requires it, signed-in staff without it are sent here."""
    user = request.user
    member = request.staff_member
    action = request.POST.get("action", "")
    code = request.POST.get("code", "")[:40]
    shown_codes: list[str] = []
    error = ""
    # a code asked for here is guessed no more freely than at sign-in: the same pause, the same count
    asks_a_code = action in ("verify", "renew", "off")
    paused = locked_until(user.get_username(), client_address(request)) if asks_a_code else None
    if request.method == "POST" and paused is not None:
        error = lock_said(paused)
    elif request.method == "POST":
        try:
            if action == "begin":
                two_step_begin(user)
            elif action == "confirm":
                shown_codes = two_step_confirm(user, code=code)
                request.session[VERIFIED_SESSION_KEY] = True
                messages.success(
                    request, "Two-step sign-in is on: each sign-in asks for a code from your app."
                )
            elif action == "verify":  # on already, signed in before the clinic required it
                if not two_step_check(user, code=code):
                    raise ClinicError(WRONG_CODE, code="wrong_code")
                request.session[VERIFIED_SESSION_KEY] = True
                next_url = request.GET.get("next")
                return redirect(next_url if _safe(request, next_url) else "home")
            elif action == "renew":
                shown_codes = recovery_codes_renew(user, code=code)
                messages.success(request, "You have ten new recovery codes; the old ones no longer work.")
            elif action == "forget_devices":
                forgotten = devices_forget(user)
                devices = f"{forgotten} device{'s' if forgotten != 1 else ''}"
                said = (
                    f"Forgotten: {devices}. Each asks for a code again."
                    if forgotten
                    else "None was remembered."
                )
                messages.success(request, said)
                response = redirect("two-step")
                response.delete_cookie(DEVICE_COOKIE, samesite="Lax")
                return response
            elif action == "off":
                two_step_turn_off(user, code=code)
                request.session.pop(VERIFIED_SESSION_KEY, None)
                messages.success(request, "Two-step sign-in is off: signing in asks for your password only.")
                return redirect("two-step")
            else:
                error = "Choose one of the buttons on this page."
        except ClinicError as refusal:
            error = refusal.message
            if refusal.code == "wrong_code":
                _wrong_code(request, user)
    key = TwoStepKey.objects.filter(user=user).first()
    context = {
        "key": key,
        "required": member.clinic.two_step_required,
        "verified": bool(request.session.get(VERIFIED_SESSION_KEY)),
        "shown_codes": shown_codes,
        "error": error,
    }
    if key is not None and key.confirmed_at is None:
        uri = provisioning_uri(key, issuer=member.clinic.name or "Clinic")
        context.update(
            qr_code=qr_code_svg(uri), secret=secret_in_groups(key.secret), username=user.get_username()
        )
    if key is not None and key.confirmed_at is not None:
        context["codes_left"] = recovery_codes_left(user)
        context["devices"] = list(TwoStepDevice.objects.filter(user=user, expires_at__gt=timezone.now()))
        context["remembered_for_days"] = REMEMBERED_FOR.days
    return render(request, "clinic/two_step.html", context, status=400 if error else 200)


def _wrong_code(request, user) -> None:
    """Count a wrong code with the wrong passwords: five in fifteen minutes pause the sign-in."""
    user_login_failed.send(sender=__name__, credentials={"username": user.get_username()}, request=request)


def _safe(request, url) -> bool:
    return bool(url) and url_has_allowed_host_and_scheme(url, {request.get_host()}, request.is_secure())
