"""The organisation: clinics, their staff, rooms, devices, working hours and the message outbox."""

import datetime as dt
import zoneinfo
from collections.abc import Iterable
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

MAX_NEEDLE_DEPTH_MM = Decimal("3.0")  # the deepest any device in scope reaches; DB-enforced


def optional_needle_depth_check(name: str, field: str = "max_depth_mm") -> models.CheckConstraint:
    """Return a constraint that a nullable needle depth, when given, is above 0 and at most 3 mm."""
    return models.CheckConstraint(
        condition=Q(**{f"{field}__isnull": True})
        | Q(**{f"{field}__gt": 0, f"{field}__lte": MAX_NEEDLE_DEPTH_MM}),
        name=name,
        violation_error_message="A needle depth is above 0 and at most 3 mm (or left empty).",
    )


class Modality(models.TextChoices):
    MICRONEEDLING = "microneedling", "Microneedling"
    MICROCURRENT = "microcurrent", "Microcurrent"
    MESOTHERAPY = "mesotherapy", "Mesotherapy"


class Currency(models.TextChoices):
    """What a clinic's prices are in (ISO 4217), labelled as a manager picks one."""

    GBP = "GBP", "Pound sterling (£)"
    EUR = "EUR", "Euro (€)"
    USD = "USD", "US dollar ($)"
    CAD = "CAD", "Canadian dollar (CA$)"
    AUD = "AUD", "Australian dollar (A$)"
    NZD = "NZD", "New Zealand dollar (NZ$)"
    CHF = "CHF", "Swiss franc (CHF)"


# How a price is written in the clinic's pages: the symbol before the amount.
CURRENCY_SYMBOLS = {
    "GBP": "£",
    "EUR": "€",
    "USD": "$",
    "CAD": "CA$",
    "AUD": "A$",
    "NZD": "NZ$",
    "CHF": "CHF ",
}


def validate_time_zone(value: str) -> None:
    """Refuse anything that is not an IANA time zone name."""
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone (for example Europe/London).")


# Longer than this is a mistyped year, not time off.
LONGEST_TIME_OFF = dt.timedelta(days=366)
# A reminder further ahead than a month is not a reminder; more than five a visit is spam.
LONGEST_REMINDER_LEAD_HOURS = 24 * 31
MOST_REMINDERS = 5


def default_reminder_lead_hours() -> list[int]:
    """Return the reminder lead times a new clinic starts with: a day before and two hours before."""
    return [24, 2]


# The latest a clinic may ask a client how their visit went: a week after it.
FEEDBACK_REQUEST_MAX_HOURS = 168
# The furthest ahead a clinic may let clients book online: two years.
ONLINE_BOOKING_MAX_DAYS = 730
# The longest subject template a clinic's wording may have (its tags count).
SUBJECT_TEMPLATE_MAX = 500
# A staff screen left alone signs out after between this many minutes (Clinic.idle_sign_out_minutes).
IDLE_SIGN_OUT_MIN, IDLE_SIGN_OUT_MAX = 5, 240


class Clinic(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True, help_text="Used in the public booking address.")
    time_zone = models.CharField(
        max_length=64, validators=[validate_time_zone], help_text="IANA name, e.g. Europe/London."
    )
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    address = models.TextField(blank=True)
    currency = models.CharField(
        max_length=3, choices=Currency.choices, default=Currency.GBP, help_text="What the prices are in."
    )
    # Booking policy
    min_booking_notice_minutes = models.PositiveIntegerField(
        default=120, help_text="How long before a visit it can still be booked online."
    )
    cancellation_window_hours = models.PositiveIntegerField(
        default=24, help_text="Clients may cancel or reschedule themselves up to this many hours before."
    )
    missed_visit_fee = models.DecimalField(
        "Fee for a missed or late-cancelled visit",
        max_digits=8,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text="Said in the booking emails, and offered on a visit missed or cancelled within the "
        "cancellation window (never more than its price). Leave empty for none.",
    )
    reminder_lead_hours = models.JSONField(
        default=default_reminder_lead_hours,
        blank=True,
        help_text="Hours before a visit to send reminders, e.g. [24, 2].",
    )
    slot_step_minutes = models.PositiveIntegerField(default=15)
    intake_validity_days = models.PositiveIntegerField(
        default=365, help_text="An intake older than this is asked again before the next visit."
    )
    consent_validity_days = models.PositiveIntegerField(default=365)
    consent_signed_by_practitioner = models.BooleanField(
        "Practitioner countersigns consents",
        default=False,
        help_text=(
            "A practitioner qualified for the treatment goes through each consent with the client and "
            "signs it too, before the first treatment under it."
        ),
    )
    consent_witnessed = models.BooleanField(
        "Consents are witnessed",
        default=False,
        help_text=(
            "A member of staff witnesses each consent: the client confirms in person that they read and "
            "signed it, before the first treatment under it."
        ),
    )
    health_records_kept_years = models.PositiveSmallIntegerField(
        "Keep health records for (years)",
        default=8,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text=(
            "After a client's last treatment, form or consent: until then their record cannot be erased at "
            "their request (in the UK, 8 years for adults)."
        ),
    )
    minor_records_until_age = models.PositiveSmallIntegerField(
        "A child's health records until they are",
        default=25,
        validators=[MinValueValidator(18), MaxValueValidator(100)],
        help_text="For a client treated before the age of majority, kept at least until this birthday.",
    )
    age_of_majority = models.PositiveSmallIntegerField(
        "Adults from the age of",
        default=18,
        validators=[MinValueValidator(16), MaxValueValidator(21)],
        help_text=(
            "A client younger than this on the day they sign has a parent or legal guardian sign their "
            "consents for them."
        ),
    )
    phone_booking_after_no_shows = models.PositiveSmallIntegerField(
        "Book by phone after this many no-shows",
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=(
            "A client who missed this many visits in the last 12 months is asked to call to book, online "
            "and from the waitlist's link; the front desk still books them. Empty: anyone books online."
        ),
    )
    feedback_request_hours = models.PositiveSmallIntegerField(
        "Ask for feedback this many hours after a visit",
        null=True,
        blank=True,
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(FEEDBACK_REQUEST_MAX_HOURS)],
        help_text=(
            "After a completed visit, the client is emailed a link to rate it and say a few words (not "
            "clients who unsubscribed from optional mail). Empty: no such email."
        ),
    )
    online_booking_days_ahead = models.PositiveSmallIntegerField(
        "Clients book online up to this many days ahead",
        default=60,
        validators=[MinValueValidator(1), MaxValueValidator(ONLINE_BOOKING_MAX_DAYS)],
        help_text=(
            "The booking page offers times from today to this many days ahead, and a client moving their "
            "visit from its link moves it within them; the front desk books any day."
        ),
    )
    two_step_required = models.BooleanField(
        "Everyone signs in with a code too",
        default=False,
        help_text=(
            "Each sign-in also asks for a code from an authenticator app on the person's phone; someone "
            "without one sets it up when they next sign in."
        ),
    )
    idle_sign_out_minutes = models.PositiveSmallIntegerField(
        "Sign out after this many minutes without use",
        null=True,
        blank=True,
        validators=[MinValueValidator(IDLE_SIGN_OUT_MIN), MaxValueValidator(IDLE_SIGN_OUT_MAX)],
        help_text=(
            "A screen left signed in shows clients' records to whoever walks past: after this long with "
            "nobody using it, it signs out. Empty: a sign-in lasts the working day."
        ),
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(feedback_request_hours__isnull=True)
                | Q(feedback_request_hours__gte=1, feedback_request_hours__lte=FEEDBACK_REQUEST_MAX_HOURS),
                name="clinic_feedback_request_within_a_week",
                violation_error_message=(
                    "Ask for feedback between 1 hour and a week after the visit, or leave it empty."
                ),
            ),
            models.CheckConstraint(
                condition=Q(
                    online_booking_days_ahead__gte=1, online_booking_days_ahead__lte=ONLINE_BOOKING_MAX_DAYS
                ),
                name="clinic_online_booking_within_two_years",
                violation_error_message="Clients book online between 1 and 730 days ahead.",
            ),
            models.CheckConstraint(
                condition=Q(idle_sign_out_minutes__isnull=True)
                | Q(
                    idle_sign_out_minutes__gte=IDLE_SIGN_OUT_MIN, idle_sign_out_minutes__lte=IDLE_SIGN_OUT_MAX
                ),
                name="clinic_idle_sign_out_5_to_240_minutes",
                violation_error_message="Sign out after 5 to 240 minutes without use, or leave it empty.",
            ),
            models.CheckConstraint(
                condition=Q(slot_step_minutes__gte=5),
                name="clinic_slot_step_at_least_5",
                violation_error_message="The slot step must be at least 5 minutes.",
            ),
            models.CheckConstraint(
                condition=~Q(time_zone=""),
                name="clinic_time_zone_required",
                violation_error_message="Choose the clinic's time zone.",
            ),
            models.CheckConstraint(
                condition=Q(currency__in=Currency.values),
                name="clinic_currency_known",
                violation_error_message="Choose the currency the clinic's prices are in.",
            ),
            models.CheckConstraint(
                condition=Q(missed_visit_fee__isnull=True) | Q(missed_visit_fee__gt=0),
                name="clinic_missed_visit_fee_positive",
                violation_error_message="Leave the fee empty for none, or give more than nothing.",
            ),
            models.CheckConstraint(
                condition=Q(health_records_kept_years__gte=1, minor_records_until_age__gte=18),
                name="clinic_health_records_kept",
                violation_error_message="Health records are kept at least a year, a child's until 18.",
            ),
            models.CheckConstraint(
                condition=Q(age_of_majority__gte=16, age_of_majority__lte=21),
                name="clinic_age_of_majority_16_21",
                violation_error_message="Clients are adults from an age between 16 and 21.",
            ),
            models.CheckConstraint(
                condition=Q(phone_booking_after_no_shows__isnull=True)
                | Q(phone_booking_after_no_shows__gte=1),
                name="clinic_phone_booking_after_a_no_show_or_more",
                violation_error_message="Leave it empty, or ask clients to call after one no-show or more.",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def price_text(self, amount) -> str:
        """A price as the clinic's clients read it: 260 → "£260", 85.5 → "£85.50", 1250 → "£1,250"."""
        amount = Decimal(amount)
        if amount < 0:  # money given back: "−£17"
            return f"−{self.price_text(-amount)}"
        number = f"{amount:,.0f}" if amount == amount.to_integral_value() else f"{amount:,.2f}"
        return f"{CURRENCY_SYMBOLS[self.currency]}{number}"

    def clean(self):
        leads = self.reminder_lead_hours
        if not isinstance(leads, list) or not all(
            isinstance(h, int | float) and not isinstance(h, bool) and 0 < h <= LONGEST_REMINDER_LEAD_HOURS
            for h in leads
        ):
            words = (
                "Give a list of hours before the visit, each more than 0 and at most "
                f"{LONGEST_REMINDER_LEAD_HOURS} (a month), e.g. [24, 2]."
            )
            raise ValidationError({"reminder_lead_hours": words})
        if len(set(leads)) != len(leads):
            raise ValidationError({"reminder_lead_hours": "Each reminder time once, please: e.g. [24, 2]."})
        if len(leads) > MOST_REMINDERS:
            raise ValidationError({"reminder_lead_hours": f"At most {MOST_REMINDERS} reminders a visit."})


class StaffRole(models.TextChoices):
    FRONT_DESK = "front_desk", "Front desk"
    PRACTITIONER = "practitioner", "Practitioner"
    MANAGER = "manager", "Manager"


class ClientChangeEmails(models.TextChoices):
    """When a practitioner is emailed that a client booked, moved or cancelled one of their visits online."""

    NEVER = "never", "Never"
    SOON = "soon", "For visits today or tomorrow"
    ALWAYS = "always", "For every visit"


class StaffMember(models.Model):
    """A user's place in one clinic: the clinic scopes everything the user sees."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff")
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="staff")
    role = models.CharField(max_length=20, choices=StaffRole.choices)
    display_name = models.CharField(max_length=120, help_text="As clients see it, e.g. 'Dr Amara Lee'.")
    is_active = models.BooleanField(default=True)
    client_change_emails = models.CharField(
        max_length=10,
        choices=ClientChangeEmails.choices,
        default=ClientChangeEmails.SOON,
        help_text="Practitioners: when to email them that a client booked, moved or cancelled one of "
        "their visits online (the front desk sees these on the day's list).",
    )

    class Meta:
        ordering = ["clinic_id", "display_name", "id"]
        indexes = [models.Index(fields=["clinic", "role"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(client_change_emails__in=ClientChangeEmails.values),
                name="staff_client_change_emails_known",
                violation_error_message="Choose when to be emailed of clients' changes.",
            ),
        ]

    def __str__(self):
        return self.display_name

    @property
    def is_practitioner(self) -> bool:
        return self.role == StaffRole.PRACTITIONER

    @property
    def is_manager(self) -> bool:
        return self.role == StaffRole.MANAGER


class PractitionerQualification(models.Model):
    """A modality a practitioner may perform, with the deepest needle depth they may use."""

    staff_member = models.ForeignKey(StaffMember, on_delete=models.CASCADE, related_name="qualifications")
    modality = models.CharField(max_length=20, choices=Modality.choices)
    max_depth_mm = models.DecimalField(
        max_digits=3,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(MAX_NEEDLE_DEPTH_MM)],
        help_text="For needle modalities; empty where depth does not apply.",
    )

    class Meta:
        ordering = ["staff_member_id", "modality"]
        constraints = [
            models.UniqueConstraint(
                fields=["staff_member", "modality"],
                name="qualification_once_per_modality",
                violation_error_message=(
                    "This practitioner already has a qualification for that modality: change that row "
                    "instead."
                ),
            ),
            optional_needle_depth_check("qualification_depth_within_0_3mm"),
        ]

    def __str__(self):
        depth = f" ≤ {self.max_depth_mm} mm" if self.max_depth_mm is not None else ""
        return f"{self.get_modality_display()}{depth}"


class Room(models.Model):
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="rooms")
    name = models.CharField(max_length=80)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["clinic_id", "name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "name"],
                name="room_name_unique_per_clinic",
                violation_error_message="There is already a room with this name.",
            )
        ]

    def __str__(self):
        return self.name


class DeviceKind(models.TextChoices):
    ROLLER = "roller", "Dermaroller"
    STAMP = "stamp", "Derma stamp"
    PEN = "pen", "Microneedling pen"
    RF_PEN = "rf_pen", "RF microneedling"
    MICROCURRENT_UNIT = "microcurrent_unit", "Microcurrent unit"
    ELECTROPORATION = "electroporation", "Electroporation (needle-free meso)"
    INJECTOR = "injector", "Mesotherapy injector"


class Device(models.Model):
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="devices")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=30, choices=DeviceKind.choices)
    serial_number = models.CharField(max_length=80, blank=True)
    max_depth_mm = models.DecimalField(
        max_digits=3,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(MAX_NEEDLE_DEPTH_MM)],
        help_text="Deepest setting, for needling devices.",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["clinic_id", "kind", "name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "name"],
                name="device_name_unique_per_clinic",
                violation_error_message="There is already a device with this name.",
            ),
            optional_needle_depth_check("device_depth_within_0_3mm"),
        ]

    def __str__(self):
        return f"{self.name} ({self.get_kind_display()})"


class OutOfService(models.Model):
    """A room or a device not to be booked for a while: a pen away for servicing, a room being painted.

    Availability leaves it out then, booking refuses it (and picks another), and the visits already
    booked with it then are flagged to take another room or device at their time
    (`treatments.booking.appointment_change_room_and_device`). For good, untick the room's or the
    device's "in use" instead.
    """

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="out_of_service")
    room = models.ForeignKey(
        Room, on_delete=models.CASCADE, null=True, blank=True, related_name="out_of_service"
    )
    device = models.ForeignKey(
        Device, on_delete=models.CASCADE, null=True, blank=True, related_name="out_of_service"
    )
    start = models.DateTimeField()
    end = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["clinic_id", "start", "id"]
        verbose_name_plural = "out of service"
        indexes = [models.Index(fields=["clinic", "end"], name="out_of_service_clinic_end")]
        constraints = [
            models.CheckConstraint(
                condition=Q(room__isnull=False, device__isnull=True)
                | Q(room__isnull=True, device__isnull=False),
                name="out_of_service_room_or_device",
                violation_error_message="Choose a room or a device.",
            ),
            models.CheckConstraint(
                condition=Q(end__gt=models.F("start")),
                name="out_of_service_end_after_start",
                violation_error_message="It must end after it starts.",
            ),
        ]

    def __str__(self):
        return f"{self.room or self.device} out of service {self.start:%Y-%m-%d %H:%M}"

    @property
    def name(self) -> str:
        """The room's or the device's name (load them with select_related)."""
        return (self.room or self.device).name


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class WorkingHours(models.Model):
    """A practitioner's regular hours on one weekday, in the clinic's local time.

    Rows without `applies_from` are their rota from the start. Rows with one are a new rota from that
    day: from then on, every earlier row of theirs stops holding (`working_hours_on`), so a manager
    enters January's change in December and the visits booked until then keep the hours they have.
    """

    staff_member = models.ForeignKey(StaffMember, on_delete=models.CASCADE, related_name="working_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start_time = models.TimeField()
    end_time = models.TimeField()
    applies_from = models.DateField(
        "from",
        null=True,
        blank=True,
        help_text="Empty for the usual hours. A date starts a new rota that day: all the hours with this "
        "date replace every earlier row from then on.",
    )

    class Meta:
        # each rota together, the first one first
        ordering = [
            "staff_member_id",
            models.F("applies_from").asc(nulls_first=True),
            "weekday",
            "start_time",
        ]
        verbose_name_plural = "working hours"
        constraints = [
            models.CheckConstraint(
                condition=Q(end_time__gt=models.F("start_time")),
                name="working_hours_end_after_start",
                violation_error_message="Working hours must end after they start.",
            ),
            models.CheckConstraint(
                condition=Q(weekday__gte=0, weekday__lte=6),
                name="working_hours_weekday_0_6",
                violation_error_message="Choose a day of the week.",
            ),
        ]

    def __str__(self):
        since = f" from {self.applies_from:%d %b %Y}" if self.applies_from else ""
        return f"{self.get_weekday_display()} {self.start_time:%H:%M}–{self.end_time:%H:%M}{since}"


def working_hours_on(hours: Iterable[WorkingHours], day: dt.date) -> list[WorkingHours]:
    """Which of a practitioner's working-hours rows hold on a local day: those of their rota in force
    then (the latest `applies_from` on or before the day; rows without one are the first rota), of the
    day's weekday. Nothing when their first rota starts later."""
    hours = list(hours)
    began = [h.applies_from or dt.date.min for h in hours]
    in_force = max((since for since in began if since <= day), default=None)
    weekday = day.weekday()
    return [h for h, since in zip(hours, began, strict=True) if since == in_force and h.weekday == weekday]


class ClinicClosure(models.Model):
    """The clinic is closed (a bank holiday, the Christmas break): no practitioner is bookable.

    Held as one time off row per practitioner pointing here (`TimeOff.closure`), so whatever reads time
    off (availability, booking, the flags on visits, the calendar, the report, the feeds) treats it as
    such without knowing of closures. A practitioner who comes in after all has their row taken back
    alone; one who starts later is given theirs (`clinic.time_off.closures_apply_to`). Taking the
    closure back takes back every row it made.
    """

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="closures")
    start = models.DateTimeField()
    end = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["clinic_id", "start"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gt=models.F("start")),
                name="clinic_closure_end_after_start",
                violation_error_message="A closure must end after it starts.",
            ),
        ]

    def __str__(self):
        return f"{self.clinic} closed {self.start:%Y-%m-%d %H:%M}"


class TimeOff(models.Model):
    staff_member = models.ForeignKey(StaffMember, on_delete=models.CASCADE, related_name="time_off")
    start = models.DateTimeField()
    end = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)
    # Set when the time off is the practitioner's share of the clinic being closed.
    closure = models.ForeignKey(
        ClinicClosure, on_delete=models.CASCADE, null=True, blank=True, related_name="time_off"
    )

    class Meta:
        ordering = ["staff_member_id", "start"]
        verbose_name_plural = "time off"
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gt=models.F("start")),
                name="time_off_end_after_start",
                violation_error_message="Time off must end after it starts.",
            ),
            models.UniqueConstraint(
                fields=["staff_member", "closure"],
                name="time_off_once_per_closure",
                violation_error_message="This practitioner is already off for that closure.",
            ),
        ]

    def __str__(self):
        return f"{self.staff_member} off {self.start:%Y-%m-%d %H:%M}"

    def clean(self):
        """What `clinic.time_off.time_off_record` refuses, said on the admin's form too."""
        if self.start and self.end and self.end - self.start > LONGEST_TIME_OFF:
            raise ValidationError("That is more than a year of time off. Check the dates.")


# One stretch of extra hours: a shift, not a rota (weekly hours are `WorkingHours`).
LONGEST_EXTRA_HOURS = dt.timedelta(hours=16)


class ExtraHours(models.Model):
    """A practitioner works outside their weekly hours once: covers a Saturday, stays late on Thursday.

    Bookable like their weekly hours; time off still wins over it.
    """

    staff_member = models.ForeignKey(StaffMember, on_delete=models.CASCADE, related_name="extra_hours")
    start = models.DateTimeField()
    end = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["staff_member_id", "start"]
        verbose_name_plural = "extra hours"
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gt=models.F("start")),
                name="extra_hours_end_after_start",
                violation_error_message="Extra hours must end after they start.",
            ),
            models.CheckConstraint(
                condition=Q(end__lte=models.F("start") + LONGEST_EXTRA_HOURS),
                name="extra_hours_at_most_16_hours",
                violation_error_message="Extra hours are one shift of at most 16 hours.",
            ),
        ]

    def __str__(self):
        return f"{self.staff_member} extra {self.start:%Y-%m-%d %H:%M}"


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "Scheduled"  # waiting for its due time
    SENDING = "sending", "Sending"  # claimed by one worker; released if that worker dies
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"  # permanent refusal or retries used up; last_error says why
    CANCELLED = "cancelled", "Cancelled"  # its reason went away (e.g. the visit was cancelled)


class MessageTemplate(models.Model):
    """A clinic's own wording for one kind of email; without one, templates/email/<key>/ is used.

    Subject, text and HTML are Django templates rendered with the message's context. Booking
    mail keys are fixed (booking_confirmation, ...); aftercare keys are whatever protocols name.
    """

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="message_templates")
    key = models.SlugField(
        max_length=80, help_text="What the messages name, e.g. aftercare_microneedling_day1."
    )
    description = models.CharField(max_length=200, blank=True)
    # the subject's template, tags and all: longer than any subject it renders
    subject = models.CharField(max_length=SUBJECT_TEMPLATE_MAX)
    body_text = models.TextField(help_text="Plain text: every client's mail program can show it.")
    body_html = models.TextField(blank=True, help_text="Optional HTML version.")
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        "StaffMember", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["clinic_id", "key"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "key"],
                name="message_template_key_unique",
                violation_error_message=(
                    "The clinic already has its own wording for this email: edit that one."
                ),
            ),
            models.CheckConstraint(
                condition=~Q(subject="") & ~Q(body_text=""),
                name="message_template_filled",
                violation_error_message="An email needs a subject and a text.",
            ),
        ]

    def __str__(self):
        return self.key


class OutboxMessage(models.Model):
    """An email to send, written in the same transaction as the change that causes it."""

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="outbox")
    recipient_email = models.EmailField()
    recipient_name = models.CharField(max_length=200, blank=True)
    # A clients.Client id, not a foreign key: the clinic layer sits below clients. Timelines and
    # unsubscribe find a client's messages by it.
    client_id = models.PositiveIntegerField(null=True, blank=True, db_index=True)
    template_key = models.CharField(max_length=80, help_text="Names the templates under templates/email/.")
    context = models.JSONField(default=dict, blank=True)
    topic = models.CharField(max_length=80, blank=True, help_text="What it is about, e.g. 'appointment:42'.")
    is_essential = models.BooleanField(
        default=True, help_text="Booking mail is essential; aftercare and marketing can be unsubscribed."
    )
    due_at = models.DateTimeField()
    status = models.CharField(max_length=12, choices=OutboxStatus.choices, default=OutboxStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(
        max_length=120, blank=True, help_text="host:pid of the worker process holding the claim."
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    smtp_message_id = models.CharField(max_length=255, blank=True)
    last_error = models.TextField(blank=True)
    # When the client's mail server refused the address itself (a 5xx to RCPT TO: no such mailbox),
    # as opposed to a refusal of the message or of the clinic's sender: the address needs correcting,
    # and the staff who meet the client are told so until a message to it gets through.
    address_refused_at = models.DateTimeField(null=True, blank=True)
    dedupe_key = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["due_at", "id"]
        # Few indexes: every message changes status twice (claimed, sent) and each change writes
        # a new entry in every index. Topic is matched exactly, so no LIKE index beside it; the
        # dedupe key's one unique index also serves its prefix searches (varchar_pattern_ops).
        indexes = [
            models.Index(fields=["status", "due_at"], name="outbox_status_due"),
            models.Index(fields=["topic"], name="outbox_topic"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["dedupe_key"], opclasses=["varchar_pattern_ops"], name="outbox_dedupe_key_unique"
            ),
            models.CheckConstraint(
                condition=~Q(status=OutboxStatus.SENT) | Q(sent_at__isnull=False),
                name="outbox_sent_has_sent_at",
            ),
            models.CheckConstraint(condition=~Q(dedupe_key=""), name="outbox_dedupe_key_required"),
            models.CheckConstraint(
                condition=Q(address_refused_at__isnull=True) | Q(status=OutboxStatus.FAILED),
                name="outbox_address_refused_only_when_failed",
            ),
        ]

    def __str__(self):
        return f"{self.template_key} to {self.recipient_email} ({self.status})"

    @property
    def label(self) -> str:
        """The kind of message in words, for staff: "booking_reminder" is "Booking reminder"."""
        return self.template_key.replace("_", " ").replace("-", " ").capitalize()


class SignInFailure(models.Model):
    """A wrong password given for a username (from an address): what locks the account for a while.

    Written however the password was tried (the sign-in page, the admin's); a sign-in that succeeds
    clears its username's. See `clinic.sign_in`.
    """

    username = models.CharField(max_length=150)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["username", "at"], name="sign_in_failure_username_at"),
            models.Index(fields=["ip_address", "at"], name="sign_in_failure_ip_at"),
        ]

    def __str__(self):
        return f"{self.username} from {self.ip_address} at {self.at:%Y-%m-%d %H:%M}"


class PublicWrite(models.Model):
    """A booking or waitlist request sent from the clinic's public pages (from an address): what
    `clinic.public_limits` counts, so one address cannot fill the calendar or send the clinic's emails
    to addresses typed by the hundred. Kept a day."""

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="+")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["clinic", "ip_address", "at"], name="public_write_address_at")]

    def __str__(self):
        return f"{self.ip_address} at {self.at:%Y-%m-%d %H:%M}"


class TwoStepKey(models.Model):
    """A person's authenticator-app secret (RFC 6238): a sign-in then asks for its code as well.

    Unconfirmed until they type a code from their app (the secret reached the app); the step of the
    last code used keeps one code from signing in twice. See `clinic.two_step`.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="two_step_key"
    )
    secret = models.CharField(max_length=64, help_text="Base32, as authenticator apps take it.")
    confirmed_at = models.DateTimeField(null=True, blank=True)
    last_used_step = models.BigIntegerField(default=0, help_text="The 30-second step of the last code used.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    def __str__(self):
        return f"Two-step sign-in of {self.user} ({'on' if self.confirmed_at else 'being set up'})"


class RecoveryCode(models.Model):
    """A one-time code for signing in without the phone, kept as its SHA-256 (the person keeps it)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes"
    )
    code_hash = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "code_hash"], name="recovery_code_unique")]

    def __str__(self):
        return f"Recovery code of {self.user} ({'used' if self.used_at else 'unused'})"


class TwoStepDevice(models.Model):
    """A browser someone trusts for a while (`clinic.two_step.REMEMBERED_FOR`): signing in there asks
    for the password only. The browser keeps a random token in a cookie; this row keeps its SHA-256,
    what the browser said it was, and when it was last used. Forgetting it (the person, a new password,
    two-step sign-in turned off, leaving the clinic) deletes the row: the cookie then counts for nothing.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="two_step_devices"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    described = models.CharField(max_length=200, blank=True, help_text="The browser, as it named itself.")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-last_used_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("created_at")), name="two_step_device_expires_after"
            )
        ]

    def __str__(self):
        return f"Remembered device of {self.user}"


class AccountAction(models.TextChoices):
    SIGNED_IN = "signed_in", "Signed in"
    RECOVERY_CODE_USED = "recovery_code_used", "Signed in with a recovery code"
    PASSWORD_CHANGED = "password_changed", "Changed their password"
    PASSWORD_SET = "password_set", "Given a new password"
    PASSWORD_LINK_SENT = "password_link_sent", "Emailed a link to a new password"
    PASSWORD_SET_FROM_LINK = "password_set_from_link", "Chose a new password from the emailed link"
    EMAIL_CHANGED = "email_changed", "Email address changed"
    UNPAUSED = "unpaused", "Let sign in again after wrong passwords"
    TWO_STEP_ON = "two_step_on", "Turned two-step sign-in on"
    TWO_STEP_OFF = "two_step_off", "Two-step sign-in turned off"
    RECOVERY_CODES_RENEWED = "recovery_codes_renewed", "Made new recovery codes"
    DEVICE_REMEMBERED = "device_remembered", "Asked not to be asked for a code on a device for 30 days"
    DEVICES_FORGOTTEN = "devices_forgotten", "Devices remembered for two-step sign-in forgotten"
    LEFT = "left", "No longer works here: cannot sign in"
    RETURNED = "returned", "Back at the clinic: can sign in again"
    EXPORTED_CLIENTS = "exported_clients", "Downloaded the clinic's clients"
    EXPORTED_VISITS = "exported_visits", "Downloaded the clinic's visits"
    EXPORTED_PAYMENTS = "exported_payments", "Downloaded the clinic's payments"
    EXPORTED_EARLIER_SESSIONS = "exported_earlier", "Downloaded the sessions clients had before"
    IMPORTED_CLIENTS = "imported_clients", "Imported clients from a file"
    IMPORTED_VISITS = "imported_visits", "Imported visits from a file"


class AccountEvent(models.Model):
    """Something that happened to a staff sign-in: signed in (from where), a password or email changed,
    two-step sign-in turned on or off, and who did it when it was someone else (a manager).

    Each person reads their own on "Your password", managers everyone's on the staff page: a sign-in
    nobody remembers making is how a stolen password shows. Kept `clinic.account_events.KEPT_FOR`.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account_events"
    )
    action = models.CharField(max_length=30, choices=AccountAction.choices)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["user", "at"], name="account_event_user_at")]
        constraints = [
            models.CheckConstraint(
                condition=Q(action__in=AccountAction.values), name="account_event_action_known"
            )
        ]

    def __str__(self):
        return f"{self.user}: {self.get_action_display()} at {self.at:%Y-%m-%d %H:%M}"
