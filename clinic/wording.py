"""How pages and messages put things into words, where more than one place says them."""

import datetime as dt

from django.utils import timezone


def clinic_local(clinic, instant: dt.datetime) -> str:
    """An instant in the clinic's time as refusals of overlapping stretches say it: "Fri 25 Dec 09:00"."""
    return f"{timezone.localtime(instant, clinic.zone):%a %d %b %H:%M}"


def listed(items: list[str]) -> str:
    """'a', 'a and b', 'a, b and c': items as a sentence names them ('' for none)."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"
