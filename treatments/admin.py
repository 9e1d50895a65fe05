import zoneinfo
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from clients.admin import ConsentTemplateAdmin, IntakeQuestionnaireAdmin
from clients.models import ConsentTemplate, IntakeQuestionnaire
from clinic.admin import ClinicAdmin, StaffMemberAdmin
from clinic.admin_scoping import ClinicScopedAdmin, ClinicScopedInline
from clinic.models import (
    Clinic,
    ExtraHours,
    PractitionerQualification,
    StaffMember,
    StaffRole,
    TimeOff,
    WorkingHours,
)
from treatments.contraindications import rules_never_met
from treatments.models import (
    Appointment,
    AppointmentEvent,
    AppointmentStatus,
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
    SessionAddendum,
    SessionPhoto,
    TreatmentSession,
)
from treatments.notifications import reminders_follow_lead_times
from treatments.selectors import (
    VISITS_AHEAD_CHECKED,
    short_local,
    visits_ahead_needing,
    visits_left_without_their_practitioner,
)
from treatments.waitlist import waitlist_free_times_now, waitlist_offer_came_free, waitlist_offer_extra_hours


@admin.register(BodyArea)
class BodyAreaAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "snomed_code", "is_body"]


class ProtocolAreaInline(ClinicScopedInline):
    model = ProtocolArea


class ContraindicationInline(ClinicScopedInline):
    model = ContraindicationRule


def _never_met_text(rules: list[ContraindicationRule]) -> str:
    codes = ", ".join(f"“{rule.condition_code}”" for rule in rules)
    which = "this rule" if len(rules) == 1 else "these rules"
    return (
        f"No question of the current intake form records {codes}, so {which} can never apply."
        " Add a question that records it (a new version of the intake form), or correct "
        "the condition code."
    )


@admin.register(Protocol)
class ProtocolAdmin(ClinicScopedAdmin):
    list_display = ["name", "modality", "min_interval_days", "course_sessions", "is_active"]
    list_filter = ["modality", "is_active"]
    inlines = [ProtocolAreaInline, ContraindicationInline]
    readonly_fields = ["rules_never_met"]

    @admin.display(description="Contraindication rules that can never apply")
    def rules_never_met(self, protocol):
        never = rules_never_met(protocol) if protocol.pk else []
        return _never_met_text(never) if never else "None: the intake form records every condition they name."

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if never := rules_never_met(form.instance):
            messages.warning(request, _never_met_text(never))


class ProductLotInline(ClinicScopedInline):
    model = ProductLot


@admin.register(Product)
class ProductAdmin(ClinicScopedAdmin):
    list_display = ["name", "manufacturer", "is_active"]
    inlines = [ProductLotInline]


@admin.register(Service)
class ServiceAdmin(ClinicScopedAdmin):
    list_display = [
        "name",
        "duration_minutes",
        "price",
        "device_kind",
        "second_device_kind",
        "bookable_online",
        "is_active",
    ]
    list_filter = ["bookable_online", "is_active"]
    filter_horizontal = ["protocols"]


class WritesNothing:
    """Shown in the admin, never written there: the changes go through the staff pages' services.

    Booking, moving and cancelling check the practitioner, room, device, rules and time, record who
    did it and tell the client; a signed-off session is fixed. A save here would do none of that (and
    on SQLite, which has no exclusion constraints, could even double-book).
    """

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(WritesNothing, ClinicScopedInline):
    """Rows shown under a read-only record (its history, its settings per area)."""


class AppointmentEventInline(ReadOnlyInline):
    model = AppointmentEvent
    readonly_fields = ["actor", "at", "action", "details"]


class ReadOnlyRecordAdmin(WritesNothing, ClinicScopedAdmin):
    """A visit, a course or a treatment session: see `WritesNothing`."""


@admin.register(Appointment)
class AppointmentAdmin(ReadOnlyRecordAdmin):
    list_display = ["start", "client", "service", "practitioner", "room", "device", "second_device", "status"]
    list_filter = ["status", "practitioner"]
    date_hierarchy = "start"
    raw_id_fields = ["client", "course"]
    list_select_related = ["client", "service", "practitioner", "room", "device", "second_device"]
    inlines = [AppointmentEventInline]


@admin.register(Course)
class CourseAdmin(ReadOnlyRecordAdmin):
    list_display = ["client", "service", "planned_sessions", "created_at"]
    raw_id_fields = ["client"]


class MicroneedlingInline(ReadOnlyInline):
    model = MicroneedlingRecord


class MicrocurrentInline(ReadOnlyInline):
    model = MicrocurrentRecord


class MesotherapyInline(ReadOnlyInline):
    model = MesotherapyRecord


class PhotoInline(ReadOnlyInline):
    model = SessionPhoto
    # the file is read on the record page, which checks who asks; MEDIA_URL serves nothing
    exclude = ["image"]


class AddendumInline(ReadOnlyInline):
    model = SessionAddendum


@admin.register(TreatmentSession)
class TreatmentSessionAdmin(ReadOnlyRecordAdmin):
    list_display = ["client", "practitioner", "started_at", "signed_off_at"]
    raw_id_fields = ["client", "appointment"]
    inlines = [MicroneedlingInline, MicrocurrentInline, MesotherapyInline, PhotoInline, AddendumInline]


# How many of the visits left without their practitioner the manager's note lists by name.
VISITS_NAMED = 10


class StaffMemberWithVisitsAdmin(StaffMemberAdmin):
    """The staff page, which also says which booked visits new hours, qualifications, time off or leaving
    leave without the practitioner.

    Defined here, not in `clinic.admin`, because the visits are this layer's.
    """

    def save_related(self, request, form, formsets, change):
        member = form.instance
        # new weekly hours (a new rota), qualifications or time off taken back may open times that suit
        # clients on the waitlist: what suits them is read before and after, and what came free offered
        opening = member.role == StaffRole.PRACTITIONER and any(
            formset.model in (WorkingHours, PractitionerQualification, TimeOff) and formset.has_changed()
            for formset in formsets
        )
        suited_before = waitlist_free_times_now(member.clinic) if opening else None
        super().save_related(request, form, formsets, change)
        if member.role != StaffRole.PRACTITIONER:
            return
        # extra hours added or changed here are free time, as on the time-off page: the waitlist hears
        # of them in the admin's transaction
        for formset in formsets:
            if formset.model is ExtraHours:
                for extra in [*formset.new_objects, *(changed for changed, _ in formset.changed_objects)]:
                    waitlist_offer_extra_hours(extra)
        if suited_before is not None:
            waitlist_offer_came_free(
                member.clinic,
                suited_before,
                because=f"staff-settings:{member.pk}:{timezone.now():%Y%m%d%H%M%S%f}",
            )
        left = visits_left_without_their_practitioner(member, now=timezone.now())
        if left:
            messages.warning(request, _left_without_note(member, left))


def _left_without_note(member, left) -> str:
    """ "Sam Rivera has 2 booked visits ahead without them: Tue 8 Dec 14:00 Ann Lee (not working then), …" """
    zone = member.clinic.zone
    count = len(left)
    named = format_html_join(
        ", ",
        '<a href="{}">{} {}</a> ({})',
        (
            (reverse("appointment-detail", args=[v.pk]), short_local(v.start, zone), v.client.full_name, why)
            for v, why in left[:VISITS_NAMED]
        ),
    )
    if count >= VISITS_AHEAD_CHECKED:
        more = f" and more (the first {VISITS_AHEAD_CHECKED} were checked)"
    else:
        more = f" and {count - VISITS_NAMED} more" if count > VISITS_NAMED else ""
    together = format_html(
        ' The <a href="{}">time off page</a> hands them to a colleague together.', reverse("time-off")
    )
    return format_html(
        "{} has {} booked visit{} ahead without them: {}{}. They stay booked until moved: open each to "
        "give it to a colleague or another time.{}",
        member.display_name,
        count,
        "" if count == 1 else "s",
        named,
        more,
        together,
    )


class ClinicWithRemindersAdmin(ClinicAdmin):
    """The clinic's settings; changed reminder times apply to the visits already booked too, and a
    changed time zone says what it does to them."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "time_zone" in form.changed_data:
            _warn_of_the_zone_change(request, obj, form.initial.get("time_zone", ""))
        if change and "reminder_lead_hours" in form.changed_data:
            scheduled, cancelled = reminders_follow_lead_times(obj)
            leads = " and ".join(f"{hours:g} h" for hours in sorted(obj.reminder_lead_hours, reverse=True))
            now_sent = f"Reminders now go {leads} before each visit" if leads else "No reminders are sent now"
            messages.info(
                request,
                f"{now_sent}. The visits already booked follow: {scheduled} reminder"
                f"{'' if scheduled == 1 else 's'} scheduled, {cancelled} cancelled.",
            )


def _warn_of_the_zone_change(request, clinic, old_zone: str) -> None:
    """Say that the visits ahead keep their moment, so their local times change, the first as example."""
    ahead = Appointment.objects.filter(
        clinic=clinic, status=AppointmentStatus.BOOKED, start__gt=timezone.now()
    )
    first = ahead.select_related("client").order_by("start", "id").first()
    if first is None:
        return
    count = ahead.count()
    was, now = short_local(first.start, zoneinfo.ZoneInfo(old_zone)), short_local(first.start, clinic.zone)
    visits = f"{count} booked visit{'' if count == 1 else 's'}"
    messages.warning(
        request,
        format_html(
            "The clinic's time zone is now {}. Its {} ahead keep their moment, so they show at new local "
            "times: {}'s was {} ({}), now {}. If they were booked in the wrong zone, "
            '<a href="{}">move them back to the clock times they were booked at</a>. Emails still to go '
            "give the new times.",
            clinic.time_zone,
            visits,
            first.client.full_name,
            was,
            old_zone,
            now,
            f"{reverse('keep-clock-times')}?{urlencode({'from': old_zone})}",
        ),
    )


class TellsTheVisitsAhead:
    """Once a form version is current, say how many visits ahead now wait for it, and where to chase them."""

    def after_made_current(self, request, version) -> None:
        visits = visits_ahead_needing(version, clinic=version.clinic, now=timezone.now())
        if not visits:
            return
        clients = len({v.client_id for v in visits})
        messages.info(
            request,
            format_html(
                "{} booked visit{} ahead ({} client{}) now wait{} for it, the first {}. The "
                '<a href="{}">day\'s list</a> marks them "Forms missing", their reminders ask for it, '
                'and <a href="{}">one page emails them all the link now</a>.',
                len(visits),
                "" if len(visits) == 1 else "s",
                clients,
                "" if clients == 1 else "s",
                "s" if len(visits) == 1 else "",
                short_local(visits[0].start, version.clinic.zone),
                f"{reverse('home')}?date={visits[0].start.astimezone(version.clinic.zone).date().isoformat()}",
                reverse("forms-ahead"),
            ),
        )


class ConsentTemplateWithVisitsAdmin(TellsTheVisitsAhead, ConsentTemplateAdmin):
    pass


class IntakeQuestionnaireWithVisitsAdmin(TellsTheVisitsAhead, IntakeQuestionnaireAdmin):
    pass


admin.site.unregister(StaffMember)
admin.site.register(StaffMember, StaffMemberWithVisitsAdmin)
admin.site.unregister(Clinic)
admin.site.register(Clinic, ClinicWithRemindersAdmin)
admin.site.unregister(ConsentTemplate)
admin.site.register(ConsentTemplate, ConsentTemplateWithVisitsAdmin)
admin.site.unregister(IntakeQuestionnaire)
admin.site.register(IntakeQuestionnaire, IntakeQuestionnaireWithVisitsAdmin)
