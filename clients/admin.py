from django.contrib import admin, messages

from clients.models import (
    Client,
    ClientCondition,
    ConsentCountersignature,
    ConsentTemplate,
    IntakeQuestionnaire,
    IntakeResponse,
    PhotoConsent,
    SignedConsent,
)
from clients.services import form_version_make_current
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


class FormVersionAdmin(ClinicScopedAdmin):
    """A version of a form: its text is fixed once a client has answered or signed it.

    Changing the text of a version in use would leave clients counted as having signed words they
    never saw: the manager adds the next version instead, and makes it current from the list.
    """

    fixed_once_used: list[str] = []
    used_by = ""  # the reverse relation of the answers or signatures
    actions = ["make_current"]

    def get_readonly_fields(self, request, obj=None):
        fixed = list(super().get_readonly_fields(request, obj))
        if obj is not None and getattr(obj, self.used_by).exists():
            fixed += self.fixed_once_used
        return fixed

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if "is_current" in form.base_fields:
            form.base_fields["is_current"].help_text = (
                "To publish a new version, save it, then choose it in the list and make it the current "
                "version: the one current now stops being so."
            )
        return form

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        if obj is not None and request.method == "GET" and getattr(obj, self.used_by).exists():
            messages.info(
                request,
                "Clients have already answered or signed this version, so its text cannot change. "
                "To change it, add a new version with the next number and make it current.",
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def after_made_current(self, request, version) -> None:
        """What else to tell the manager once a version is current (the treatments layer adds the visits)."""

    @admin.action(description="Make the chosen version the current one", permissions=["change"])
    def make_current(self, request, queryset):
        chosen = list(queryset)
        if len(chosen) != 1:
            self.message_user(request, "Choose exactly one version to make current.", messages.ERROR)
            return
        version = chosen[0]
        if form_version_make_current(version):
            self.message_user(
                request,
                f"“{version.title}” version {version.version} is now current. Clients with an older "
                "version are asked again before their next visit.",
                messages.SUCCESS,
            )
            self.after_made_current(request, version)
        else:
            self.message_user(request, f"“{version.title}” version {version.version} was already current.")


@admin.register(IntakeQuestionnaire)
class IntakeQuestionnaireAdmin(FormVersionAdmin):
    list_display = ["title", "version", "is_current", "published_at"]
    fields = ["clinic", "version", "title", "questions", "is_current", "published_at"]
    fixed_once_used = ["version", "title", "questions"]
    used_by = "responses"


class ConditionInline(ClinicScopedInline):
    model = ClientCondition
    readonly_fields = ["client", "code", "noted_on", "details"]
    can_delete = False


@admin.register(IntakeResponse)
class IntakeResponseAdmin(ClinicScopedAdmin):
    list_display = ["client", "questionnaire", "submitted_at"]
    readonly_fields = [
        "client",
        "questionnaire",
        "answers",
        "fitzpatrick_type",
        "submitted_at",
        "ip_address",
        "user_agent",
    ]
    inlines = [ConditionInline]


@admin.register(ConsentTemplate)
class ConsentTemplateAdmin(FormVersionAdmin):
    list_display = ["title", "modality", "version", "is_current", "published_at"]
    list_filter = ["modality", "is_current"]
    fields = ["clinic", "modality", "version", "title", "body", "is_current", "published_at"]
    fixed_once_used = ["modality", "version", "title", "body"]
    used_by = "signatures"


class CountersignatureInline(ClinicScopedInline):
    """The clinic's staff's signatures on the consent: read-only, as the database keeps them."""

    model = ConsentCountersignature
    fields = readonly_fields = ["role", "signer_name", "signed_at", "statement"]
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(SignedConsent)
class SignedConsentAdmin(ClinicScopedAdmin):
    """Read-only: a signed consent is evidence and the database refuses any change."""

    list_display = ["client", "modality", "version", "signed_at"]
    list_filter = ["modality"]
    inlines = [CountersignatureInline]

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
