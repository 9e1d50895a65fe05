"""Forms for the booking screens; they only parse input, the booking service decides."""

import datetime as dt
from decimal import Decimal

from django import forms
from django.core.validators import MaxLengthValidator
from django.db.models import Case, When
from django.utils import timezone

from clients.forms import EmailTypoMixin, ReachableClientMixin
from clients.merging import clients_like
from clients.models import GuardianRole, validate_date_of_birth, validate_printable
from clinic.models import MAX_NEEDLE_DEPTH_MM
from treatments.booking import MAX_COURSE_SESSIONS
from treatments.feedback import RATINGS as FEEDBACK_RATINGS
from treatments.models import (
    MAX_MESO_DEPTH_MM,
    MAX_MICROCURRENT_UA,
    NEWS_MONTHS_LONGEST,
    NOTE_MAX_CHARACTERS,
    BodyArea,
    MesoTechnique,
    NewsAudience,
    ProductLot,
    Service,
    Waveform,
)
from treatments.selectors import within_calendar
from treatments.stock import stock_said


class NewClientForm(EmailTypoMixin, ReachableClientMixin, forms.Form):
    """A client typed in while booking, when search found nobody.

    Given the `clinic` (the desk's pages), it asks before registering someone whose email, phone, or
    name and date of birth a client of the clinic already has: `possible_matches` lists them for the
    page to offer ("Book Olivia Smith"), and the form sent again with `not_a_duplicate` registers the
    new client anyway. The public pages pass no clinic: they never show a stranger someone's record.
    """

    first_name = forms.CharField(max_length=100, validators=[validate_printable])
    last_name = forms.CharField(max_length=100, validators=[validate_printable])
    email = forms.EmailField(required=False)
    phone = forms.CharField(max_length=40, required=False, validators=[validate_printable])
    date_of_birth = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), validators=[validate_date_of_birth]
    )
    not_a_duplicate = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, clinic=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.clinic = clinic
        self.possible_matches = []

    def clean(self):
        cleaned = super().clean()
        not_a_duplicate = cleaned.pop("not_a_duplicate", False)
        if self.clinic is not None and not self.errors and not not_a_duplicate:
            self.possible_matches = clients_like(clinic=self.clinic, **cleaned)
            if self.possible_matches:
                raise forms.ValidationError(
                    "The clinic may have this client already. Choose them below, or register a new "
                    "client if this is someone else.",
                    code="possible_duplicate",
                )
        return cleaned


class NoteField(forms.CharField):
    """A note typed in a textarea: its length counted as the browser's `maxlength` counts it, a line's
    end one character (browsers send two)."""

    widget = forms.Textarea(attrs={"rows": 3})

    def __init__(self, **kwargs):
        super().__init__(max_length=NOTE_MAX_CHARACTERS, required=False, **kwargs)
        # said as the booking service says it, not as Django's "Ensure this value has at most …"
        self.validators = [v for v in self.validators if not isinstance(v, MaxLengthValidator)]

    def validate(self, value):
        super().validate(value)
        if len(value) > NOTE_MAX_CHARACTERS:
            raise forms.ValidationError(
                f"This note is {len(value):,} characters long: please keep it to {NOTE_MAX_CHARACTERS:,}.",
                code="max_length",
            )

    def to_python(self, value):
        return super().to_python(value).replace("\r\n", "\n").replace("\r", "\n")


class PublicBookingForm(NewClientForm):
    """A client's details on the public booking page, with a note for the clinic if they want one."""

    note = NoteField(
        label="Anything we should know before your visit? (optional)",
        help_text="Read by the clinic's team before your visit.",
    )
    wants_news = forms.BooleanField(
        required=False,
        label="Send me the clinic's news too",
        help_text="By email, now and then: new treatments and offers. "
        "Stop them any time with the link in each.",
    )


class VisitNotesForm(forms.Form):
    """The clinic's note on a visit, written on its page."""

    notes = NoteField(
        label="The clinic's note",
        help_text="For the team: the client never sees it.",
    )


class ClientNoteForm(forms.Form):
    """The client's note for the clinic, from their visit's link."""

    note = NoteField(
        label="Your note for the clinic",
        help_text="Anything the team should know before your visit: a question, access needs, what you "
        "would like to talk about. It reaches them at once.",
    )


class FeedbackForm(forms.Form):
    """How a client's visit went: 1 to 5, and a few words if they want."""

    rating = forms.TypedChoiceField(
        label="How was your visit?",
        choices=[(n, f"{n} – {said}") for n, said in reversed(FEEDBACK_RATINGS.items())],
        coerce=int,
        widget=forms.RadioSelect,
    )
    comment = NoteField(
        label="Anything you would like to tell us? (optional)",
        help_text="What went well, or what we could do better. The clinic's team reads every answer.",
    )


class LocalDateTimeField(forms.DateTimeField):
    """A date and time typed in the clinic's local time (the page sets the zone)."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    input_formats = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S"]


class PlainLabelsForm(forms.Form):
    """A form whose labels carry no colon (Django's default suffix), as the hand-written forms' labels."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class RescheduleForm(PlainLabelsForm):
    """A new start, and whoever will see the client then (`practitioners`: those who may)."""

    start = LocalDateTimeField(label="New start")
    practitioner = forms.ModelChoiceField(queryset=None, label="With", required=False, empty_label=None)
    reason = forms.CharField(max_length=200, required=False)

    def __init__(self, *args, practitioners, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["practitioner"].queryset = practitioners


class CancelForm(PlainLabelsForm):
    reason = forms.CharField(max_length=300, required=False, label="Reason (optional)")


# How often a course repeats, as the days between one session and the next (cycled).
REPEATS = [
    ((3, 4), "Twice a week"),
    ((2, 2, 3), "Three times a week"),
    ((7,), "Every week"),
    ((14,), "Every 2 weeks"),
    ((21,), "Every 3 weeks"),
    ((28,), "Every 4 weeks"),
    ((35,), "Every 5 weeks"),
]


def _repeat_value(gaps) -> str:
    return ",".join(str(g) for g in gaps)


class CourseForm(forms.Form):
    """How many sessions, and how far apart; the protocol's course plan is the default."""

    sessions = forms.IntegerField(
        min_value=1,
        max_value=MAX_COURSE_SESSIONS,
        label="Sessions",
        error_messages={"max_value": f"A course can have at most {MAX_COURSE_SESSIONS} sessions."},
    )
    repeat = forms.ChoiceField(label="Repeat")

    def __init__(self, *args, plan_gaps=None, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(_repeat_value(gaps), label) for gaps, label in REPEATS]
        if plan_gaps and _repeat_value(plan_gaps) not in dict(choices):
            choices.append((_repeat_value(plan_gaps), f"Every {_repeat_value(plan_gaps)} days"))
        self.fields["repeat"].choices = choices

    def cleaned_gaps(self) -> list[int]:
        return [int(g) for g in self.cleaned_data["repeat"].split(",")]


def parse_local_datetime(raw: str | None, zone) -> dt.datetime | None:
    """Read 'YYYY-MM-DDTHH:MM' from a form or link as an aware time in the clinic's zone, or None."""
    if not raw:
        return None
    try:
        parsed = dt.datetime.fromisoformat(raw)
    except ValueError:
        return None
    if not within_calendar(parsed.date()):
        return None
    return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=zone)


def parse_local_date(raw: str | None, default: dt.date) -> tuple[dt.date, str]:
    """Return (date, error message) for a YYYY-MM-DD query value."""
    if not raw:
        return default, ""
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        return default, f"“{raw}” is not a date; showing {default:%d %b %Y}. Use the form YYYY-MM-DD."
    if not within_calendar(day):
        return default, f"{day.year} is outside the calendar; showing {default:%d %b %Y}. Check the year."
    return day, ""


# What the time off form's "who" says for the whole clinic closed (a bank holiday): everyone is off.
EVERYONE = "everyone"


class StretchForm(PlainLabelsForm):
    """From, until and why, typed in the clinic's local time: time off or extra hours."""

    field_order = ["practitioner", "start", "end", "reason"]

    start = LocalDateTimeField(label="From")
    end = LocalDateTimeField(label="Until")
    reason = forms.CharField(max_length=200, required=False, validators=[validate_printable])


class TimeOffForm(StretchForm):
    """A practitioner's time off, or everyone's (the clinic closed)."""

    # No one is chosen beforehand: a form sent as it came must not record the first name on the list
    # as off.
    practitioner = forms.ChoiceField(
        label="Practitioner",
        error_messages={"required": "Choose who is off.", "invalid_choice": "Choose who is off."},
    )

    def __init__(self, *args, practitioners, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].help_text = "For example: Sick, Training, Christmas Day"
        self._practitioners = {str(p.pk): p for p in practitioners}
        self.fields["practitioner"].choices = [
            ("", "Choose…"),
            (EVERYONE, "Everyone: the clinic is closed"),
            *((key, p.display_name) for key, p in self._practitioners.items()),
        ]

    def clean_practitioner(self):
        """The practitioner chosen, or EVERYONE."""
        chosen = self.cleaned_data["practitioner"]
        return chosen if chosen == EVERYONE else self._practitioners[chosen]


class WaitlistDaysForm(PlainLabelsForm):
    """The days a client can come and the hours a visit may start (the clinic's local time)."""

    first_day = forms.DateField(
        label="From", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    last_day = forms.DateField(
        label="Until", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    from_time = forms.TimeField(
        label="Starting from", required=False, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    until_time = forms.TimeField(
        label="Starting by", required=False, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )


class WaitlistForm(WaitlistDaysForm):
    """What a client on the waitlist waits for, as the desk types it: a service, with whom, days, hours."""

    field_order = ["service", "practitioner"]

    service = forms.ModelChoiceField(
        queryset=None, empty_label="Choose…", error_messages={"required": "Choose the service they wait for."}
    )
    practitioner = forms.ModelChoiceField(
        queryset=None, required=False, empty_label="Anyone qualified", label="With"
    )
    note = forms.CharField(
        max_length=300,
        required=False,
        validators=[validate_printable],
        help_text="For example: can come at short notice; prefers mornings",
    )

    def __init__(self, *args, services, practitioners, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["service"].queryset = services
        self.fields["practitioner"].queryset = practitioners


class ExtraHoursForm(StretchForm):
    """A practitioner's extra hours (a Saturday covered, a late evening)."""

    practitioner = forms.ModelChoiceField(
        queryset=None, empty_label="Choose…", error_messages={"required": "Choose who works then."}
    )

    def __init__(self, *args, practitioners, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].help_text = "For example: Covering Saturday"
        self.fields["practitioner"].queryset = practitioners


class OutOfServiceForm(StretchForm):
    """A room or a device out of service for a while (a pen away for servicing, a room being painted)."""

    field_order = ["what", "start", "end", "reason"]
    what = forms.ChoiceField(
        label="Room or device",
        error_messages={
            "required": "Choose the room or device.",
            "invalid_choice": "Choose the room or device.",
        },
    )

    def __init__(self, *args, rooms, devices, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].help_text = "For example: Servicing, Painting"
        self._choices = {f"room:{r.pk}": ("room", r) for r in rooms}
        self._choices.update({f"device:{d.pk}": ("device", d) for d in devices})
        self.fields["what"].choices = [
            ("", "Choose…"),
            ("Rooms", [(f"room:{r.pk}", r.name) for r in rooms]),
            ("Devices", [(f"device:{d.pk}", f"{d.name} ({d.get_kind_display().lower()})") for d in devices]),
        ]

    def clean_what(self) -> dict:
        """{"room": room} or {"device": device}, as `out_of_service_record` takes them."""
        kind, thing = self._choices[self.cleaned_data["what"]]
        return {kind: thing}


# --- the treatment record -----------------------------------------------------------------------


class AreaChoiceField(forms.ModelChoiceField):
    """Body areas, the protocol's first, each with the protocol's depth range where it sets one."""

    def __init__(self, *, protocol_areas: dict, **kwargs):
        self.protocol_areas = protocol_areas
        super().__init__(queryset=BodyArea.objects.all(), **kwargs)
        if protocol_areas:
            self.queryset = BodyArea.objects.annotate(
                outside=Case(When(pk__in=list(protocol_areas), then=0), default=1)
            ).order_by("outside", "is_body", "name")

    def label_from_instance(self, obj):
        protocol_area = self.protocol_areas.get(obj.pk)
        if protocol_area is None:
            return f"{obj.name} (not in the protocol)" if self.protocol_areas else obj.name
        if protocol_area.min_depth_mm is None:
            return obj.name
        depths = (protocol_area.min_depth_mm, protocol_area.max_depth_mm)
        low, high = (format(d.normalize(), "f") for d in depths)
        return f"{obj.name} ({low}–{high} mm)"


class RecordEntryForm(PlainLabelsForm):
    """One treated area of a session; each modality's form adds its settings."""

    outside_protocol_reason = forms.CharField(
        max_length=300,
        required=False,
        label="Reason, if outside the protocol",
        help_text="Needed only when a setting or area is outside the protocol's defaults.",
        validators=[validate_printable],
    )

    def __init__(self, *args, protocol_areas: dict, devices=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["area"] = AreaChoiceField(
            protocol_areas=protocol_areas, label="Area", empty_label="Choose the area"
        )
        if devices is not None:
            self.fields["device"] = forms.ModelChoiceField(
                queryset=devices, required=False, label="Device", empty_label="None recorded"
            )
        # the area and device first, the settings, then the reason for going outside the protocol
        settings = [name for name in self.fields if name not in {"area", "device", "outside_protocol_reason"}]
        self.order_fields(["area", "device", *settings, "outside_protocol_reason"])


class MicroneedlingEntryForm(RecordEntryForm):
    depth_mm = forms.DecimalField(
        label="Depth (mm)", min_value=Decimal("0.01"), max_value=MAX_NEEDLE_DEPTH_MM, decimal_places=2
    )
    passes = forms.IntegerField(label="Passes", min_value=1, max_value=30)
    cartridge_lot = forms.CharField(
        label="Cartridge lot", max_length=60, required=False, validators=[validate_printable]
    )


class MicrocurrentEntryForm(RecordEntryForm):
    current_ua = forms.IntegerField(label="Current (µA)", min_value=1, max_value=MAX_MICROCURRENT_UA - 1)
    frequency_hz = forms.DecimalField(
        label="Frequency (Hz)", min_value=Decimal("0.01"), max_value=Decimal("9999.99"), decimal_places=2
    )
    waveform = forms.ChoiceField(label="Waveform", choices=Waveform.choices)
    minutes = forms.IntegerField(label="Minutes", min_value=1, max_value=240)


class MesotherapyEntryForm(RecordEntryForm):
    lot = forms.ModelChoiceField(queryset=ProductLot.objects.none(), label="Product and lot")
    volume_ml = forms.DecimalField(
        label="Volume (mL)", min_value=Decimal("0.01"), max_value=Decimal("100"), decimal_places=2
    )
    depth_mm = forms.DecimalField(
        label="Depth (mm)", min_value=Decimal("0"), max_value=MAX_MESO_DEPTH_MM, decimal_places=2
    )
    technique = forms.ChoiceField(label="Technique", choices=MesoTechnique.choices)

    def __init__(self, *args, lots=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["lot"].queryset = lots if lots is not None else ProductLot.objects.none()
        self.fields["lot"].label_from_instance = lambda lot: (
            f"{lot.product.name} · lot {lot.lot_number} · expires {lot.expiry_date:%d %b %Y}{stock_said(lot)}"
        )
        self.fields["lot"].empty_label = "Choose the product and lot"


class SessionNotesForm(PlainLabelsForm):
    notes = forms.CharField(
        label="Notes",
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="The skin's response, products applied after, advice given.",
    )


class SessionPhotoForm(PlainLabelsForm):
    image = forms.FileField(
        label="Photo",
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp,image/heic"}),
    )
    area = forms.ModelChoiceField(
        queryset=BodyArea.objects.all(), required=False, label="Area", empty_label="Not one area"
    )
    caption = forms.CharField(
        max_length=200, required=False, label="Caption", validators=[validate_printable]
    )


class PhotoConsentForm(PlainLabelsForm):
    """The client's consent to photos for their clinical record, signed on the practitioner's tablet."""

    agreed = forms.BooleanField(required=False, label="I have read this and agree")
    signature_name = forms.CharField(
        max_length=200, required=False, label="Full name, to sign", validators=[validate_printable]
    )
    # for a client under the age of majority: who signs for them
    signed_as = forms.ChoiceField(choices=[("", "—"), *GuardianRole.choices], required=False)


class AddendumForm(PlainLabelsForm):
    text = forms.CharField(
        label="Addendum",
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What was learnt after sign-off: a reaction the client reported, a correction.",
        validators=[validate_printable],
    )


class NewsForm(PlainLabelsForm):
    """The clinic's news: what it says and who it is for (`treatments.news`)."""

    subject = forms.CharField(max_length=150, label="Subject")
    text = forms.CharField(
        max_length=5000,
        label="What it says",
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="Plain text. Each client's email begins with “Hello” and their first name, and ends with "
        "the clinic's name and a link to stop these emails.",
    )
    audience = forms.ChoiceField(
        choices=NewsAudience.choices, label="Who it is for", widget=forms.RadioSelect
    )
    service = forms.ModelChoiceField(queryset=None, required=False, label="The service they had")
    months = forms.IntegerField(
        min_value=1, max_value=NEWS_MONTHS_LONGEST, required=False, label="Not seen for (months)"
    )

    def __init__(self, *args, clinic, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["service"].queryset = Service.objects.filter(clinic=clinic).order_by("name")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("audience") == NewsAudience.HAD_SERVICE and not cleaned.get("service"):
            self.add_error("service", "Choose the service they had.")
        if cleaned.get("audience") == NewsAudience.NOT_SEEN and not cleaned.get("months"):
            self.add_error("months", f"Say how many months, 1 to {NEWS_MONTHS_LONGEST}.")
        return cleaned
