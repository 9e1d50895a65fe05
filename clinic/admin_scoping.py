"""Admin base class that keeps a manager inside their own clinic."""

from django.contrib import admin

from clinic.models import Clinic
from clinic.permissions import staff_member_of


def _clinic_path(model) -> str | None:
    """Return the lookup from `model` to its clinic ('clinic', 'staff_member__clinic', …), if any."""
    if model is Clinic:
        return "pk"
    names = {f.name for f in model._meta.get_fields()}
    if "clinic" in names:
        return "clinic"
    for via in ("staff_member", "client", "protocol", "product", "session", "appointment"):
        if via in names:
            related = model._meta.get_field(via).related_model
            inner = _clinic_path(related)
            if inner:
                return f"{via}__{inner}" if inner != "pk" else via
    return None


def _in_clinic(path: str, clinic: Clinic) -> dict:
    """The filter keeping rows to the clinic along `path` ("pk" for the clinic itself takes its id)."""
    return {path: clinic.pk if path == "pk" else clinic}


class ClinicScopedAdmin(admin.ModelAdmin):
    """Show and offer only rows of the signed-in manager's clinic; superusers see every clinic."""

    def _member_clinic(self, request):
        if request.user.is_superuser:
            return None
        member = staff_member_of(request.user)
        return member.clinic if member else False

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        clinic = self._member_clinic(request)
        if clinic is None:
            return queryset
        if clinic is False:
            return queryset.none()
        path = _clinic_path(self.model)
        return queryset.filter(**_in_clinic(path, clinic)) if path else queryset

    def _limit(self, db_field, request, kwargs):
        clinic = self._member_clinic(request)
        if clinic in (None, False):
            return kwargs
        path = _clinic_path(db_field.related_model)
        if path:
            kwargs["queryset"] = db_field.related_model._default_manager.filter(**_in_clinic(path, clinic))
        return kwargs

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        return super().formfield_for_foreignkey(db_field, request, **self._limit(db_field, request, kwargs))

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        return super().formfield_for_manytomany(db_field, request, **self._limit(db_field, request, kwargs))

    def get_form(self, request, obj=None, change=False, **kwargs):
        """For a manager, show the clinic as theirs and fixed, rather than leave it off the form.

        Left off, it would be left out of validation too: a second room named like the first would
        pass the form and meet the database's unique constraint as a 500. Fixed (a disabled field
        takes its value from here, never from what is sent), every constraint with the clinic in it
        is checked and said on the form.
        """
        form = super().get_form(request, obj, change=change, **kwargs)
        clinic = self._member_clinic(request)
        field = form.base_fields.get("clinic")
        if clinic and field is not None:
            field.disabled = True
            field.initial = clinic.pk
            field.help_text = ""
            for link in ("can_add_related", "can_change_related", "can_delete_related", "can_view_related"):
                setattr(field.widget, link, False)  # no pencil and eye beside a clinic they cannot change
        return form

    def save_model(self, request, obj, form, change):
        clinic = self._member_clinic(request)
        if clinic and hasattr(obj, "clinic_id") and not obj.clinic_id:
            obj.clinic = clinic
        super().save_model(request, obj, form, change)


class ClinicScopedInline(admin.TabularInline):
    """Inline that offers only the manager's clinic's rows in its selects."""

    extra = 0

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        member = None if request.user.is_superuser else staff_member_of(request.user)
        path = _clinic_path(db_field.related_model)
        if member and path:
            kwargs["queryset"] = db_field.related_model._default_manager.filter(
                **_in_clinic(path, member.clinic)
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
