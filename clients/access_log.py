"""Who opened a client's health data: each read of intake answers, signed consents, treatment records,
photos and exports, kept for the clinic's managers to answer "who has looked at my record?" (the
access log GDPR's accountability and HIPAA's audit controls ask a clinic for).
"""

import datetime as dt

from django.utils import timezone

from clients.models import HealthDataAccess, HealthDataRead
from clinic.models import StaffMember

# Reads of the same kind of data of one client by one reader within one such period count once.
PERIOD = dt.timedelta(minutes=30)
# How many of a client's latest accesses their page lists.
ACCESSES_SHOWN = 30


def period_of(moment: dt.datetime) -> dt.datetime:
    """The start of the half hour of the clock (in UTC) the moment falls in."""
    epoch = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    return epoch + (moment - epoch) // PERIOD * PERIOD


def health_data_read(
    member: StaffMember, client_id: int, what: HealthDataRead, *, now: dt.datetime | None = None
) -> None:
    """Note that `member` is reading this client's data of this kind (one query)."""
    health_data_read_many(member, [client_id], what, now=now)


def health_data_read_many(
    member: StaffMember, client_ids, what: HealthDataRead, *, now: dt.datetime | None = None
) -> None:
    """`health_data_read` for each of these clients (a page of records through the API): one query, an
    INSERT whose rows already noted in this period the unique constraint lets go."""
    now = now or timezone.now()
    accesses_write(
        member.clinic_id, [(client_id, member.pk, what, now) for client_id in sorted(set(client_ids))]
    )


def accesses_write(clinic_id: int, reads) -> None:
    """Store reads (client id, reader's staff id, what, when) in one INSERT; a read already noted for
    that client, reader and kind in its half hour is let go by the unique constraint."""
    HealthDataAccess.objects.bulk_create(
        [
            HealthDataAccess(
                clinic_id=clinic_id,
                client_id=client_id,
                staff_member_id=staff_member_id,
                what=what,
                at=at,
                period=period_of(at),
            )
            for client_id, staff_member_id, what, at in reads
        ],
        ignore_conflicts=True,
    )


def health_data_accesses(client_id: int) -> list[HealthDataAccess]:
    """The client's latest accesses, newest first, with their readers (one query)."""
    return list(
        HealthDataAccess.objects.filter(client_id=client_id)
        .select_related("staff_member")
        .order_by("-at", "-id")[:ACCESSES_SHOWN]
    )
