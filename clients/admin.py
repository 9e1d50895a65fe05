from django.contrib import admin

from clients.models import (
    Client,
    ClientCondition,
    ConsentTemplate,
    IntakeQuestionnaire,
    IntakeResponse,
    PhotoConsent,
    SignedConsent,
)
from clinic.admin_scoping import ClinicScopedAdmin, ClinicScopedInline
from clinic.outbox import outbox_readdress


@admin.register(Client)
class ClientAdmin(ClinicScopedAdmin):
    list_display = ["last_name", "first_name", "email", "phone", "date_of_birth"]
    search_fields = ["first_name", "last_name", "email", "phone"]

    def save_model(self, request, obj, form, change):
        """Save; the client's scheduled emails follow a changed address, as on the client's page."""
        super().save_model(request, obj, form, change)
        if change and {"email", "first_name", "last_name"} & set(form.changed_data):
            outbox_readdress(
                client_id=obj.pk,
                recipient_email=obj.email,
                recipient_name=obj.full_name,
                first_name=obj.first_name,
            )


@admin.register(IntakeQuestionnaire)
class IntakeQuestionnaireAdmin(ClinicScopedAdmin):
    list_display = ["title", "version", "is_current", "published_at"]


class ConditionInline(ClinicScopedInline):
    model = ClientCondition
    readonly_fields = ["client", "code", "noted_on", "details"]
    can_delete = False


@admin.register(IntakeResponse)
class IntakeResponseAdmin(ClinicScopedAdmin):
    list_display = ["client", "questionnaire", "submitted_at"]
    readonly_fields = ["client", "questionnaire", "answers", "submitted_at", "ip_address", "user_agent"]
    inlines = [ConditionInline]


@admin.register(ConsentTemplate)
class ConsentTemplateAdmin(ClinicScopedAdmin):
    list_display = ["title", "modality", "version", "is_current"]
    list_filter = ["modality", "is_current"]


@admin.register(SignedConsent)
class SignedConsentAdmin(ClinicScopedAdmin):
    """Read-only: a signed consent is evidence and the database refuses any change."""

    list_display = ["client", "modality", "version", "signed_at"]
    list_filter = ["modality"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in SignedConsent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PhotoConsent)
class PhotoConsentAdmin(ClinicScopedAdmin):
    list_display = ["client", "scope", "granted_at", "revoked_at"]
