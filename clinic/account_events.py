"""What happened to each staff sign-in, for the person and their managers to read (`AccountEvent`).

The services that change a sign-in (`clinic.staff`, `clinic.two_step`) and the sign-in signal record
here; wrong passwords and codes are `SignInFailure`s already (`clinic.sign_in`), and
`account_activity` reads both as one list, latest first.
"""

import datetime as dt
from dataclasses import dataclass

from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from clinic.models import AccountAction, AccountEvent, SignInFailure

# Events are kept this long (a year and a season: last year's same weeks can be compared), then
# deleted as new ones come.
KEPT_FOR = dt.timedelta(days=400)
# How many lines of activity a person's page and each row of the staff page show.
ACTIVITY_SHOWN = 10
WRONG_PASSWORD = "Wrong password or code"  # noqa: S105 (words, not a password)


def account_event_record(user, action: AccountAction, *, by=None, address: str | None = None) -> AccountEvent:
    """Record that `action` happened to `user`'s sign-in (`by` someone else, such as a manager)."""
    now = timezone.now()
    event = AccountEvent.objects.create(
        user=user,
        action=action,
        by=by if by is not None and by.pk != user.pk else None,
        ip_address=address,
        at=now,
    )
    AccountEvent.objects.filter(at__lt=now - KEPT_FOR).delete()
    return event


@dataclass(frozen=True)
class ActivityLine:
    at: dt.datetime
    said: str
    by: str  # who did it, when it was someone else
    address: str
    is_failure: bool


def account_activity(users, *, limit: int = ACTIVITY_SHOWN) -> dict[int, list[ActivityLine]]:
    """For each user, their latest `limit` events and wrong passwords, latest first; two queries."""
    users = list(users)
    by_id = {u.pk: u for u in users}
    lines: dict[int, list[ActivityLine]] = {u.pk: [] for u in users}
    events = (
        AccountEvent.objects.filter(user_id__in=by_id)
        .annotate(n=_latest_first("user_id", "at", "id"))
        .filter(n__lte=limit)
        .select_related("by__staff")
    )
    for event in events:
        lines[event.user_id].append(
            ActivityLine(
                at=event.at,
                said=event.get_action_display(),
                by=_name_of(event.by) if event.by_id else "",
                address=event.ip_address or "",
                is_failure=False,
            )
        )
    user_of_username = {u.get_username().lower(): u.pk for u in users}
    failures = (
        SignInFailure.objects.filter(username__in=user_of_username)
        .annotate(n=_latest_first("username", "at", "id"))
        .filter(n__lte=limit)
    )
    for failure in failures:
        lines[user_of_username[failure.username]].append(
            ActivityLine(
                at=failure.at, said=WRONG_PASSWORD, by="", address=failure.ip_address or "", is_failure=True
            )
        )
    return {pk: sorted(found, key=lambda line: line.at, reverse=True)[:limit] for pk, found in lines.items()}


def _latest_first(partition: str, *order: str) -> Window:
    """Each row's place among its `partition`'s, latest first: the first `limit` of each, one query."""
    return Window(RowNumber(), partition_by=[F(partition)], order_by=[F(o).desc() for o in order])


def _name_of(user) -> str:
    staff = getattr(user, "staff", None)
    return staff.display_name if staff is not None else user.get_username()
