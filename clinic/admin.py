from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet

from clinic.admin_scoping import ClinicScopedAdmin, ClinicScopedInline
from clinic.models import (
    Clinic,
    Device,
    ExtraHours,
    OutboxMessage,
    PractitionerQualification,
    Room,
    StaffMember,
    TimeOff,
    Weekday,
    WorkingHours,
)
from clinic.time_off import closures_apply_to


@admin.register(Clinic)
class ClinicAdmin(ClinicScopedAdmin):
    list_display = ["name", "time_zone", "email", "phone"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}
    fieldsets = [
        (None, {"fields": ["name", "slug", "time_zone", "currency", "email", "phone", "address"]}),
        (
            "Booking policy",
            {
                "fields": [
                    "min_booking_notice_minutes",
                    "online_booking_days_ahead",
                    "cancellation_window_hours",
                    "missed_visit_fee",
                    "phone_booking_after_no_shows",
                    "reminder_lead_hours",
                    "feedback_request_hours",
                    "slot_step_minutes",
                    "intake_validity_days",
                    "consent_validity_days",
                    "consent_signed_by_practitioner",
                    "consent_witnessed",
                    "age_of_majority",
                ]
            },
        ),
        ("Health records", {"fields": ["health_records_kept_years", "minor_records_until_age"]}),
    ]

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


class QualificationInline(ClinicScopedInline):
    model = PractitionerQualification


class WorkingHoursFormSet(BaseInlineFormSet):
    """Within one rota (the rows with the same `applies_from`), one weekday's hours do not overlap."""

    def clean(self):
        super().clean()
        seen: dict[tuple, list[tuple]] = {}
        for form in self.forms:
            data = getattr(form, "cleaned_data", None) or {}
            if not data or data.get("DELETE") or not data.get("start_time") or not data.get("end_time"):
                continue
            rota = (data.get("weekday"), data.get("applies_from"))
            window = (data["start_time"], data["end_time"])
            for start, end in seen.get(rota, []):
                if window[0] < end and start < window[1]:
                    day = dict(Weekday.choices).get(rota[0], "that day")
                    since = f" from {rota[1]:%d %b %Y}" if rota[1] else ""
                    raise ValidationError(
                        f"Two of the hours on {day}{since} overlap ({start:%H:%M}–{end:%H:%M} and "
                        f"{window[0]:%H:%M}–{window[1]:%H:%M}): make them one, or end one before the "
                        "other starts."
                    )
            seen.setdefault(rota, []).append(window)


class WorkingHoursInline(ClinicScopedInline):
    model = WorkingHours
    formset = WorkingHoursFormSet
    fields = ["weekday", "start_time", "end_time", "applies_from"]


class TimeOffInline(ClinicScopedInline):
    model = TimeOff
    fields = ["start", "end", "reason", "closure"]
    readonly_fields = ["closure"]  # a closure is recorded and taken back on the time off page


class ExtraHoursInline(ClinicScopedInline):
    model = ExtraHours


@admin.register(StaffMember)
class StaffMemberAdmin(ClinicScopedAdmin):
    list_display = ["display_name", "role", "clinic", "is_active"]
    list_filter = ["role", "is_active"]
    search_fields = ["display_name", "user__username"]
    raw_id_fields = ["user"]
    inlines = [QualificationInline, WorkingHoursInline, TimeOffInline, ExtraHoursInline]

    def save_related(self, request, form, formsets, change):
        """A practitioner who starts, or starts again, is off when the clinic is closed, as the others are."""
        super().save_related(request, form, formsets, change)
        if not change or {"role", "is_active"} & set(form.changed_data):
            closures_apply_to(form.instance)


@admin.register(Room)
class RoomAdmin(ClinicScopedAdmin):
    list_display = ["name", "clinic", "is_active"]


@admin.register(Device)
class DeviceAdmin(ClinicScopedAdmin):
    list_display = ["name", "kind", "max_depth_mm", "serial_number", "is_active"]
    list_filter = ["kind", "is_active"]


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ClinicScopedAdmin):
    list_display = ["template_key", "recipient_email", "status", "due_at", "sent_at", "attempts"]
    list_filter = ["status", "template_key"]
    search_fields = ["recipient_email", "topic", "dedupe_key"]
    readonly_fields = [f.name for f in OutboxMessage._meta.fields]

    def has_add_permission(self, request):
        return False
