"""Who is signed in, and which clinic that scopes them to."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.permissions import BasePermission

from clinic.models import Clinic, StaffMember


def acting_user(actor):
    """The signed-in user to record as having made a change (None for the public pages and tasks)."""
    return actor if getattr(actor, "is_authenticated", False) else None


def staff_member_of(user) -> StaffMember | None:
    """Return the user's active staff membership, or None for anyone who is not clinic staff."""
    if not getattr(user, "is_authenticated", False):
        return None
    try:
        member = user.staff
    except StaffMember.DoesNotExist:
        return None
    return member if member.is_active else None


def require_manager_of(clinic: Clinic, by: StaffMember, *, to: str = "change its staff's sign-ins") -> None:
    """Refuse anyone but a manager of this clinic, saying what only a manager may do (`to`)."""
    from clinic.errors import NotAllowedError  # errors imports DRF, whose settings import this module

    if not by.is_manager or by.clinic_id != clinic.pk:
        raise NotAllowedError(f"Only a manager of the clinic can {to}.")


def may_read_health_data(member: StaffMember | None) -> bool:
    """Health data (intake answers, consents, treatment records) is for practitioners and managers;
    the front desk sees only whether it is there."""
    return member is not None and (member.is_practitioner or member.is_manager)


class MayReadHealthData(BasePermission):
    message = "Health data is for the clinic's practitioners and managers."

    def has_permission(self, request, view):
        return may_read_health_data(staff_member_of(request.user))


def clinic_of(request) -> Clinic:
    """Return the clinic of the signed-in staff member; call only behind staff_required/IsClinicStaff."""
    member = staff_member_of(request.user)
    if member is None:
        raise PermissionDenied("Only clinic staff can see this.")
    return member.clinic


def staff_required(view):
    """Let in only signed-in members of a clinic's staff; others go to sign-in or get a 403."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        member = staff_member_of(request.user)
        if member is None:
            raise PermissionDenied("Your account is not linked to a clinic. Ask your manager to add you.")
        request.staff_member = member
        return view(request, *args, **kwargs)

    return wrapper


def manager_required(why: str):
    """`staff_required`, and a 403 saying `why` to staff who are not a manager of their clinic."""

    def decorator(view):
        @staff_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.staff_member.is_manager:
                raise PermissionDenied(why)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


class IsClinicStaff(BasePermission):
    """Allow API access to active staff of a clinic only."""

    message = "Sign in with a clinic staff account."

    def has_permission(self, request, view):
        return staff_member_of(request.user) is not None


class ClinicTimeMixin:
    """Read and render API times in the clinic's zone once DRF knows who is calling.

    The middleware cannot do this for token users: DRF authenticates them after middleware runs.
    """

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        member = staff_member_of(request.user)
        if member is not None:
            timezone.activate(member.clinic.zone)


class ClinicScopedQuerysetMixin(ClinicTimeMixin):
    """Filter a DRF view's queryset to the signed-in staff member's clinic (field `clinic_field`)."""

    clinic_field = "clinic"

    def get_queryset(self):
        return super().get_queryset().filter(**{self.clinic_field: clinic_of(self.request)})


@extend_schema_field(OpenApiTypes.INT)
class ClinicScopedPrimaryKeyField(serializers.PrimaryKeyRelatedField):
    """An id field that accepts only rows of the requesting staff member's clinic ("not found" otherwise)."""

    default_error_messages = {"does_not_exist": "No such {model} in this clinic (id {pk_value})."}

    def __init__(self, *, model, clinic_field="clinic", **kwargs):
        self.model = model
        self.clinic_field = clinic_field
        super().__init__(**kwargs)

    def get_queryset(self):
        clinic = clinic_of(self.context["request"])
        return self.model._default_manager.filter(**{self.clinic_field: clinic})

    def to_internal_value(self, data):
        found = super().to_internal_value(data)
        if self.clinic_field == "clinic":
            # The row is of the caller's clinic: hand it the clinic already loaded, not a query later.
            found.clinic = clinic_of(self.context["request"])
        return found

    def fail(self, key, **kwargs):
        kwargs.setdefault("model", self.model._meta.verbose_name)
        return super().fail(key, **kwargs)
