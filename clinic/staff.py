"""The clinic's staff sign-ins, as a manager keeps them without the admin: someone new, a new password
for someone locked out or who forgot theirs, and their sign-in let through again after wrong passwords;
and, for anyone with an email address, a new password from a link emailed to them.

A manager's own admin rights come from the "Clinic managers" group (`MANAGER_GROUP`): what it may
change is listed here by app and model name, so this layer names the higher layers' models without
importing them.
"""

import datetime as dt
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from rest_framework.authtoken.models import Token

from clinic.account_events import account_event_record
from clinic.errors import ClinicError
from clinic.models import AccountAction, Clinic, OutboxMessage, StaffMember, StaffRole, TwoStepDevice
from clinic.outbox import outbox_message, outbox_write, register_out_of_date_check
from clinic.permissions import require_manager_of
from clinic.sign_in import sign_in_failures_clear
from clinic.time_off import closures_apply_to

MANAGER_GROUP = "Clinic managers"
# What a manager changes in the admin (each model's add, change, delete and view) …
MANAGER_MODELS = {
    "clinic": [
        "clinic",
        "staffmember",
        "practitionerqualification",
        "room",
        "device",
        "workinghours",
        "timeoff",
        "extrahours",
    ],
    "clients": ["intakequestionnaire", "consenttemplate", "client"],
    "treatments": ["protocol", "protocolarea", "contraindicationrule", "product", "productlot", "service"],
}
# … and what they only read there.
MANAGER_VIEW_ONLY = {
    "clinic": ["outboxmessage"],
    "clients": ["signedconsent", "consentcountersignature"],
    "treatments": ["appointment"],
}


def manager_group() -> Group:
    """The managers' group with its permissions, made or brought up to date."""
    group, _ = Group.objects.get_or_create(name=MANAGER_GROUP)
    permissions = []
    for app_label, models in MANAGER_MODELS.items():
        permissions += Permission.objects.filter(
            content_type__app_label=app_label, content_type__model__in=models
        )
    for app_label, models in MANAGER_VIEW_ONLY.items():
        permissions += Permission.objects.filter(
            content_type__app_label=app_label, content_type__model__in=models, codename__startswith="view_"
        )
    group.permissions.set(permissions)
    return group


def _password_refusal(password: str, user=None) -> None:
    try:
        password_validation.validate_password(password, user)
    except ValidationError as invalid:
        raise ClinicError(" ".join(invalid.messages), code="weak_password") from None


@transaction.atomic
def staff_member_add(
    clinic: Clinic,
    *,
    username: str,
    display_name: str,
    email: str,
    role: str,
    password: str,
    by: StaffMember,
) -> StaffMember:
    """Give someone new a sign-in to the clinic: their username, name as clients see it, role and a
    first password (they change it from "Your password"). A manager can use the admin's settings."""
    require_manager_of(clinic, by)
    username = username.strip()
    if role not in StaffRole.values:
        raise ClinicError("Choose their role from the list.", code="role")
    user_model = get_user_model()
    if user_model.objects.filter(username__iexact=username).exists():
        raise ClinicError(f"The username “{username}” is taken: choose another.", code="username_taken")
    user = user_model(username=username, email=email.strip(), is_staff=role == StaffRole.MANAGER)
    _password_refusal(password, user)
    user.set_password(password)
    user.save()
    if role == StaffRole.MANAGER:
        user.groups.add(manager_group())
    return StaffMember.objects.create(
        user=user, clinic=clinic, role=role, display_name=display_name.strip() or username
    )


@transaction.atomic
def staff_password_set(member: StaffMember, *, password: str, by: StaffMember) -> None:
    """Give a colleague a new password (locked out, or forgot theirs); their sign-ins elsewhere end,
    and wrong passwords given before no longer pause them."""
    require_manager_of(member.clinic, by)
    _new_password(member.user, password, action=AccountAction.PASSWORD_SET, by=by.user)


def _new_password(user, password: str, *, action: AccountAction, by=None) -> None:
    """Give `user` this password, if strong enough: their other sign-ins end (the password signs them),
    wrong passwords before no longer pause them, and their activity says who did it."""
    _password_refusal(password, user)
    user.set_password(password)
    user.save(update_fields=["password"])
    sign_in_failures_clear(user)
    TwoStepDevice.objects.filter(user=user).delete()  # a device trusted with the old one asks again
    account_event_record(user, action, by=by)


def staff_sign_in_unpause(member: StaffMember, *, by: StaffMember) -> int:
    """Let a colleague paused after wrong passwords sign in again now; how many failures were cleared."""
    require_manager_of(member.clinic, by)
    deleted = sign_in_failures_clear(member.user)
    account_event_record(member.user, AccountAction.UNPAUSED, by=by.user)
    return deleted


@transaction.atomic
def staff_email_set(member: StaffMember, *, email: str, by: StaffMember) -> None:
    """Set where a colleague's links to a new password (and notices of clients' changes) go."""
    require_manager_of(member.clinic, by)
    email = email.strip()
    try:
        validate_email(email)
    except ValidationError:
        raise ClinicError(f"“{email}” is not an email address: check it.", code="email") from None
    user = member.user
    user.email = email
    user.save(update_fields=["email"])
    account_event_record(user, AccountAction.EMAIL_CHANGED, by=by.user)


# --- A new password from an emailed link ---------------------------------------------------------
# Someone who forgot their password asks for a link (their username or email address), and the
# outbox sends it like any message: written before the page says so, kept through an outage. The
# link is Django's password-reset token: it works once (it signs the password it replaces and the
# last sign-in) and for PASSWORD_RESET_TIMEOUT.
PASSWORD_LINK_KEY = "staff_password_reset"  # noqa: S105 (a template's name, not a password)
# One link a person per this long, however often the form is sent: nobody fills a colleague's inbox.
PASSWORD_LINKS_EVERY = dt.timedelta(minutes=10)


def password_link_minutes() -> int:
    """How long a link to a new password works, in minutes."""
    return settings.PASSWORD_RESET_TIMEOUT // 60


def _sign_ins_named_by(identifier: str) -> list[StaffMember]:
    identifier = identifier.strip()
    if not identifier:
        return []
    named = Q(user__username__iexact=identifier)
    if "@" in identifier:
        named |= Q(user__email__iexact=identifier)
    return [
        member
        for member in StaffMember.objects.filter(named, is_active=True, user__is_active=True)
        .exclude(user__email="")
        .select_related("user", "clinic")
        if member.user.has_usable_password()
    ]


def password_link_path(user) -> str:
    """The path of a link that sets a new password for `user`, valid from now."""
    return reverse(
        "password-link",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )


@transaction.atomic
def staff_password_link_send(
    identifier: str, *, address: str | None = None, now: dt.datetime | None = None
) -> int:
    """Email a link to set a new password to each active sign-in this username or email address names;
    return how many links were written (the page says the same whatever the number, so it tells no
    one which usernames exist). A person gets at most one link every `PASSWORD_LINKS_EVERY`.
    `address`: where the request came from, for their sign-in's activity."""
    now = now or timezone.now()
    period = int(now.timestamp() // PASSWORD_LINKS_EVERY.total_seconds())
    members = _sign_ins_named_by(identifier)
    recently = set(
        OutboxMessage.objects.filter(
            template_key=PASSWORD_LINK_KEY,
            topic__in=[f"staff-password:{m.user_id}" for m in members],
            created_at__gt=now - PASSWORD_LINKS_EVERY,
        ).values_list("topic", flat=True)
    )
    to_send = [m for m in members if f"staff-password:{m.user_id}" not in recently]
    links = [
        outbox_message(
            clinic=member.clinic,
            recipient_email=member.user.email,
            recipient_name=member.display_name,
            template_key=PASSWORD_LINK_KEY,
            dedupe_key=f"staff-password:{member.user_id}:{period}",
            topic=f"staff-password:{member.user_id}",
            context={
                "username": member.user.get_username(),
                "password_link_url": settings.SITE_URL.rstrip("/") + password_link_path(member.user),
                "link_minutes": password_link_minutes(),
            },
        )
        for member in to_send
    ]
    outbox_write(links)
    for member in to_send:
        account_event_record(member.user, AccountAction.PASSWORD_LINK_SENT, address=address)
    return len(links)


@transaction.atomic
def staff_password_set_from_link(user, *, password: str) -> None:
    """Set the password of someone who opened their emailed link: their other sign-ins end (the
    password signs them), the link stops working, and wrong passwords before no longer pause them."""
    _new_password(user, password, action=AccountAction.PASSWORD_SET_FROM_LINK)


def _user_of_link(url: str):
    """The user and token a password link names, or (None, "")."""
    parts = [p for p in urlsplit(url).path.split("/") if p]
    if len(parts) < 2:
        return None, ""
    try:
        pk = int(urlsafe_base64_decode(parts[-2]).decode())
    except (ValueError, UnicodeDecodeError):
        return None, ""
    return get_user_model().objects.filter(pk=pk).first(), parts[-1]


@register_out_of_date_check
def password_links_that_no_longer_work(
    messages: list[OutboxMessage], now: dt.datetime, delivering: bool
) -> dict[int, str]:
    """A link to a new password that was used, or is past its time, is not sent (nor sent again)."""
    reasons = {}
    for message in messages:
        if message.template_key != PASSWORD_LINK_KEY or not message.topic.startswith("staff-password:"):
            continue  # (a manager's test of the wording has no link to check)
        user, token = _user_of_link(message.context.get("password_link_url", ""))
        if user is None or not default_token_generator.check_token(user, token):
            reasons[message.pk] = (
                "the link in it no longer works (used, or too old): they can ask for another"
            )
    return reasons


# What the staff page offers for signing out a screen left alone, in minutes (None: the working day).
IDLE_SIGN_OUT_CHOICES = (None, 5, 10, 15, 30, 60, 120, 240)


def clinic_idle_sign_out_set(clinic: Clinic, *, minutes: int | None, by: StaffMember) -> None:
    """Sign out every staff screen of the clinic left unused `minutes` (None: only after the working day)."""
    require_manager_of(clinic, by)
    if minutes not in IDLE_SIGN_OUT_CHOICES:
        raise ClinicError("Choose how long from the list.", code="idle_minutes")
    Clinic.objects.filter(pk=clinic.pk).update(idle_sign_out_minutes=minutes)
    clinic.idle_sign_out_minutes = minutes


@transaction.atomic
def staff_member_leave(member: StaffMember, *, by: StaffMember) -> None:
    """Someone who no longer works at the clinic: their sign-in and API token stop working at once, a
    practitioner is no longer offered for bookings, and their visits still booked are flagged to move
    (the time-off page lists them). Their records, history and name on past visits stay."""
    require_manager_of(member.clinic, by)
    if member.pk == by.pk:
        raise ClinicError("You cannot mark yourself as gone: another manager does.", code="self")
    if not member.is_active:
        return
    _sign_in_open(member, False)
    Token.objects.filter(user=member.user).delete()
    TwoStepDevice.objects.filter(user=member.user).delete()
    account_event_record(member.user, AccountAction.LEFT, by=by.user)


@transaction.atomic
def staff_member_return(member: StaffMember, *, by: StaffMember) -> None:
    """Someone back at the clinic: they sign in again with their password (a manager may give them a
    new one), and a practitioner is off when the clinic is closed, as the others are."""
    require_manager_of(member.clinic, by)
    if member.is_active and member.user.is_active:
        return
    _sign_in_open(member, True)
    closures_apply_to(member)
    account_event_record(member.user, AccountAction.RETURNED, by=by.user)


def _sign_in_open(member: StaffMember, is_open: bool) -> None:
    """Let the member in, or not: their place at the clinic and their user (whose password signs in)."""
    member.is_active = is_open
    member.save(update_fields=["is_active"])
    member.user.is_active = is_open
    member.user.save(update_fields=["is_active"])
