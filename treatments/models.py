"""Protocols, services, appointments and the treatment sessions recorded against them."""

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from clients.models import Client
from clinic.models import (
    MAX_NEEDLE_DEPTH_MM,
    Clinic,
    Device,
    DeviceKind,
    Modality,
    Room,
    StaffMember,
    optional_needle_depth_check,
)

MAX_MICROCURRENT_UA = 1000  # microcurrent is always below 1 mA
MAX_MESO_DEPTH_MM = Decimal("13.0")
# No visit holds a practitioner, room or device longer than this; it bounds every overlap search.
MAX_HELD = dt.timedelta(days=1)  # point-by-point body technique reaches 4–12 mm


class BodyArea(models.Model):
    """A treatable area, with its SNOMED CT body-site code where one is known."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=80)
    snomed_code = models.CharField(max_length=20, blank=True)
    is_body = models.BooleanField(default=False, help_text="Body rather than face.")

    class Meta:
        ordering = ["is_body", "name"]

    def __str__(self):
        return self.name


class Waveform(models.TextChoices):
    SQUARE = "square", "Square"
    SINE = "sine", "Sine"
    SAWTOOTH = "sawtooth", "Sawtooth"
    OTHER = "other", "Other"


class MesoTechnique(models.TextChoices):
    NAPPAGE = "nappage", "Nappage"
    PAPULE = "papule", "Papule"
    POINT_BY_POINT = "point_by_point", "Point by point"
    LINEAR_RETROGRADE = "linear_retrograde", "Linear / retrograde"
    NEEDLE_FREE = "needle_free", "Needle-free (patch or electroporation)"


class Product(models.Model):
    """A mesotherapy product the clinic stocks."""

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="products")
    name = models.CharField(max_length=150)
    manufacturer = models.CharField(max_length=150, blank=True)
    ingredients = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    # The stock page asks for more once the usable lots hold less than this (`treatments.stock`).
    reorder_below_ml = models.DecimalField(
        "Order more below (mL)",
        max_digits=8,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text="The stock page asks for more once the lots that can still be given hold less than this.",
    )

    class Meta:
        ordering = ["clinic_id", "name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "name"],
                name="product_name_unique_per_clinic",
                violation_error_message="There is already a product with this name.",
            )
        ]

    def __str__(self):
        return self.name


RECALL_NOTE_MAX_CHARACTERS = 500


class ProductLot(models.Model):
    """A manufacturer's lot (batch): a recall must find every client who received it."""

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="lots")
    lot_number = models.CharField(max_length=60)
    expiry_date = models.DateField()
    received_on = models.DateField(null=True, blank=True)
    # What the lot held when it came (all its vials or ampoules, in mL): the stock page takes away what
    # the treatment records gave of it and what was written off (`LotWriteOff`). Unknown when empty.
    received_ml = models.DecimalField(
        "Received (mL)",
        max_digits=8,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text="All the lot's vials or ampoules together, in mL, for the stock page.",
    )
    # The manufacturer recalled it (`treatments.lot_recalls`): never given again, its clients told.
    recalled_on = models.DateField(null=True, blank=True, editable=False)
    recall_note = models.CharField(max_length=RECALL_NOTE_MAX_CHARACTERS, blank=True, editable=False)
    recalled_by = models.ForeignKey(
        StaffMember, on_delete=models.SET_NULL, null=True, blank=True, editable=False, related_name="+"
    )

    class Meta:
        ordering = ["product_id", "expiry_date", "lot_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["product", "lot_number"],
                name="lot_unique_per_product",
                violation_error_message="This lot number is already recorded for this product.",
            ),
            models.CheckConstraint(
                condition=Q(recalled_on__isnull=True, recall_note="")
                | (Q(recalled_on__isnull=False) & ~Q(recall_note="")),
                name="lot_recall_says_why",
                violation_error_message="A recalled lot says what the manufacturer said.",
            ),
            models.CheckConstraint(
                condition=Q(received_ml__isnull=True) | Q(received_ml__gt=0),
                name="lot_received_more_than_nothing",
                violation_error_message="A lot received holds more than nothing: leave it empty if unknown.",
            ),
        ]

    def __str__(self):
        return f"{self.product} lot {self.lot_number} (exp. {self.expiry_date:%Y-%m-%d})"


WRITE_OFF_REASON_MAX_CHARACTERS = 200


class LotWriteOff(models.Model):
    """Stock of a lot that will not be given: a vial broken or spilt, the rest of an expired or
    recalled lot thrown away, a count that found less than the records say (`treatments.stock`)."""

    lot = models.ForeignKey(ProductLot, on_delete=models.PROTECT, related_name="write_offs")
    volume_ml = models.DecimalField(max_digits=8, decimal_places=2)
    reason = models.CharField(max_length=WRITE_OFF_REASON_MAX_CHARACTERS)
    by = models.ForeignKey(StaffMember, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["lot_id", "at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(volume_ml__gt=0),
                name="write_off_more_than_nothing",
                violation_error_message="Write off more than nothing.",
            ),
            models.CheckConstraint(
                condition=~Q(reason=""), name="write_off_says_why", violation_error_message="Say why."
            ),
        ]

    def __str__(self):
        return f"{self.volume_ml} mL of lot {self.lot_id} written off"


class Protocol(models.Model):
    """A clinic's editable rules for one modality: ranges, devices, intervals and course plan.

    The modality decides which fields apply; every default comes from seed data, not from code.
    """

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="protocols")
    modality = models.CharField(max_length=20, choices=Modality.choices)
    name = models.CharField(max_length=150)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    # Interval and course plan
    min_interval_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Shortest time between two sessions of this protocol."
    )
    course_sessions = models.PositiveIntegerField(null=True, blank=True)
    course_sessions_per_week = models.DecimalField(max_digits=3, decimal_places=1, null=True, blank=True)
    course_interval_days = models.PositiveIntegerField(null=True, blank=True)
    maintenance_interval_days = models.PositiveIntegerField(null=True, blank=True)
    # Microneedling
    allowed_device_kinds = models.JSONField(default=list, blank=True, help_text="Device kinds, e.g. ['pen'].")
    # Microcurrent
    current_min_ua = models.PositiveIntegerField(null=True, blank=True)
    current_max_ua = models.PositiveIntegerField(null=True, blank=True)
    frequency_min_hz = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    frequency_max_hz = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    waveforms = models.JSONField(default=list, blank=True)
    # Mesotherapy
    techniques = models.JSONField(default=list, blank=True)
    depth_min_mm = models.DecimalField(max_digits=4, decimal_places=2, null=True, blank=True)
    depth_max_mm = models.DecimalField(max_digits=4, decimal_places=2, null=True, blank=True)
    products = models.ManyToManyField(Product, blank=True, related_name="protocols")
    # Aftercare
    aftercare_deep_threshold_mm = models.DecimalField(
        max_digits=3,
        decimal_places=2,
        default=Decimal("1.00"),
        help_text="A session needled deeper than this gets the steps marked 'deep' instead of 'standard'.",
    )

    class Meta:
        ordering = ["clinic_id", "modality", "name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "name"],
                name="protocol_name_unique_per_clinic",
                violation_error_message="There is already a protocol with this name.",
            ),
            models.CheckConstraint(
                condition=Q(current_max_ua__isnull=True) | Q(current_max_ua__lt=MAX_MICROCURRENT_UA),
                name="protocol_current_below_1ma",
                violation_error_message="Microcurrent stays below 1 mA: give at most 999 µA.",
            ),
            models.CheckConstraint(
                condition=Q(current_min_ua__isnull=True)
                | Q(current_max_ua__isnull=True)
                | Q(current_min_ua__lte=F("current_max_ua")),
                name="protocol_current_range_ordered",
                violation_error_message="The lowest current must not be above the highest.",
            ),
            models.CheckConstraint(
                condition=Q(frequency_min_hz__isnull=True)
                | Q(frequency_max_hz__isnull=True)
                | Q(frequency_min_hz__gt=0, frequency_min_hz__lte=F("frequency_max_hz")),
                name="protocol_frequency_range_ordered",
                violation_error_message="The lowest frequency must not be above the highest.",
            ),
            models.CheckConstraint(
                condition=Q(depth_min_mm__isnull=True)
                | Q(depth_max_mm__isnull=True)
                | Q(
                    depth_min_mm__gt=0,
                    depth_min_mm__lte=F("depth_max_mm"),
                    depth_max_mm__lte=MAX_MESO_DEPTH_MM,
                ),
                name="protocol_depth_range_ordered",
                violation_error_message=(
                    "Give depths above 0 and at most 13 mm, the shallowest no deeper than the deepest."
                ),
            ),
        ]

    def __str__(self):
        return self.name


class ProtocolArea(models.Model):
    """An area a protocol treats; for microneedling, its depth range (within 0–3 mm)."""

    protocol = models.ForeignKey(Protocol, on_delete=models.CASCADE, related_name="areas")
    area = models.ForeignKey(BodyArea, on_delete=models.PROTECT, related_name="+")
    min_depth_mm = models.DecimalField(max_digits=3, decimal_places=2, null=True, blank=True)
    max_depth_mm = models.DecimalField(max_digits=3, decimal_places=2, null=True, blank=True)
    notes = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["protocol_id", "area__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["protocol", "area"],
                name="protocol_area_once",
                violation_error_message="This area is already in the protocol.",
            ),
            models.CheckConstraint(
                condition=(Q(min_depth_mm__isnull=True) & Q(max_depth_mm__isnull=True))
                | Q(
                    min_depth_mm__gt=0,
                    min_depth_mm__lte=F("max_depth_mm"),
                    max_depth_mm__lte=MAX_NEEDLE_DEPTH_MM,
                ),
                name="protocol_area_depth_within_0_3mm",
                violation_error_message=(
                    "Give both depths, above 0 and at most 3 mm, the shallowest no deeper than the "
                    "deepest (or neither)."
                ),
            ),
        ]

    def __str__(self):
        if self.min_depth_mm is None:
            return str(self.area)
        return f"{self.area}: {self.min_depth_mm}–{self.max_depth_mm} mm"


class AftercareCondition(models.TextChoices):
    ALWAYS = "always", "Every session"
    DEEP = "deep", "Only when needled deeper than the protocol's threshold"
    STANDARD = "standard", "Only when not needled deeper than the threshold"


class AftercareStep(models.Model):
    """One message of a protocol's aftercare plan, sent a number of days after the session.

    Day 0 goes as soon as the session is signed off; later days at `send_at` local time. A
    rebooking invitation waits the protocol's minimum interval instead of `offset_days`.
    """

    protocol = models.ForeignKey(Protocol, on_delete=models.CASCADE, related_name="aftercare_steps")
    offset_days = models.PositiveIntegerField(default=0)
    send_at = models.TimeField(default=dt.time(10, 0), help_text="Local time for day 1 onwards.")
    template_key = models.SlugField(max_length=80)
    condition = models.CharField(max_length=10, choices=AftercareCondition.choices, default="always")
    is_rebooking_invitation = models.BooleanField(default=False)

    class Meta:
        ordering = ["protocol_id", "offset_days", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["protocol", "offset_days", "template_key"],
                name="aftercare_step_unique",
                violation_error_message="This email is already planned on that day of the sequence.",
            ),
        ]

    def __str__(self):
        return f"{self.protocol} day {self.offset_days}: {self.template_key}"


class ContraindicationSeverity(models.TextChoices):
    ABSOLUTE = "absolute", "Absolute (blocks booking)"
    RELATIVE = "relative", "Relative (warn; practitioner decides and records why)"


class ContraindicationRule(models.Model):
    """A rule over an intake condition code; with within_days it applies only that long after the date."""

    protocol = models.ForeignKey(Protocol, on_delete=models.CASCADE, related_name="contraindications")
    condition_code = models.SlugField(
        max_length=60,
        help_text=(
            "The condition an intake question records (the question's “condition”), e.g. pregnancy; or "
            "under-18, worked out from the date of birth on the visit's day."
        ),
    )
    severity = models.CharField(max_length=10, choices=ContraindicationSeverity.choices)
    within_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Only when the condition's date is within this many days."
    )
    explanation = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["protocol_id", "severity", "condition_code"]
        constraints = [
            models.UniqueConstraint(
                fields=["protocol", "condition_code"],
                name="contraindication_once",
                violation_error_message=(
                    "This protocol already has a rule for that condition: change that row instead."
                ),
            ),
            models.CheckConstraint(
                condition=Q(within_days__isnull=True) | Q(within_days__gt=0),
                name="contraindication_window_positive",
                violation_error_message="A time window is at least one day (leave it empty for any time).",
            ),
        ]

    def __str__(self):
        window = f" within {self.within_days} days" if self.within_days else ""
        return f"{self.condition_code}: {self.severity}{window}"


class Service(models.Model):
    """What the clinic sells and books: one or more protocols, a duration, buffers and a price."""

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="services")
    name = models.CharField(max_length=150)
    description = models.TextField(blank=True)
    protocols = models.ManyToManyField(Protocol, blank=True, related_name="services")
    duration_minutes = models.PositiveIntegerField()
    buffer_before_minutes = models.PositiveIntegerField(
        default=0, help_text="e.g. numbing time, room set-up."
    )
    buffer_after_minutes = models.PositiveIntegerField(default=0, help_text="e.g. cleaning the room.")
    price = models.DecimalField(max_digits=8, decimal_places=2, validators=[MinValueValidator(0)])
    requires_room = models.BooleanField(default=True)
    device_kind = models.CharField(max_length=30, choices=DeviceKind.choices, blank=True)
    second_device_kind = models.CharField(
        max_length=30,
        choices=DeviceKind.choices,
        blank=True,
        help_text="A second device the service uses in the same visit, e.g. a microcurrent unit in a "
        "combined facial. It is booked with the first, so neither can be double-booked.",
    )
    max_depth_mm = models.DecimalField(
        max_digits=3,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MaxValueValidator(MAX_NEEDLE_DEPTH_MM)],
        help_text="Deepest needling the service involves; the practitioner must be qualified for it.",
    )
    bookable_online = models.BooleanField(default=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["clinic_id", "name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "name"],
                name="service_name_unique_per_clinic",
                violation_error_message="There is already a service with this name.",
            ),
            models.CheckConstraint(
                condition=Q(duration_minutes__gt=0),
                name="service_duration_positive",
                violation_error_message="A service lasts at least a minute.",
            ),
            models.CheckConstraint(
                condition=Q(price__gte=0),
                name="service_price_not_negative",
                violation_error_message="A price cannot be negative.",
            ),
            optional_needle_depth_check("service_depth_within_0_3mm"),
            models.CheckConstraint(
                condition=Q(second_device_kind="")
                | (~Q(device_kind="") & ~Q(second_device_kind=F("device_kind"))),
                name="service_second_device_of_another_kind",
                violation_error_message=(
                    "A second device is of another kind than the first, and the first is chosen first."
                ),
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def device_kinds(self) -> tuple[str, ...]:
        """The kinds of device a visit of this service holds: none, one or two."""
        return tuple(kind for kind in (self.device_kind, self.second_device_kind) if kind)


class Course(models.Model):
    """A planned series of sessions of one service for one client."""

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="courses")
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="courses")
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="courses")
    planned_sessions = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["clinic_id", "-created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(planned_sessions__gte=1), name="course_has_sessions"),
        ]

    def __str__(self):
        return f"{self.client}: {self.planned_sessions} × {self.service}"


class AppointmentStatus(models.TextChoices):
    """FHIR R4 Appointment.status codes."""

    PROPOSED = "proposed", "Proposed"
    PENDING = "pending", "Pending"
    BOOKED = "booked", "Booked"
    ARRIVED = "arrived", "Arrived"
    FULFILLED = "fulfilled", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    NOSHOW = "noshow", "No-show"
    ENTERED_IN_ERROR = "entered-in-error", "Entered in error"
    CHECKED_IN = "checked-in", "Checked in"
    WAITLIST = "waitlist", "Waitlist"


# Statuses that hold the practitioner, room and device (the others free the time).
INACTIVE_STATUSES = (
    AppointmentStatus.CANCELLED,
    AppointmentStatus.NOSHOW,
    AppointmentStatus.ENTERED_IN_ERROR,
    AppointmentStatus.WAITLIST,
)
# How a course's sessions count towards its progress.
COURSE_PROGRESS_STATUSES = {
    "done": (AppointmentStatus.FULFILLED,),
    "upcoming": (AppointmentStatus.BOOKED, AppointmentStatus.ARRIVED, AppointmentStatus.CHECKED_IN),
    "missed_or_cancelled": (AppointmentStatus.NOSHOW, AppointmentStatus.CANCELLED),
}


# The longest note a visit keeps from the client, and that staff write from its page.
NOTE_MAX_CHARACTERS = 1000


class Appointment(models.Model):
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="appointments")
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="appointments")
    practitioner = models.ForeignKey(StaffMember, on_delete=models.PROTECT, related_name="appointments")
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="appointments")
    room = models.ForeignKey(
        Room, on_delete=models.PROTECT, null=True, blank=True, related_name="appointments"
    )
    device = models.ForeignKey(
        Device, on_delete=models.PROTECT, null=True, blank=True, related_name="appointments"
    )
    # The device of the service's `second_device_kind` (a combined treatment uses two at once).
    second_device = models.ForeignKey(
        Device, on_delete=models.PROTECT, null=True, blank=True, related_name="second_device_appointments"
    )
    course = models.ForeignKey(
        Course, on_delete=models.SET_NULL, null=True, blank=True, related_name="appointments"
    )
    start = models.DateTimeField()
    end = models.DateTimeField()
    # The time the practitioner, room and device are held: start less the service's buffer before,
    # end plus its buffer after. Overlap rules (and PostgreSQL's exclusion constraints) compare these.
    blocked_start = models.DateTimeField()
    blocked_end = models.DateTimeField()
    status = models.CharField(
        max_length=20, choices=AppointmentStatus.choices, default=AppointmentStatus.BOOKED
    )
    # The clinic's note on the visit (the desk's, the practitioner's): clients never see it.
    notes = models.TextField(blank=True)
    # What the client wrote for the clinic, booking online or later from their link.
    client_note = models.CharField(max_length=NOTE_MAX_CHARACTERS, blank=True)
    cancellation_reason = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    sequence = models.PositiveIntegerField(default=0, help_text="RFC 5545 SEQUENCE: bumped on every change.")
    # The service's price when the visit was booked (`booking.appointment_book`), which a move keeps:
    # what the report counts, right after a price changes.
    price = models.DecimalField(max_digits=8, decimal_places=2, validators=[MinValueValidator(0)])

    class Meta:
        ordering = ["start", "id"]
        indexes = [
            models.Index(fields=["clinic", "start"], name="appointment_clinic_start"),
            models.Index(fields=["practitioner", "start"], name="appointment_practitioner_start"),
            models.Index(fields=["client", "start"], name="appointment_client_start"),
            # Overlap checks: held ranges starting within a day before the asked time (see MAX_HELD).
            models.Index(fields=["clinic", "blocked_start"], name="appointment_clinic_held"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="appointment_end_after_start"),
            models.CheckConstraint(
                condition=Q(blocked_start__lte=F("start"), blocked_end__gte=F("end")),
                name="appointment_blocked_covers_visit",
            ),
            models.CheckConstraint(
                condition=Q(blocked_end__lte=F("blocked_start") + MAX_HELD),
                name="appointment_held_at_most_a_day",
            ),
            models.CheckConstraint(
                condition=Q(second_device__isnull=True)
                | (Q(device__isnull=False) & ~Q(second_device=F("device"))),
                name="appointment_second_device_is_another",
                violation_error_message="A visit's second device is another device than its first.",
            ),
            models.CheckConstraint(
                condition=Q(price__gte=0),
                name="appointment_price_not_negative",
                violation_error_message="A price cannot be negative.",
            ),
        ]

    def __str__(self):
        return f"{self.client} – {self.service} at {self.start:%Y-%m-%d %H:%M} UTC"

    @property
    def is_active(self) -> bool:
        return self.status not in INACTIVE_STATUSES

    @property
    def devices(self) -> list[Device]:
        """The devices the visit holds, first then second (load both with select_related)."""
        return [d for d in (self.device, self.second_device) if d is not None]


class WaitlistEnded(models.TextChoices):
    BOOKED = "booked", "Booked"
    REMOVED = "removed", "Taken off by the clinic"
    LEFT = "left", "Left by the client"
    VISIT_CANCELLED = "cancelled", "The visit to move was cancelled"


class WaitlistEntry(models.Model):
    """A client waiting for a time of a service: on which days, at which hours, with whom.

    Open until the client is booked for the service on one of those days (by any page: the booking
    closes it in its transaction), or taken off. Days and hours are the clinic's local ones; a visit
    fits when it starts on one of the days, at or after `from_time` and at or before `until_time`.
    With `visit_to_move`, the client has a visit and would rather come then: a time that suits them
    moves that visit instead of booking another.
    """

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="waitlist_entries")
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="waitlist_entries")
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="waitlist_entries")
    practitioner = models.ForeignKey(
        StaffMember,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="waitlist_entries",
        help_text="Empty: anyone qualified.",
    )
    first_day = models.DateField()
    last_day = models.DateField()
    from_time = models.TimeField(null=True, blank=True)
    until_time = models.TimeField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)
    added_at = models.DateTimeField(default=timezone.now)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_because = models.CharField(max_length=10, choices=WaitlistEnded.choices, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    appointment = models.ForeignKey(
        Appointment, on_delete=models.SET_NULL, null=True, blank=True, related_name="waitlist_entries"
    )
    visit_to_move = models.ForeignKey(
        Appointment,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="waitlist_moves",
        help_text="The visit a time that suits them moves (empty: a time books a new visit).",
    )

    class Meta:
        ordering = ["first_day", "added_at", "id"]
        verbose_name_plural = "waitlist entries"
        indexes = [
            models.Index(
                fields=["clinic", "first_day"],
                condition=Q(ended_at__isnull=True),
                name="waitlist_open_by_day",
            ),
            models.Index(
                fields=["client", "service"],
                condition=Q(ended_at__isnull=True),
                name="waitlist_open_by_client",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(last_day__gte=F("first_day")),
                name="waitlist_days_in_order",
                violation_error_message="The last day comes on or after the first.",
            ),
            models.CheckConstraint(
                condition=Q(from_time__isnull=True)
                | Q(until_time__isnull=True)
                | Q(until_time__gte=F("from_time")),
                name="waitlist_hours_in_order",
                violation_error_message="“Until” comes on or after “from”.",
            ),
            models.CheckConstraint(
                condition=(Q(ended_at__isnull=True) & Q(ended_because=""))
                | (Q(ended_at__isnull=False) & ~Q(ended_because="")),
                name="waitlist_ended_says_why",
            ),
        ]

    def __str__(self):
        return f"{self.client} waiting for {self.service} {self.first_day}–{self.last_day}"

    @property
    def is_open(self) -> bool:
        return self.ended_at is None

    def fits(self, local_start: dt.datetime) -> bool:
        """Whether a visit starting at this local time is one the client is waiting for."""
        if not self.first_day <= local_start.date() <= self.last_day:
            return False
        clock = local_start.time().replace(tzinfo=None)
        return (self.from_time is None or clock >= self.from_time) and (
            self.until_time is None or clock <= self.until_time
        )


class VisitFeedback(models.Model):
    """What a client said of a visit that took place, from the link in the email asking: 1 to 5, and
    words if they want. One per visit; it follows the visit (and so a merge of the client's records)."""

    appointment = models.OneToOneField(Appointment, on_delete=models.CASCADE, related_name="feedback")
    rating = models.PositiveSmallIntegerField()
    comment = models.CharField(max_length=NOTE_MAX_CHARACTERS, blank=True)
    given_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__gte=1, rating__lte=5), name="visit_feedback_rating_1_to_5"
            ),
        ]
        indexes = [models.Index(fields=["given_at"], name="visit_feedback_given_at")]

    def __str__(self):
        return f"{self.rating}/5 for visit {self.appointment_id}"


class DeviceHold(models.Model):
    """One device held by an active visit over its held time: what keeps a device from double-booking.

    A visit may hold two devices (`device` and `second_device`), and one device may be a visit's first
    and another's second, so no constraint on the appointment table can compare them. This table has
    one row per device an active visit holds, and on PostgreSQL an exclusion constraint refuses two
    rows of one device whose times overlap (migration 0012). Database triggers on the appointment
    table write these rows on every insert and on every change of status, devices or held time; no
    Python code writes them. On SQLite the triggers keep the rows the same, and booking's serialised
    transactions check the overlap, as for the practitioner and room.
    """

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="device_holds")
    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="holds")
    blocked_start = models.DateTimeField()
    blocked_end = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["appointment", "device"], name="device_hold_once_per_visit"),
        ]

    def __str__(self):
        return f"{self.device_id} held {self.blocked_start:%Y-%m-%d %H:%M}–{self.blocked_end:%H:%M} UTC"


class AppointmentEvent(models.Model):
    """One change to an appointment: who, when, what. Written by the service that made the change."""

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    at = models.DateTimeField(default=timezone.now)
    action = models.CharField(max_length=40)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["appointment_id", "at", "id"]
        # today's list reads the clinic's last day of changes by clients (`changes_by_clients`)
        indexes = [models.Index(fields=["at"], name="appointment_event_at")]

    def __str__(self):
        return f"{self.action} at {self.at:%Y-%m-%d %H:%M}"


class EarlierSessionSource(models.TextChoices):
    IMPORTED = "imported", "In the software used before"
    ELSEWHERE = "elsewhere", "Before coming here"


EARLIER_SESSION_NOTE_MAX_CHARACTERS = 500


class EarlierSession(models.Model):
    """A treatment the client had before this clinic's calendar held it: a visit already over in the
    software the clinic used before (a visits' import keeps it, `treatments.visit_imports`), or one the
    client says they had elsewhere ("microneedling at another clinic on 20 November"). Known by its day.

    The protocol's interval between sessions counts it as it counts a visit here
    (`treatments.booking.too_soon_after`): a client treated a week before the move is not booked again
    three days after it. No unique constraint on (client, service, day): a merge moves rows as they
    are, and two records of one person may both hold the same session; an import leaves out a row
    whose session is kept already."""

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="+")
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="earlier_sessions")
    service = models.ForeignKey("Service", on_delete=models.PROTECT, related_name="earlier_sessions")
    given_on = models.DateField()
    # who gave it, as the old software or the client named them (they may never have worked here)
    given_by = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=10, choices=EarlierSessionSource.choices)
    notes = models.CharField(max_length=EARLIER_SESSION_NOTE_MAX_CHARACTERS, blank=True)
    client_import = models.ForeignKey(
        "clients.ClientImport", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    import_line = models.PositiveIntegerField(null=True, blank=True)  # its line in that file
    recorded_by = models.ForeignKey(
        StaffMember, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now)
    # taken off as noted by mistake: kept, and said on the client's page, but no interval counts it
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(
        StaffMember, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = "session had before"  # as a merge or an erasure counts them
        verbose_name_plural = "sessions had before"
        ordering = ["-given_on", "-id"]
        indexes = [models.Index(fields=["client", "given_on"], name="earlier_session_client_day")]
        constraints = [
            models.CheckConstraint(
                condition=Q(source__in=EarlierSessionSource.values), name="earlier_session_source_known"
            ),
            models.CheckConstraint(
                condition=Q(client_import__isnull=True) | Q(source=EarlierSessionSource.IMPORTED),
                name="earlier_session_import_is_imported",
            ),
            models.CheckConstraint(
                condition=Q(removed_by__isnull=True) | Q(removed_at__isnull=False),
                name="earlier_session_removed_by_when_removed",
            ),
        ]

    def __str__(self):
        return f"{self.service} on {self.given_on} (earlier)"


class TreatmentSession(models.Model):
    """What was done at a visit, recorded per area; signed off by the practitioner, then read-only."""

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="treatment_sessions")
    appointment = models.OneToOneField(
        Appointment, on_delete=models.PROTECT, null=True, blank=True, related_name="treatment_session"
    )
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="treatment_sessions")
    practitioner = models.ForeignKey(StaffMember, on_delete=models.PROTECT, related_name="treatment_sessions")
    started_at = models.DateTimeField(default=timezone.now)
    notes = models.TextField(blank=True)
    signed_off_at = models.DateTimeField(null=True, blank=True)
    signed_off_by = models.ForeignKey(
        StaffMember, on_delete=models.PROTECT, null=True, blank=True, related_name="signed_off_sessions"
    )

    class Meta:
        ordering = ["-started_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(signed_off_at__isnull=True, signed_off_by__isnull=True)
                | Q(signed_off_at__isnull=False, signed_off_by__isnull=False),
                name="session_sign_off_complete",
            ),
        ]

    def __str__(self):
        return f"{self.client} session {self.started_at:%Y-%m-%d}"


class MicroneedlingRecord(models.Model):
    session = models.ForeignKey(TreatmentSession, on_delete=models.CASCADE, related_name="microneedling")
    area = models.ForeignKey(BodyArea, on_delete=models.PROTECT, related_name="+")
    device = models.ForeignKey(Device, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    depth_mm = models.DecimalField(
        max_digits=3,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(MAX_NEEDLE_DEPTH_MM)],
    )
    passes = models.PositiveSmallIntegerField(validators=[MinValueValidator(1)])
    cartridge_lot = models.CharField(max_length=60, blank=True)
    outside_protocol_reason = models.CharField(
        max_length=300, blank=True, help_text="Why the practitioner went outside the protocol here."
    )

    class Meta:
        ordering = ["session_id", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(depth_mm__gt=0, depth_mm__lte=MAX_NEEDLE_DEPTH_MM),
                name="microneedling_depth_within_0_3mm",
            ),
            models.CheckConstraint(condition=Q(passes__gte=1), name="microneedling_passes_positive"),
        ]

    def __str__(self):
        return f"{self.area}: {self.depth_mm} mm × {self.passes}"


class MicrocurrentRecord(models.Model):
    session = models.ForeignKey(TreatmentSession, on_delete=models.CASCADE, related_name="microcurrent")
    area = models.ForeignKey(BodyArea, on_delete=models.PROTECT, related_name="+")
    device = models.ForeignKey(Device, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    current_ua = models.PositiveIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(MAX_MICROCURRENT_UA - 1)]
    )
    frequency_hz = models.DecimalField(max_digits=6, decimal_places=2)
    waveform = models.CharField(max_length=10, choices=Waveform.choices)
    minutes = models.PositiveSmallIntegerField()
    outside_protocol_reason = models.CharField(
        max_length=300, blank=True, help_text="Why the practitioner went outside the protocol here."
    )

    class Meta:
        ordering = ["session_id", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(current_ua__gt=0, current_ua__lt=MAX_MICROCURRENT_UA),
                name="microcurrent_below_1ma",
            ),
            models.CheckConstraint(condition=Q(frequency_hz__gt=0), name="microcurrent_frequency_positive"),
            models.CheckConstraint(condition=Q(minutes__gt=0), name="microcurrent_minutes_positive"),
        ]

    def __str__(self):
        return f"{self.area}: {self.current_ua} µA {self.frequency_hz} Hz"


class MesotherapyRecord(models.Model):
    """One product injected (or infused) into one area. Product, lot and expiry are copied as given."""

    session = models.ForeignKey(TreatmentSession, on_delete=models.CASCADE, related_name="mesotherapy")
    area = models.ForeignKey(BodyArea, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(ProductLot, on_delete=models.PROTECT, related_name="administrations")
    product_name = models.CharField(max_length=150)
    lot_number = models.CharField(max_length=60)
    expiry_date = models.DateField()
    volume_ml = models.DecimalField(max_digits=5, decimal_places=2)
    depth_mm = models.DecimalField(max_digits=4, decimal_places=2)
    technique = models.CharField(max_length=20, choices=MesoTechnique.choices)
    outside_protocol_reason = models.CharField(
        max_length=300, blank=True, help_text="Why the practitioner went outside the protocol here."
    )

    class Meta:
        ordering = ["session_id", "id"]
        indexes = [models.Index(fields=["lot_number"], name="meso_lot_number")]
        constraints = [
            models.CheckConstraint(condition=Q(volume_ml__gt=0), name="meso_volume_positive"),
            models.CheckConstraint(
                condition=Q(depth_mm__gte=0, depth_mm__lte=MAX_MESO_DEPTH_MM), name="meso_depth_within_range"
            ),
            models.CheckConstraint(condition=~Q(lot_number=""), name="meso_lot_number_required"),
        ]

    def __str__(self):
        return f"{self.area}: {self.product_name} lot {self.lot_number} {self.volume_ml} mL"


class SessionAddendum(models.Model):
    """A note added to a signed-off record (a reaction reported the next day, a correction): the record
    itself never changes, so what is learnt later is added beside it, with who and when."""

    session = models.ForeignKey(TreatmentSession, on_delete=models.CASCADE, related_name="addenda")
    text = models.TextField()
    written_by = models.ForeignKey(StaffMember, on_delete=models.PROTECT, related_name="+")
    written_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["session_id", "written_at", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(text=""), name="addendum_has_text"),
        ]

    def __str__(self):
        return f"Addendum {self.written_at:%Y-%m-%d %H:%M}"


class SessionPhoto(models.Model):
    session = models.ForeignKey(TreatmentSession, on_delete=models.CASCADE, related_name="photos")
    area = models.ForeignKey(BodyArea, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    image = models.FileField(upload_to="session-photos/%Y/%m/")
    caption = models.CharField(max_length=200, blank=True)
    taken_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["session_id", "taken_at", "id"]

    def __str__(self):
        return f"Photo {self.taken_at:%Y-%m-%d}"


class CalendarFeed(models.Model):
    """A practitioner's own visits as a calendar their phone subscribes to (RFC 5545), by a secret link.

    The link is the only key: a new one replaces it (the old stops working at once) and stopping the
    feed deletes it. What the feed shows stops short of health data: the service, the client's
    initials and the room; names, notes and forms stay behind the clinic's sign-in.
    """

    staff_member = models.OneToOneField(StaffMember, on_delete=models.CASCADE, related_name="calendar_feed")
    token = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"Calendar feed of {self.staff_member}"


class PaymentMethod(models.TextChoices):
    CARD = "card", "Card"
    CASH = "cash", "Cash"
    BANK_TRANSFER = "bank_transfer", "Bank transfer"
    VOUCHER = "voucher", "Gift voucher"
    OTHER = "other", "Other"


# What a gift voucher is bought with: money, not another voucher.
MONEY_PAYMENT_METHODS = [
    (value, label) for value, label in PaymentMethod.choices if value != PaymentMethod.VOUCHER
]
PAYMENT_REASON_MAX_CHARACTERS = 300


class GiftVoucher(models.Model):
    """A gift voucher the clinic sold: a code, the amount it was bought for, until when it is good.

    Its sale is a `Payment` (`voucher_sold`), and each time it pays toward a visit a `Payment` with
    method "voucher" (`voucher`); what is left on it is worked out from those (`treatments.vouchers`),
    never kept in a column that could drift from them.
    """

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="gift_vouchers")
    code = models.CharField(max_length=20)
    amount = models.DecimalField(max_digits=8, decimal_places=2)
    bought_by = models.CharField(max_length=150)
    for_whom = models.CharField(max_length=150, blank=True)
    email = models.EmailField(blank=True, help_text="Where the voucher was emailed, if it was.")
    expires_on = models.DateField()
    sold_at = models.DateTimeField(default=timezone.now)
    sold_by = models.ForeignKey(StaffMember, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["clinic_id", "-sold_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "code"],
                name="voucher_code_unique_per_clinic",
                violation_error_message="There is already a voucher with this code.",
            ),
            models.CheckConstraint(
                condition=Q(amount__gt=0),
                name="voucher_amount_positive",
                violation_error_message="A voucher is worth more than nothing.",
            ),
            models.CheckConstraint(
                condition=~Q(code="") & ~Q(bought_by=""),
                name="voucher_has_code_and_buyer",
                violation_error_message="A voucher has a code and says who bought it.",
            ),
        ]

    def __str__(self):
        return f"Gift voucher {self.code}"


class Payment(models.Model):
    """Money taken at the desk for a visit, or given back: a refund of one payment.

    Never changed once written (a trigger refuses it, `treatments/payments.py`): a payment taken by
    mistake is refunded, so the day's takings always add up to what the drawer and the card terminal
    say. What a visit still owes is its price as booked less what was taken for it, net of refunds.
    """

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="payments")
    # what it was for: a visit, or a gift voucher bought (`treatments.vouchers`); a refund, its payment's
    appointment = models.ForeignKey(
        Appointment, on_delete=models.PROTECT, null=True, blank=True, related_name="payments"
    )
    voucher_sold = models.ForeignKey(
        GiftVoucher, on_delete=models.PROTECT, null=True, blank=True, related_name="sale_payments"
    )
    # paid with a gift voucher (method "voucher"): the one it was taken from (or given back to)
    voucher = models.ForeignKey(
        GiftVoucher, on_delete=models.PROTECT, null=True, blank=True, related_name="payments"
    )
    amount = models.DecimalField(max_digits=8, decimal_places=2)
    method = models.CharField(max_length=20, choices=PaymentMethod.choices)
    # the card slip's or the voucher's number, to match the terminal's own list at the end of the day
    reference = models.CharField(max_length=60, blank=True)
    refund_of = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="refunds"
    )
    reason = models.CharField(max_length=PAYMENT_REASON_MAX_CHARACTERS, blank=True)
    # A refund the client does not have to pay again (goodwill, a treatment not given): the visit's
    # price is lowered by it. A refund of money taken by mistake (the wrong way, the wrong amount)
    # is not: the visit owes it again.
    waived = models.BooleanField(default=False)
    taken_by = models.ForeignKey(StaffMember, on_delete=models.PROTECT, related_name="+")
    taken_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["taken_at", "id"]
        indexes = [models.Index(fields=["clinic", "taken_at"], name="payment_clinic_taken_at")]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0),
                name="payment_amount_positive",
                violation_error_message="A payment or refund is more than nothing.",
            ),
            models.CheckConstraint(
                condition=Q(refund_of__isnull=True) | ~Q(reason=""),
                name="refund_says_why",
                violation_error_message="A refund says why.",
            ),
            models.CheckConstraint(
                condition=Q(waived=False) | Q(refund_of__isnull=False),
                name="only_a_refund_is_waived",
                violation_error_message="Only a refund lowers what a visit owes.",
            ),
            models.CheckConstraint(
                condition=Q(appointment__isnull=False, voucher_sold__isnull=True)
                | Q(appointment__isnull=True, voucher_sold__isnull=False),
                name="payment_for_a_visit_or_a_voucher",
                violation_error_message="A payment is for a visit or for a gift voucher bought.",
            ),
            models.CheckConstraint(
                condition=Q(method="voucher", voucher__isnull=False, voucher_sold__isnull=True)
                | (~Q(method="voucher") & Q(voucher__isnull=True)),
                name="voucher_payment_names_its_voucher",
                violation_error_message="A payment by gift voucher names the voucher; a voucher is not "
                "bought with another.",
            ),
        ]

    def __str__(self):
        kind = "refund" if self.refund_of_id else "payment"
        return f"{kind} of {self.amount} for visit {self.appointment_id}"

    @property
    def is_refund(self) -> bool:
        return self.refund_of_id is not None


DAY_CLOSE_NOTE_MAX_CHARACTERS = 300


class DayClose(models.Model):
    """The desk's count at the end of a day: the cash in the drawer and the card terminal's total,
    beside what the day's payments say each should be then (`treatments.payments.day_close`). A
    difference says why. Never changed: a count done again is another row, the latest one stands."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="day_closes")
    day = models.DateField()
    cash_counted = models.DecimalField(max_digits=10, decimal_places=2)
    cash_expected = models.DecimalField(max_digits=10, decimal_places=2)
    card_counted = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    card_expected = models.DecimalField(max_digits=10, decimal_places=2)
    note = models.CharField(max_length=DAY_CLOSE_NOTE_MAX_CHARACTERS, blank=True)
    closed_by = models.ForeignKey(StaffMember, on_delete=models.PROTECT, related_name="+")
    closed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["clinic_id", "day", "closed_at", "id"]
        indexes = [models.Index(fields=["clinic", "day"], name="day_close_clinic_day")]
        constraints = [
            models.CheckConstraint(
                condition=Q(cash_counted__gte=0) & (Q(card_counted__isnull=True) | Q(card_counted__gte=0)),
                name="day_close_counts_not_negative",
                violation_error_message="A count is nothing or more.",
            ),
            models.CheckConstraint(
                condition=(
                    Q(cash_counted=F("cash_expected"))
                    & (Q(card_counted__isnull=True) | Q(card_counted=F("card_expected")))
                )
                | ~Q(note=""),
                name="day_close_difference_says_why",
                violation_error_message="A count that differs from the payments says why.",
            ),
        ]

    def __str__(self):
        return f"{self.day} closed at {self.closed_at:%H:%M}"

    @property
    def cash_difference(self) -> Decimal:
        return self.cash_counted - self.cash_expected

    @property
    def card_difference(self) -> Decimal | None:
        return None if self.card_counted is None else self.card_counted - self.card_expected


class NewsAudience(models.TextChoices):
    """Who of the clients who said yes to the clinic's news an email of news goes to."""

    EVERYONE = "everyone", "Everyone who said yes to the clinic's news"
    HAD_SERVICE = "had_service", "Those who had a service"
    NOT_SEEN = "not_seen", "Those not seen for a while, with nothing booked"


NEWS_MONTHS_LONGEST = 60


class ClinicNews(models.Model):
    """An email of the clinic's news (a new treatment, opening hours, an offer), written by a manager
    and sent once to the clients who said yes to the clinic's news (`treatments.news`)."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    subject = models.CharField(max_length=150)
    text = models.TextField(max_length=5000)
    audience = models.CharField(max_length=20, choices=NewsAudience.choices, default=NewsAudience.EVERYONE)
    service = models.ForeignKey(Service, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    months = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(NEWS_MONTHS_LONGEST)]
    )
    written_by = models.ForeignKey(StaffMember, on_delete=models.SET_NULL, null=True, related_name="+")
    written_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    sent_by = models.ForeignKey(
        StaffMember, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    recipients = models.PositiveIntegerField(default=0)
    # when its emails fall due: when it was sent, or the later time the manager chose
    goes_at = models.DateTimeField(null=True, blank=True)
    # stopped before it went: its emails still to go were not sent
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-written_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(audience__in=NewsAudience.values), name="clinic_news_audience_known"
            ),
            models.CheckConstraint(
                condition=~Q(audience=NewsAudience.HAD_SERVICE) | Q(service__isnull=False),
                name="clinic_news_service_named",
                violation_error_message="Choose the service they had.",
            ),
            models.CheckConstraint(
                condition=~Q(audience=NewsAudience.NOT_SEEN)
                | Q(months__gte=1, months__lte=NEWS_MONTHS_LONGEST),
                name="clinic_news_months_named",
                violation_error_message=f"Say how many months, 1 to {NEWS_MONTHS_LONGEST}.",
            ),
            models.CheckConstraint(
                condition=Q(sent_at__isnull=True, recipients=0) | Q(sent_at__isnull=False),
                name="clinic_news_recipients_once_sent",
            ),
            models.CheckConstraint(condition=~Q(subject="") & ~Q(text=""), name="clinic_news_says_something"),
        ]

    def __str__(self):
        return self.subject
