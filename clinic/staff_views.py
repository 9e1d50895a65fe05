"""Managers' page of the clinic's staff sign-ins (`clinic.staff`), everyone's own password page, and a
new password from an emailed link for whoever forgot theirs."""

from django import forms
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import SetPasswordForm
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_http_methods, require_POST

from clinic.account_events import account_activity, account_event_record
from clinic.errors import ClinicError
from clinic.models import AccountAction, StaffMember, StaffRole
from clinic.parsing import parse_id
from clinic.permissions import staff_required
from clinic.sign_in import client_address, paused_until
from clinic.staff import (
    IDLE_SIGN_OUT_CHOICES,
    PASSWORD_LINKS_EVERY,
    clinic_idle_sign_out_set,
    password_link_minutes,
    staff_email_set,
    staff_member_add,
    staff_member_leave,
    staff_member_return,
    staff_password_link_send,
    staff_password_set,
    staff_password_set_from_link,
    staff_sign_in_unpause,
)
from clinic.two_step import (
    clinic_two_step_require,
    devices_forget,
    devices_forget_for,
    remembered_devices,
    two_step_reset_for,
    users_with_two_step,
)


class NewPasswordForm(forms.Form):
    password1 = forms.CharField(
        label="New password", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    password2 = forms.CharField(
        label="The same again", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password1") and cleaned.get("password1") != cleaned.get("password2"):
            raise forms.ValidationError("The two passwords differ: type the same one twice.")
        return cleaned


class StaffAddForm(NewPasswordForm):
    username = forms.CharField(max_length=150, help_text="What they type to sign in, e.g. jo or jo.carter.")
    display_name = forms.CharField(
        label="Name", max_length=120, help_text="As clients see it, e.g. Dr Amara Lee."
    )
    email = forms.EmailField(
        required=False,
        help_text="Where a link to a new password goes if they forget theirs, and their notices of "
        "clients' changes.",
    )
    role = forms.ChoiceField(choices=StaffRole.choices)
    field_order = ["username", "display_name", "email", "role", "password1", "password2"]


def _manager(request) -> StaffMember:
    if not request.staff_member.is_manager:
        raise PermissionDenied("Only the clinic's managers can change its staff's sign-ins.")
    return request.staff_member


def _colleague(request, pk) -> StaffMember:
    return get_object_or_404(
        StaffMember.objects.select_related("user", "clinic"), pk=pk, clinic=request.staff_member.clinic
    )


@staff_required
@require_http_methods(["GET", "POST"])
def staff_list(request):
    """The clinic's staff and their sign-ins: add someone, give a new password, let a paused one in."""
    manager = _manager(request)
    clinic = manager.clinic
    form = StaffAddForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                added = staff_member_add(
                    clinic,
                    username=data["username"],
                    display_name=data["display_name"],
                    email=data["email"],
                    role=data["role"],
                    password=data["password1"],
                    by=manager,
                )
            except ClinicError as refusal:
                form.add_error(None, refusal.message)
            else:
                messages.success(
                    request,
                    f"{added.display_name} can sign in as “{added.user.username}” with the password you "
                    "chose; they change it from “Your password”. Give practitioners their hours and "
                    "qualifications in the settings.",
                )
                return redirect("staff")
        status = 400
    members = list(
        StaffMember.objects.filter(clinic=clinic)
        .select_related("user")
        .order_by("-is_active", "display_name")
    )
    paused = paused_until([m.user.username for m in members if m.is_active])
    with_two_step = users_with_two_step(members)
    devices = remembered_devices(members)
    activity = account_activity([m.user for m in members])
    return render(
        request,
        "clinic/staff.html",
        {
            "rows": [
                {
                    "member": m,
                    "paused_until": paused.get(m.user.username.lower()),
                    "two_step": m.user_id in with_two_step,
                    "devices": devices[m.user_id],
                    "activity": activity[m.user_id],
                }
                for m in members
            ],
            "form": form,
            "password_form": NewPasswordForm(),
            "idle_choices": [m for m in IDLE_SIGN_OUT_CHOICES if m],
        },
        status=status,
    )


@staff_required
@require_POST
def staff_password(request, pk):
    """Give a colleague a new password."""
    manager = _manager(request)
    member = _colleague(request, pk)
    form = NewPasswordForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect("staff")
    try:
        staff_password_set(member, password=form.cleaned_data["password1"], by=manager)
    except ClinicError as refusal:
        messages.error(request, f"{member.display_name}'s password is unchanged: {refusal.message}")
    else:
        messages.success(
            request,
            f"{member.display_name} has a new password: tell them it, and that they can change it from "
            "“Your password”. They are signed out elsewhere.",
        )
    return redirect("staff")


@staff_required
@require_POST
def staff_email(request, pk):
    """Set where a colleague's links to a new password go."""
    manager = _manager(request)
    member = _colleague(request, pk)
    try:
        staff_email_set(member, email=request.POST.get("email", "")[:254], by=manager)
    except ClinicError as refusal:
        messages.error(request, f"{member.display_name}'s email address is unchanged: {refusal.message}")
    else:
        messages.success(
            request,
            f"{member.display_name}'s email address is {member.user.email}: a forgotten password's "
            "link goes there.",
        )
    return redirect("staff")


@staff_required
@require_POST
def staff_unpause(request, pk):
    """Let a colleague paused after wrong passwords sign in again now."""
    member = _colleague(request, pk)
    staff_sign_in_unpause(member, by=_manager(request))
    messages.success(request, f"{member.display_name} can sign in again now.")
    return redirect("staff")


class OwnPasswordView(auth_views.PasswordChangeView):
    """Everyone's own password: the one they have, then the new one twice."""

    template_name = "clinic/own_password.html"
    success_url = reverse_lazy("home")

    def form_valid(self, form):
        response = super().form_valid(form)
        account_event_record(self.request.user, AccountAction.PASSWORD_CHANGED)
        said = "Your password is changed."
        if devices_forget(self.request.user):  # as any new password does: each device asks for a code
            said += " Your remembered devices ask for a code again."
        messages.success(self.request, said)
        return response

    def get_context_data(self, **kwargs):
        user = self.request.user
        return {**super().get_context_data(**kwargs), "activity": account_activity([user])[user.pk]}


class PasswordForgottenForm(forms.Form):
    identifier = forms.CharField(
        label="Your username or email address",
        max_length=254,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )


@require_http_methods(["GET", "POST"])
def password_forgotten(request):
    """Ask for a link to a new password. The answer is the same whether or not the username exists."""
    form = PasswordForgottenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        staff_password_link_send(form.cleaned_data["identifier"], address=client_address(request))
        return render(
            request,
            "registration/password_link_sent.html",
            {
                "identifier": form.cleaned_data["identifier"].strip(),
                "link_minutes": password_link_minutes(),
                "every_minutes": int(PASSWORD_LINKS_EVERY.total_seconds() // 60),
            },
        )
    return render(
        request,
        "registration/password_forgotten.html",
        {"form": form},
        status=400 if request.method == "POST" else 200,
    )


class LinkPasswordForm(SetPasswordForm):
    error_messages = {"password_mismatch": "The two passwords differ: type the same one twice."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["new_password2"].label = "The same again"
        for field in self.fields.values():
            field.help_text = ""


class PasswordLinkView(auth_views.PasswordResetConfirmView):
    """The emailed link: choose a new password (Django checks the link's token), then sign in."""

    template_name = "registration/password_link.html"
    form_class = LinkPasswordForm
    success_url = reverse_lazy("login")

    def form_valid(self, form):
        staff_password_set_from_link(form.user, password=form.cleaned_data["new_password1"])
        del self.request.session[auth_views.INTERNAL_RESET_SESSION_TOKEN]
        messages.success(self.request, "Your password is set: sign in with it.")
        return HttpResponseRedirect(self.get_success_url())

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "link_minutes": password_link_minutes()}


@staff_required
@require_POST
def staff_two_step_off(request, pk):
    """A manager turns a colleague's two-step sign-in off (a lost phone)."""
    manager = _manager(request)
    member = _colleague(request, pk)
    try:
        two_step_reset_for(member, by=manager)
    except ClinicError as refusal:
        messages.error(request, refusal.message)
    else:
        again = " They set it up again when they next sign in." if member.clinic.two_step_required else ""
        messages.success(request, f"{member.display_name}'s two-step sign-in is off.{again}")
    return redirect("staff")


@staff_required
@require_POST
def staff_devices_forget(request, pk):
    """A manager forgets the devices a colleague trusted (a lost tablet): each asks for their code again."""
    manager = _manager(request)
    member = _colleague(request, pk)
    forgotten = devices_forget_for(member, by=manager)
    messages.success(
        request,
        f"Forgotten: {forgotten} of {member.display_name}'s devices. Each asks for their code again."
        if forgotten
        else f"{member.display_name} has no device that skips the code.",
    )
    return redirect("staff")


@staff_required
@require_POST
def clinic_two_step(request):
    """A manager requires (or stops requiring) a code at every staff sign-in."""
    manager = _manager(request)
    required = request.POST.get("required") == "yes"
    clinic_two_step_require(manager.clinic, required=required, by=manager)
    if required:
        messages.success(
            request,
            "Everyone signs in with a code as well now. Whoever has not set it up does so when they next "
            "sign in, or at once if signed in now.",
        )
    else:
        messages.success(request, "Signing in asks only those who set up two-step sign-in for a code.")
    return redirect("staff")


@staff_required
@require_POST
def clinic_idle_sign_out(request):
    """A manager sets how long a staff screen may sit unused before it signs out."""
    manager = _manager(request)
    raw = request.POST.get("minutes", "")
    minutes = parse_id(raw) if raw else None
    try:
        clinic_idle_sign_out_set(manager.clinic, minutes=minutes, by=manager)
    except ClinicError as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(
            request,
            f"A screen nobody uses for {minutes} minutes now signs out."
            if minutes
            else "Screens stay signed in for the working day.",
        )
    return redirect("staff")


@staff_required
@require_POST
def staff_leave(request, pk):
    """A manager marks a colleague as no longer working at the clinic."""
    manager = _manager(request)
    member = _colleague(request, pk)
    try:
        staff_member_leave(member, by=manager)
    except ClinicError as refusal:
        messages.error(request, refusal.message)
    else:
        visits = (
            " Their visits still booked are flagged to move to someone else: “Time off” lists them."
            if member.is_practitioner
            else ""
        )
        messages.success(request, f"{member.display_name} can no longer sign in.{visits}")
    return redirect("staff")


@staff_required
@require_POST
def staff_return(request, pk):
    """A manager lets a colleague who left sign in again."""
    manager = _manager(request)
    member = _colleague(request, pk)
    staff_member_return(member, by=manager)
    messages.success(
        request,
        f"{member.display_name} can sign in again with their password (give them a new one below if "
        "they have forgotten it).",
    )
    return redirect("staff")
