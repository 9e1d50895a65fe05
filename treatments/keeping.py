"""Client records the clinic no longer has to keep, for a manager to review and erase (storage
limitation, GDPR and UK GDPR article 5(1)(e)).

A client's record is past its keeping time when nothing has happened on it for the clinic's
`health_records_kept_years` (8 by default): no visit (held, booked or cancelled) nor change to one, no
feedback, no waitlist place, no health record (intake, consent signed or withdrawn, photo consent,
treatment record or addendum) and no registration since; and a child's health records are kept until
their `minor_records_until_age` birthday too (`clients.erasure.kept_until_after`). Nobody has to ask:
the manager sees them listed (`/manage/keeping/`), the longest past it first, and erases those the
clinic does not need to keep for another reason (a complaint or claim still open), as
`clients.erasure` erases a record at the client's request, with `erased_because` saying which.

The list takes the same eleven queries however many clients and visits the clinic has: one grouped
query per kind of moment (the latest of each client's, in one pass over its table) and one for the
clients registered before the cut-off; the exact day (a child's birthday, 29 February) is decided
here. 20,000 records listed take about half a second on PostgreSQL (`bench/keeping.py`; correlated
subqueries took 3.5 s).
"""

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.db.models.functions import Coalesce, Greatest
from django.urls import reverse
from django.utils import timezone

from clients.erasure import HEALTH_RECORD_MOMENTS, client_erase, kept_until_after, years_after
from clients.models import (
    Client,
    ConsentWithdrawal,
    ErasureReason,
    IntakeResponse,
    PhotoConsent,
    SignedConsent,
)
from clinic.errors import ClinicError
from clinic.models import Clinic, StaffMember, StaffRole
from clinic.outbox import outbox_message, outbox_write
from clinic.permissions import require_manager_of
from clinic.wording import day_said
from treatments.booking import TREATMENT_RECORD_MOMENTS
from treatments.models import (
    Appointment,
    AppointmentEvent,
    SessionAddendum,
    TreatmentSession,
    VisitFeedback,
    WaitlistEntry,
)

# The records listed at once, the longest past their keeping time first: erasing them brings the next.
LISTED_AT_ONCE = 100

# How the list names each kind of health record (`clients.erasure.HEALTH_RECORD_MOMENTS` and
# `booking.TREATMENT_RECORD_MOMENTS` say when each last happened, as the erasure reads them).
_HEALTH_RECORD_NAMES = {
    IntakeResponse: "intake form",
    SignedConsent: "consent signed",
    ConsentWithdrawal: "consent withdrawn",
    PhotoConsent: "photo consent",
    TreatmentSession: "treatment record",
    SessionAddendum: "treatment record addendum",
}
# What can happen on a client's record, by the words the list says it in: (model, the path from it to
# the client, when it happened, whether it is a health record).
_MOMENTS = {
    **{
        _HEALTH_RECORD_NAMES[model]: (model, "client", moment, True)
        for model, moment in HEALTH_RECORD_MOMENTS
    },
    **{
        _HEALTH_RECORD_NAMES[model]: (model, path, moment, True)
        for model, path, moment in TREATMENT_RECORD_MOMENTS
    },
    "visit": (Appointment, "client", "end", False),
    "change to a visit": (AppointmentEvent, "appointment__client", "at", False),
    "feedback on a visit": (VisitFeedback, "appointment__client", "given_at", False),
    "waitlist place": (
        WaitlistEntry,
        "client",
        Greatest("added_at", Coalesce("ended_at", "added_at")),
        False,
    ),
}
_REGISTERED = "registered"


@dataclass(frozen=True)
class PastKeeping:
    """A client's record seen for its keeping time: the latest thing on it (what, when), and the last
    day its health records had to be kept (None: it holds none)."""

    client: Client
    last_what: str
    last_at: dt.datetime
    health_kept_until: dt.date | None
    kept_until: dt.date  # the last day the clinic keeps the record

    @property
    def past(self) -> bool:
        return self.kept_until < timezone.localdate(timezone=self.client.clinic.zone)


# The moments of clients a clinic holds, by kind: {kind: {client id: latest}}.
Moments = dict[str, dict[int, dt.datetime]]


def _latest_moments(clinic: Clinic, client_ids: list[int] | None = None) -> Moments:
    """The latest of each kind of moment for each of the clinic's clients (or of `client_ids`): one
    grouped query per kind, each a single pass over its table, however many clients."""
    latest: Moments = {}
    for name, (model, path, moment, _health) in _MOMENTS.items():
        rows = model.objects.filter(**{f"{path}__clinic": clinic})
        if client_ids is not None:
            rows = rows.filter(**{f"{path}__in": client_ids})
        latest[name] = dict(rows.order_by().values_list(path).annotate(latest=Max(moment)))
    return latest


def _seen(client: Client, latest: Moments) -> PastKeeping:
    moments = {name: latest[name].get(client.pk) for name in _MOMENTS}
    latest_health = max((at for name, at in moments.items() if at and _MOMENTS[name][3]), default=None)
    last_what, last_at = max(
        [(name, at) for name, at in moments.items() if at] + [(_REGISTERED, client.created_at)],
        key=lambda seen: seen[1],
    )
    health_kept_until = kept_until_after(client, latest_health) if latest_health else None
    kept_until = years_after(
        timezone.localdate(last_at, client.clinic.zone), client.clinic.health_records_kept_years
    )
    return PastKeeping(
        client=client,
        last_what=last_what,
        last_at=last_at,
        health_kept_until=health_kept_until,
        kept_until=max(kept_until, health_kept_until or kept_until),
    )


def records_past_keeping(clinic: Clinic) -> list[PastKeeping]:
    """The clinic's client records past their keeping time, the longest past it first. Eleven queries
    (one per kind of moment, one for the clients registered before the cut-off), whatever the number
    of clients or visits."""
    today = timezone.localdate(timezone=clinic.zone)
    # Nothing on the record since this instant, or it is not past (a day's margin each side of the
    # local date; the exact day is decided by `_seen`).
    cut_off = dt.datetime.combine(
        years_after(today, -clinic.health_records_kept_years), dt.time(), tzinfo=clinic.zone
    ) + dt.timedelta(days=1)
    latest = _latest_moments(clinic)
    recent = {
        client_id for by_client in latest.values() for client_id, at in by_client.items() if at >= cut_off
    }
    seen = []
    for client in Client.objects.filter(clinic=clinic, erased_at=None, created_at__lt=cut_off).order_by("pk"):
        if client.pk in recent:
            continue
        client.clinic = clinic  # the one already loaded: no join, no query
        seen.append(_seen(client, latest))
    return sorted(
        (record for record in seen if record.past), key=lambda record: (record.kept_until, record.client.pk)
    )


def keeping_of(client: Client) -> PastKeeping:
    """One client's record seen for its keeping time (ten queries, one per kind of moment)."""
    return _seen(client, _latest_moments(client.clinic, [client.pk]))


def client_erase_past_keeping(*, client: Client, by: StaffMember) -> Client:
    """Erase a client's record because the clinic no longer has to keep it, or raise ClinicError
    saying why not (something happened on it since, or what stops any erasure). Managers only."""
    require_manager_of(client.clinic, by, to="erase a client's record")
    with transaction.atomic():
        # locked before it is read, as a booking locks it: one made meanwhile is seen, or waits
        locked = Client.objects.select_for_update(no_key=True).select_related("clinic").get(pk=client.pk)
        if locked.erased_at:
            raise ClinicError("This record was erased already.", code="cannot_erase")
        seen = keeping_of(locked)
        if not seen.past:
            raise ClinicError(
                f"{locked.full_name}'s record is not past its keeping time: the latest on it "
                f"({seen.last_what}, {day_said(timezone.localdate(seen.last_at, locked.clinic.zone))}) "
                f"keeps it until {day_said(seen.kept_until)}.",
                code="not_past_keeping",
            )
        return client_erase(client=locked, by=by, because=ErasureReason.KEPT_LONG_ENOUGH)


REVIEW_REMINDER = "records_past_keeping"


def keeping_review_remind(clinic: Clinic, *, now: dt.datetime | None = None) -> int:
    """Email the clinic's managers (or, with none to write to, the clinic's own address) how many client
    records are past their keeping time and where to review them: once a month while there are any,
    however often it is called (the dedupe key names the month). Returns the emails written."""
    now = now or timezone.now()
    past = records_past_keeping(clinic)
    if not past:
        return 0
    managers = StaffMember.objects.filter(clinic=clinic, role=StaffRole.MANAGER, is_active=True).exclude(
        user__email=""
    )
    recipients = [(m.user.email, m.display_name) for m in managers.select_related("user").order_by("pk")]
    if not recipients and clinic.email:
        recipients = [(clinic.email, clinic.name)]
    month = timezone.localdate(now, clinic.zone).strftime("%Y-%m")
    outbox_write(
        [
            outbox_message(
                clinic=clinic,
                recipient_email=email,
                recipient_name=name,
                template_key=REVIEW_REMINDER,
                dedupe_key=f"keeping-review:{clinic.pk}:{month}:{email.lower()}",
                context={
                    "count": len(past),
                    "oldest_kept_until": day_said(past[0].kept_until),
                    "review_url": settings.SITE_URL.rstrip("/") + reverse("records-past-keeping"),
                    "kept_years": clinic.health_records_kept_years,
                },
                topic=f"keeping-review:{clinic.pk}",
            )
            for email, name in recipients
        ]
    )
    return len(recipients)
