"""How pages and messages put things into words, where more than one place says them."""

import datetime as dt

from django.utils import timezone


def clinic_local(clinic, instant: dt.datetime) -> str:
    """An instant in the clinic's time as refusals of overlapping stretches say it: "Fri 25 Dec 09:00"."""
    return f"{timezone.localtime(instant, clinic.zone):%a %d %b %H:%M}"


def day_said(day: dt.date) -> str:
    """A date as refusals and notices write it: "1 December 2034"."""
    return f"{day.day} {day:%B %Y}"


def listed(items: list[str]) -> str:
    """'a', 'a and b', 'a, b and c': items as a sentence names them ('' for none)."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


WEEKDAYS_SHORT = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def weekdays_said(days) -> str:
    """Weekdays (0 Monday) as a rota says them: "Mon–Fri", "Mon, Wed", "Mon–Wed, Sat, Sun"."""
    runs: list[list[int]] = []
    for day in sorted(set(days)):
        if runs and day == runs[-1][1] + 1:
            runs[-1][1] = day
        else:
            runs.append([day, day])
    said = []
    for first, last in runs:
        if first == last:
            said.append(WEEKDAYS_SHORT[first])
        elif last == first + 1:
            said += [WEEKDAYS_SHORT[first], WEEKDAYS_SHORT[last]]
        else:
            said.append(f"{WEEKDAYS_SHORT[first]}–{WEEKDAYS_SHORT[last]}")
    return ", ".join(said)


def week_said(hours) -> str:
    """One rota's working hours in words, days with the same hours together:
    "Mon–Fri 09:00–17:00; Sat 10:00–13:00 and 14:00–16:00"."""
    by_day: dict[int, list[str]] = {}
    for row in sorted(hours, key=lambda row: (row.weekday, row.start_time)):
        by_day.setdefault(row.weekday, []).append(f"{row.start_time:%H:%M}–{row.end_time:%H:%M}")
    days_by_hours: dict[str, list[int]] = {}
    for day, windows in by_day.items():
        days_by_hours.setdefault(" and ".join(windows), []).append(day)
    return "; ".join(f"{weekdays_said(days)} {windows}" for windows, days in days_by_hours.items())


def rotas_said(hours, today: dt.date) -> list[tuple[dt.date | None, str]]:
    """A practitioner's rota in force today (None: no date to say) and those to come, each from the
    day it begins (`clinic.models.working_hours_on` reads them the same way), in words."""
    rotas: dict[dt.date | None, list] = {}
    for row in hours:
        rotas.setdefault(row.applies_from, []).append(row)
    begun = [since for since in rotas if since is None or since <= today]
    said = []
    if begun:
        said.append((None, week_said(rotas[max(begun, key=lambda since: since or dt.date.min)])))
    said += [(since, week_said(rotas[since])) for since in sorted(s for s in rotas if s and s > today)]
    return said
