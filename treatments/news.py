"""The clinic's news by email, to the clients who said yes to it (`Client.accepts_marketing_email`).

A manager writes it (`news_write`), sees who it goes to and what they will read, then sends it, once
(`news_send`): one outbox row per client, written in one transaction with the news marked sent, so a
second click, or a colleague's, sends nothing more, and a crash leaves either every row or none. The
rows are non-essential mail: each carries one-click unsubscribe (RFC 8058), and a client who says no
to news, unsubscribes or is erased before their row goes is not sent it (`out_of_date_news`).

Who: everyone who said yes, those who had a service, or those who came before but not for some months
and have nothing booked (to ask them back). Never a client without an email, erased, unsubscribed, or
whose address their mail server refused. Finding them is two queries, however many clients.
"""

import calendar
import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, QuerySet
from django.utils import timezone

from clients.links import unsubscribe_url
from clients.models import Client
from clients.selectors import refused_addresses
from clinic.errors import ClinicError
from clinic.message_templates import SAMPLE_CONTEXT, refuse_without_test_address
from clinic.models import OutboxMessage, OutboxStatus, StaffMember
from clinic.outbox import NEWS_TOPIC_PREFIX, outbox_enqueue, outbox_message, outbox_write
from clinic.permissions import require_manager_of
from clinic.wording import day_said
from treatments.models import INACTIVE_STATUSES, Appointment, AppointmentStatus, ClinicNews, NewsAudience

NEWS_EMAIL = "clinic_news"
EMAIL_THE_NEWS = "email the clinic's news"  # what only a manager may do
NO_LONGER_WANTED = "the client no longer wants the clinic's news"


def _topic(news: ClinicNews) -> str:
    """The outbox topic of the news's emails (its dedupe keys begin with it)."""
    return f"{NEWS_TOPIC_PREFIX}{news.pk}"


def months_before(moment: dt.datetime, months: int) -> dt.datetime:
    """The same day of the month `months` earlier (the month's last day where it is shorter)."""
    month_index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(month_index, 12)
    month += 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def news_audience(news: ClinicNews, *, now: dt.datetime) -> QuerySet[Client]:
    """The clinic's clients the news is for, by its audience, who said yes to news and can be emailed."""
    clients = Client.objects.filter(
        clinic_id=news.clinic_id, erased_at=None, accepts_marketing_email=True, unsubscribed_at=None
    ).exclude(email="")
    had = Appointment.objects.filter(client=OuterRef("pk"), status=AppointmentStatus.FULFILLED)
    if news.audience == NewsAudience.HAD_SERVICE:
        clients = clients.filter(Exists(had.filter(service_id=news.service_id)))
    elif news.audience == NewsAudience.NOT_SEEN:
        ahead = Appointment.objects.filter(client=OuterRef("pk"), end__gt=now).exclude(
            status__in=INACTIVE_STATUSES
        )
        clients = (
            clients.filter(Exists(had))
            .exclude(Exists(had.filter(start__gte=months_before(now, news.months))))
            .exclude(Exists(ahead))
        )
    return clients.order_by("last_name", "first_name", "id")


def news_recipients(news: ClinicNews, *, now: dt.datetime | None = None) -> list[Client]:
    """Who the news goes to: its audience, less the addresses their mail server refused (two queries)."""
    clients = list(news_audience(news, now=now or timezone.now()))
    refused = refused_addresses(clients)
    return [client for client in clients if client.pk not in refused]


def _refuse_if_sent(news: ClinicNews) -> None:
    if news.sent_at:
        raise ClinicError(
            f"This news was sent on {day_said(timezone.localdate(news.sent_at, news.clinic.zone))} to "
            f"{news.recipients} clients: it goes once.",
            code="already_sent",
        )


@transaction.atomic
def news_write(*, clinic, by: StaffMember, subject: str, text: str, audience: str, service=None, months=None):
    """Keep a manager's news, not sent yet, after the checks the database also makes."""
    require_manager_of(clinic, by, to=EMAIL_THE_NEWS)
    news = ClinicNews(
        clinic=clinic,
        written_by=by,
        subject=subject.strip(),
        text=text.strip(),
        audience=audience,
        service=service if audience == NewsAudience.HAD_SERVICE else None,
        months=months if audience == NewsAudience.NOT_SEEN else None,
    )
    if news.service is not None and news.service.clinic_id != clinic.pk:
        raise ClinicError("Choose one of the clinic's services.", code="bad_service")
    try:
        news.full_clean(exclude=["written_by", "sent_by"])
    except ValidationError as error:
        raise ClinicError(" ".join(error.messages), code="bad_news") from error
    news.save()
    return news


# How far ahead news can be set to go.
LATEST_SEND_DAYS = 60
STOPPED = "The clinic stopped this news before it went."


@transaction.atomic
def news_send(
    news: ClinicNews,
    *,
    by: StaffMember,
    expected: int | None = None,
    goes_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
):
    """Send the news to everyone it is for, once: one outbox row each, with the news marked sent.

    `expected`: how many the manager was shown; if the audience changed since, nothing is sent and
    they are told, so nobody emails 900 clients thinking it was 90. `goes_at`: a later time for the
    emails to go (a Tuesday morning, say): they wait in the outbox, due then, and anyone who says no
    to news meanwhile is left out as they go.
    """
    now = now or timezone.now()
    locked = ClinicNews.objects.select_for_update().select_related("clinic").get(pk=news.pk)
    require_manager_of(locked.clinic, by, to=EMAIL_THE_NEWS)
    _refuse_if_sent(locked)
    if goes_at is not None and not now < goes_at <= now + dt.timedelta(days=LATEST_SEND_DAYS):
        raise ClinicError(
            f"Choose a time to send it between now and {LATEST_SEND_DAYS} days ahead, or send it now.",
            code="bad_time",
        )
    recipients = news_recipients(locked, now=now)
    if not recipients:
        raise ClinicError(
            "Nobody it is for can be emailed: no client of this audience said yes to the clinic's news.",
            code="nobody",
        )
    if expected is not None and expected != len(recipients):
        raise ClinicError(
            f"It now goes to {len(recipients)} clients, not {expected}: check who, then send it again.",
            code="audience_changed",
        )
    outbox_write(
        [
            outbox_message(
                clinic=locked.clinic,
                recipient_email=client.email,
                recipient_name=client.full_name,
                template_key=NEWS_EMAIL,
                dedupe_key=f"{_topic(locked)}:client:{client.pk}",
                topic=_topic(locked),
                due_at=goes_at or now,
                is_essential=False,
                client_id=client.pk,
                context={
                    "client_first_name": client.first_name,
                    "news_subject": locked.subject,
                    "news_text": locked.text,
                    "unsubscribe_url": unsubscribe_url(client),
                },
            )
            for client in recipients
        ]
    )
    locked.sent_at, locked.sent_by, locked.recipients = now, by, len(recipients)
    locked.goes_at = goes_at or now
    locked.save(update_fields=["sent_at", "sent_by", "recipients", "goes_at"])
    return locked


@transaction.atomic
def news_stop(news: ClinicNews, *, by: StaffMember, now: dt.datetime | None = None) -> int:
    """Stop news sent for later (or still going out): its emails no worker has taken yet are not
    sent. Returns how many were stopped; those already sent stay sent."""
    now = now or timezone.now()
    locked = ClinicNews.objects.select_for_update().select_related("clinic").get(pk=news.pk)
    require_manager_of(locked.clinic, by, to=EMAIL_THE_NEWS)
    if not locked.sent_at or locked.stopped_at:
        raise ClinicError("This news is not on its way: there is nothing to stop.", code="not_going")
    stopped = OutboxMessage.objects.filter(
        clinic_id=locked.clinic_id, topic=_topic(locked), status=OutboxStatus.PENDING, claimed_at=None
    ).update(status=OutboxStatus.CANCELLED, last_error=STOPPED)
    locked.stopped_at = now
    locked.save(update_fields=["stopped_at"])
    return stopped


@transaction.atomic
def news_send_test(news: ClinicNews, *, by: StaffMember, now: dt.datetime | None = None) -> OutboxMessage:
    """Email the manager the news as a client gets it (their name in the greeting), through the outbox
    like the news itself, before it goes to anyone else."""
    require_manager_of(news.clinic, by, to=EMAIL_THE_NEWS)
    refuse_without_test_address(by)
    now = now or timezone.now()
    return outbox_enqueue(
        clinic=news.clinic,
        recipient_email=by.user.email,
        recipient_name=by.display_name,
        template_key=NEWS_EMAIL,
        dedupe_key=f"news-test:{news.pk}:{by.pk}:{now.isoformat()}",
        topic=f"news-test:{news.pk}",
        is_essential=False,  # as the news goes: with its unsubscribe headers (no client: nobody to check)
        context={
            "client_first_name": (by.display_name.split() or [SAMPLE_CONTEXT["client_first_name"]])[0],
            "news_subject": news.subject,
            "news_text": news.text,
            "unsubscribe_url": SAMPLE_CONTEXT["unsubscribe_url"],
        },
    )


@transaction.atomic
def news_delete(news: ClinicNews, *, by: StaffMember) -> None:
    """Throw away news not sent yet."""
    locked = ClinicNews.objects.select_for_update().select_related("clinic").get(pk=news.pk)
    require_manager_of(locked.clinic, by, to=EMAIL_THE_NEWS)
    _refuse_if_sent(locked)
    locked.delete()


def news_delivery(news: ClinicNews) -> dict[str, int]:
    """How its emails stand: sent, still to go, failed, not sent (one grouped query)."""
    return dict(
        OutboxMessage.objects.filter(clinic_id=news.clinic_id, topic=_topic(news))
        .values_list("status")
        .annotate(count=Count("id"))
        .order_by()
    )


def out_of_date_news(messages: list[OutboxMessage], now: dt.datetime, delivering: bool) -> dict[int, str]:
    """News rows whose client no longer wants news (said no, unsubscribed, erased): not sent or resent.

    Registered with `clinic.outbox.register_out_of_date_check`; one query, for news rows only."""
    news_rows = [m for m in messages if m.template_key == NEWS_EMAIL and m.client_id]  # not a manager's test
    if not news_rows:
        return {}
    wanting = set(
        Client.objects.filter(
            pk__in={m.client_id for m in news_rows},
            accepts_marketing_email=True,
            unsubscribed_at=None,
            erased_at=None,
        ).values_list("pk", flat=True)
    )
    return {m.pk: NO_LONGER_WANTED for m in news_rows if m.client_id not in wanting}
