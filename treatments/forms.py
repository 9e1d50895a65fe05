"""Forms for the booking screens; they only parse input, the booking service decides."""

import datetime as dt

from django import forms
from django.utils import timezone

from clients.forms import ReachableClientMixin
from clients.models import validate_date_of_birth, validate_printable
from treatments.booking import MAX_COURSE_SESSIONS
from treatments.selectors import within_calendar


class NewClientForm(ReachableClientMixin, forms.Form):
    """A client typed in while booking, when search found nobody."""

    first_name = forms.CharField(max_length=100, validators=[validate_printable])
    last_name = forms.CharField(max_length=100, validators=[validate_printable])
    email = forms.EmailField(required=False)
    phone = forms.CharField(max_length=40, required=False, validators=[validate_printable])
    date_of_birth = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), validators=[validate_date_of_birth]
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


def parse_id(raw: str | None) -> int:
    """Read a row id from a link or form; 0 (which no row has) for anything that is not one.

    Ids arrive in query strings that people edit and old links; "x" or "12abc" must find nothing,
    not stop the page. Nineteen digits or more would not fit the database's integer either.
    """
    text = (raw or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else 0


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


class TimeOffForm(PlainLabelsForm):
    """A practitioner's time off, typed in the clinic's local time."""

    # No one is chosen beforehand: a form sent as it came must not record the first name on the list
    # as off.
    practitioner = forms.ModelChoiceField(
        queryset=None, empty_label="Choose…", error_messages={"required": "Choose who is off."}
    )
    start = LocalDateTimeField(label="From")
    end = LocalDateTimeField(label="Until")
    reason = forms.CharField(
        max_length=200,
        required=False,
        validators=[validate_printable],
        help_text="For example: Sick, Training",
    )

    def __init__(self, *args, practitioners, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["practitioner"].queryset = practitioners
