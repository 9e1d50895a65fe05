from django.contrib import admin

from clinic.admin_scoping import ClinicScopedAdmin, ClinicScopedInline
from treatments.models import (
    Appointment,
    AppointmentEvent,
    BodyArea,
    ContraindicationRule,
    Course,
    MesotherapyRecord,
    MicrocurrentRecord,
    MicroneedlingRecord,
    Product,
    ProductLot,
    Protocol,
    ProtocolArea,
    Service,
    SessionPhoto,
    TreatmentSession,
)


@admin.register(BodyArea)
class BodyAreaAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "snomed_code", "is_body"]


class ProtocolAreaInline(ClinicScopedInline):
    model = ProtocolArea


class ContraindicationInline(ClinicScopedInline):
    model = ContraindicationRule


@admin.register(Protocol)
class ProtocolAdmin(ClinicScopedAdmin):
    list_display = ["name", "modality", "min_interval_days", "course_sessions", "is_active"]
    list_filter = ["modality", "is_active"]
    inlines = [ProtocolAreaInline, ContraindicationInline]


class ProductLotInline(ClinicScopedInline):
    model = ProductLot


@admin.register(Product)
class ProductAdmin(ClinicScopedAdmin):
    list_display = ["name", "manufacturer", "is_active"]
    inlines = [ProductLotInline]


@admin.register(Service)
class ServiceAdmin(ClinicScopedAdmin):
    list_display = ["name", "duration_minutes", "price", "device_kind", "bookable_online", "is_active"]
    list_filter = ["bookable_online", "is_active"]
    filter_horizontal = ["protocols"]


class AppointmentEventInline(ClinicScopedInline):
    model = AppointmentEvent
    readonly_fields = ["actor", "at", "action", "details"]
    can_delete = False


@admin.register(Appointment)
class AppointmentAdmin(ClinicScopedAdmin):
    list_display = ["start", "client", "service", "practitioner", "room", "device", "status"]
    list_filter = ["status", "practitioner"]
    date_hierarchy = "start"
    raw_id_fields = ["client", "course"]
    list_select_related = ["client", "service", "practitioner", "room", "device"]
    inlines = [AppointmentEventInline]


@admin.register(Course)
class CourseAdmin(ClinicScopedAdmin):
    list_display = ["client", "service", "planned_sessions", "created_at"]
    raw_id_fields = ["client"]


class MicroneedlingInline(ClinicScopedInline):
    model = MicroneedlingRecord


class MicrocurrentInline(ClinicScopedInline):
    model = MicrocurrentRecord


class MesotherapyInline(ClinicScopedInline):
    model = MesotherapyRecord


class PhotoInline(ClinicScopedInline):
    model = SessionPhoto


@admin.register(TreatmentSession)
class TreatmentSessionAdmin(ClinicScopedAdmin):
    list_display = ["client", "practitioner", "started_at", "signed_off_at"]
    raw_id_fields = ["client", "appointment"]
    inlines = [MicroneedlingInline, MicrocurrentInline, MesotherapyInline, PhotoInline]
