"""The clinic's staff sign-ins, as a manager keeps them without the admin: someone new, a new password
for someone locked out or who forgot theirs, and their sign-in let through again after wrong passwords.

A manager's own admin rights come from the "Clinic managers" group (`MANAGER_GROUP`): what it may
change is listed here by app and model name, so this layer names the higher layers' models without
importing them.
"""

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import transaction

from clinic.errors import ClinicError, NotAllowedError
from clinic.models import Clinic, SignInFailure, StaffMember, StaffRole

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


def _manager_of(clinic: Clinic, by: StaffMember) -> None:
    if not by.is_manager or by.clinic_id != clinic.pk:
        raise NotAllowedError("Only the clinic's managers can change its staff's sign-ins.")


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
    _manager_of(clinic, by)
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
    _manager_of(member.clinic, by)
    user = member.user
    _password_refusal(password, user)
    user.set_password(password)
    user.save(update_fields=["password"])
    SignInFailure.objects.filter(username=user.get_username().lower()).delete()


def staff_sign_in_unpause(member: StaffMember, *, by: StaffMember) -> int:
    """Let a colleague paused after wrong passwords sign in again now; how many failures were cleared."""
    _manager_of(member.clinic, by)
    deleted, _ = SignInFailure.objects.filter(username=member.user.get_username().lower()).delete()
    return deleted
