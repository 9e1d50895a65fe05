"""The outbox: messages written with the change that causes them, delivered by workers exactly once.

Delivery, step by step:
1. `outbox_release_stale_claims` puts back rows whose worker died while holding them.
2. `outbox_claim_due` claims due rows one by one with a conditional UPDATE (pending -> sending), so
   two workers or two beat ticks never hold the same row.
3. `outbox_deliver` sends the claimed rows over one SMTP connection and marks each sent (with its
   Message-ID) right after the server accepts it; transient failures go back to pending with a
   backoff, permanent ones are marked failed with the reason.
"""

import logging
import os
import smtplib
import socket
from collections.abc import Callable
from contextlib import contextmanager
from datetime import datetime, timedelta
from email.mime.text import MIMEText
from email.utils import formataddr, parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.core.mail.message import sanitize_address
from django.db import DatabaseError, transaction
from django.db import connection as database
from django.db.models import F
from django.template import TemplateDoesNotExist
from django.utils import timezone

from clinic.email_bytes import email_bytes, plain_text_email_bytes
from clinic.errors import ClinicError
from clinic.message_templates import overrides_for, render_parts, render_wording, wording_for
from clinic.models import Clinic, OutboxMessage, OutboxStatus

logger = logging.getLogger(__name__)

# 100 rows a batch: one SMTP session of about a second on a local relay, small enough that a
# killed worker leaves little to re-claim.
DELIVERY_BATCH_SIZE = 100
MAX_ATTEMPTS = 8
# What a row looks like again once no worker holds it.
BACK_IN_QUEUE = {"status": OutboxStatus.PENDING, "claimed_at": None, "claimed_by": ""}


def stale_claim_after() -> timedelta:
    """Return the age after which a claim belongs to a worker that died (well above one batch's time)."""
    return timedelta(seconds=settings.OUTBOX_STALE_CLAIM_SECONDS)


def first_retry_after() -> timedelta:
    """Return the wait before the first retry of a transient failure; it doubles with every attempt."""
    return timedelta(seconds=settings.OUTBOX_FIRST_RETRY_SECONDS)


def outbox_message(
    *,
    clinic: Clinic,
    recipient_email: str,
    template_key: str,
    dedupe_key: str,
    due_at: datetime | None = None,
    context: dict | None = None,
    recipient_name: str = "",
    topic: str = "",
    is_essential: bool = True,
    client_id: int | None = None,
) -> OutboxMessage:
    """Build (not save) a message to send; `outbox_write` stores it."""
    if not dedupe_key:
        raise ValueError("An outbox message needs a dedupe key.")
    return OutboxMessage(
        clinic=clinic,
        recipient_email=recipient_email,
        recipient_name=recipient_name,
        template_key=template_key,
        context=context or {},
        due_at=due_at or timezone.now(),
        topic=topic,
        is_essential=is_essential,
        client_id=client_id,
        dedupe_key=dedupe_key,
    )


def outbox_write(messages: list[OutboxMessage]) -> None:
    """Store messages in one INSERT; a dedupe key already stored keeps its message as it is.

    Call inside the transaction of their cause. The rows come from `outbox_message`, which checks
    the one constraint a caller could break (the dedupe key), so ignoring conflicts ignores only
    the dedupe key's (SQLite's INSERT OR IGNORE would also swallow other constraint failures).
    """
    if not messages:
        return
    OutboxMessage.objects.bulk_create(messages, ignore_conflicts=True, batch_size=1000)
    now = timezone.now()
    if any(m.status == OutboxStatus.PENDING and m.due_at <= now for m in messages):
        # Due now: hand it to a worker as soon as the transaction commits (beat is the safety net).
        _kick_delivery_on_commit()


def _kick_delivery_on_commit() -> None:
    """Kick delivery once the transaction commits: once, however many writes it holds.

    A kick already registered covers this write: savepoints nest, so whatever rolls that kick back
    (Django drops a callback with its savepoint) rolls this write back too.
    """
    if not any(callback is kick_delivery for _, callback, *_ in transaction.get_connection().run_on_commit):
        transaction.on_commit(kick_delivery, robust=True)


def outbox_enqueue(**fields) -> OutboxMessage:
    """Write one message (once per dedupe key) and return the stored row; see `outbox_message`."""
    outbox_write([outbox_message(**fields)])
    return OutboxMessage.objects.get(dedupe_key=fields["dedupe_key"])


def kick_delivery() -> None:
    """Ask a worker to deliver due messages now; if the broker is down, beat's next tick will."""
    from clinic.tasks import deliver_due_messages_task

    try:
        deliver_due_messages_task.apply_async(retry=False, ignore_result=True)
    except Exception:  # noqa: BLE001 (any broker failure: the row is safe in the database)
        logger.warning("could not reach the broker; due messages wait for the next beat tick", exc_info=True)


def claim_holder() -> str:
    """Name this process as a claim holder: host and pid, so a restart on the host can see it died."""
    return f"{socket.gethostname()}:{os.getpid()}"[:120]


def _process_is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def outbox_release_stale_claims(*, now: datetime | None = None) -> int:
    """Put rows claimed by a worker that died back in the queue; return how many.

    A holder on this host whose process is gone is released at once (a worker killed and
    restarted picks its rows up on the next tick); a holder elsewhere after `stale_claim_after`.
    """
    now = now or timezone.now()
    released = OutboxMessage.objects.filter(
        status=OutboxStatus.SENDING, claimed_at__lt=now - stale_claim_after()
    ).update(**BACK_IN_QUEUE)
    this_host = f"{socket.gethostname()}:"
    holders = (
        OutboxMessage.objects.filter(status=OutboxStatus.SENDING, claimed_by__startswith=this_host)
        .values_list("claimed_by", flat=True)
        .distinct()
    )
    dead = [
        h
        for h in holders
        if h.rpartition(":")[2].isdigit() and not _process_is_alive(int(h.rpartition(":")[2]))
    ]
    if dead:
        released += OutboxMessage.objects.filter(status=OutboxStatus.SENDING, claimed_by__in=dead).update(
            **BACK_IN_QUEUE
        )
    return released


def outbox_claim_due(*, limit: int = DELIVERY_BATCH_SIZE, now: datetime | None = None) -> list[int]:
    """Claim up to `limit` due rows for this worker and return their ids.

    Two statements a batch: the due rows are locked with SKIP LOCKED (on PostgreSQL; SQLite runs
    write transactions one at a time), so a second worker takes the next rows instead of waiting,
    and the conditional UPDATE is the claim: only a row still pending moves to sending.
    """
    now = now or timezone.now()
    holder = claim_holder()
    with transaction.atomic():
        due_ids = list(
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(status=OutboxStatus.PENDING, due_at__lte=now)
            .order_by("due_at", "id")
            .values_list("id", flat=True)[:limit]
        )
        if not due_ids:
            return []
        claimed = OutboxMessage.objects.filter(id__in=due_ids, status=OutboxStatus.PENDING).update(
            status=OutboxStatus.SENDING, claimed_at=now, claimed_by=holder, attempts=F("attempts") + 1
        )
        if claimed == len(due_ids):  # always, while the rows are locked
            return due_ids
        return list(
            OutboxMessage.objects.filter(id__in=due_ids, status=OutboxStatus.SENDING, claimed_by=holder)
            .filter(claimed_at=now)
            .values_list("id", flat=True)
        )


def sender_domain(clinic: Clinic) -> str:
    """Return the domain of the clinic's Message-IDs: its own email's, else clinic.localhost."""
    return clinic.email.rpartition("@")[2] or "clinic.localhost"


def stable_message_id(message: OutboxMessage, domain: str) -> str:
    """Return the row's Message-ID, the same on every attempt.

    SMTP cannot make delivery exactly-once by itself (RFC 1047): a worker that dies after the
    relay's 250 and before recording it sends that one message again. The resend carries the same
    Message-ID, so the relay's logs and the recipient's mailbox see one message, not two.
    """
    created = int(message.created_at.timestamp())
    return f"<outbox.{message.id}.{created}@{domain}>"


def clinic_sender(clinic: Clinic) -> str:
    """The From of a clinic's mail: the clinic's name on the sending address (`DEFAULT_FROM_EMAIL`).

    One deployment can send for several clinics; each client sees their own clinic's name, and
    replies go to the clinic's own address (Reply-To).
    """
    _name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    return formataddr((clinic.name, address)) if clinic.name else settings.DEFAULT_FROM_EMAIL


def _recipient(name: str, address: str) -> str:
    """Return the To address; an international domain in its ASCII (IDNA) form, as SMTP needs."""
    if address.isascii():
        return formataddr((name, address))
    return sanitize_address((name, address), settings.DEFAULT_CHARSET)


def part_keys(message: OutboxMessage) -> list[str]:
    """Return the template keys whose sections make up the message (none for most messages)."""
    return [part["key"] for part in message.context.get("parts", [])]


def render_outbox_message(message: OutboxMessage, overrides: dict | None = None) -> EmailMultiAlternatives:
    """Build the email for a row from the clinic's wording for its key, or the default wording."""
    context = {**message.context, "clinic": message.clinic, "recipient_name": message.recipient_name}
    if parts := message.context.get("parts"):
        # One email made of several messages' sections (a visit with two treatments).
        context["parts"] = render_parts(
            parts,
            context,
            lambda key: wording_for(clinic_id=message.clinic_id, key=key, overrides=overrides),
        )
    wording = wording_for(clinic_id=message.clinic_id, key=message.template_key, overrides=overrides)
    rendered = render_wording(wording, context)
    headers = {"Message-ID": stable_message_id(message, sender_domain(message.clinic))}
    unsubscribe_url = message.context.get("unsubscribe_url")
    if not message.is_essential and unsubscribe_url:
        # RFC 8058 one-click: the mailbox provider POSTs "List-Unsubscribe=One-Click" to the URL.
        headers["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    email = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.body_text,
        from_email=clinic_sender(message.clinic),
        to=[_recipient(message.recipient_name, message.recipient_email)],
        reply_to=[message.clinic.email] if message.clinic.email else None,
        headers=headers,
    )
    if rendered.body_html:
        email.attach_alternative(rendered.body_html, "text/html")
    if invite := message.context.get("ics"):
        # text/calendar with its METHOD, as calendar clients expect (RFC 6047).
        part = MIMEText(invite, "calendar", "utf-8")
        part.set_param("method", message.context.get("ics_method", "REQUEST"))
        part.add_header("Content-Disposition", "attachment", filename="invite.ics")
        email.attach(part)
    return email


def _is_permanent(error: Exception) -> bool:
    """Tell a refusal that will never succeed (5xx, bad address, missing template) from a passing one."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _msg in error.recipients.values())
    if isinstance(error, smtplib.SMTPResponseException):
        return error.smtp_code >= 500
    return isinstance(error, TemplateDoesNotExist | ValueError)


def _is_address_refusal(error: Exception) -> bool:
    """Say whether the client's mail server refused the address itself, for good (5xx to RCPT TO)."""
    return isinstance(error, smtplib.SMTPRecipientsRefused) and _is_permanent(error)


def _server_text(reply: bytes | str) -> str:
    return (reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)).strip()


def failure_reason(error: Exception) -> str:
    """Say in words what went wrong, for the staff who read the outbox, with the server's own reply."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        replies = "; ".join(f"{code} {_server_text(text)}" for code, text in error.recipients.values())
        return f"The client's mail server refused the address: {replies}"
    if isinstance(error, smtplib.SMTPSenderRefused):
        return (
            f"The mail server refused the clinic's sender address {error.sender}: "
            f"{error.smtp_code} {_server_text(error.smtp_error)}"
        )
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return (
            "The mail server did not accept the clinic's SMTP user name and password: "
            f"{error.smtp_code} {_server_text(error.smtp_error)}"
        )
    if isinstance(error, smtplib.SMTPConnectError):
        return f"The mail server refused the connection: {error.smtp_code} {_server_text(error.smtp_error)}"
    if isinstance(error, smtplib.SMTPResponseException):
        return f"The mail server refused the message: {error.smtp_code} {_server_text(error.smtp_error)}"
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return f"The mail server closed the connection: {error}"
    if isinstance(error, OSError) and settings.EMAIL_HOST:
        where = f"{settings.EMAIL_HOST}:{settings.EMAIL_PORT}"
        return f"Could not reach the mail server at {where}: {error.strerror or error}"
    if isinstance(error, OSError):
        return f"Could not write the email: {error.strerror or error}"
    if isinstance(error, TemplateDoesNotExist):
        return f"The email's template {error} does not exist."
    if isinstance(error, ValueError):
        return f"The email could not be written: {error}"
    return f"{type(error).__name__}: {error}"


def _record_failure(message: OutboxMessage, error: Exception) -> None:
    now = timezone.now()
    reason = failure_reason(error)
    if _is_permanent(error) or message.attempts >= MAX_ATTEMPTS:
        if not _is_permanent(error):
            reason = f"{reason.rstrip('.')}. Gave up after {message.attempts} attempts."
        OutboxMessage.objects.filter(id=message.id, status=OutboxStatus.SENDING).update(
            status=OutboxStatus.FAILED,
            last_error=reason[:2000],
            claimed_at=None,
            claimed_by="",
            address_refused_at=now if _is_address_refusal(error) else None,
        )
        logger.warning("outbox message %s failed for good: %s", message.id, reason)
        return
    retry_in = first_retry_after() * (2 ** (message.attempts - 1))
    reason = f"{reason.rstrip('.')}. Attempt {message.attempts} of {MAX_ATTEMPTS}; trying again later."
    OutboxMessage.objects.filter(id=message.id, status=OutboxStatus.SENDING).update(
        **BACK_IN_QUEUE,
        last_error=reason[:2000],
        due_at=now + retry_in,
    )
    logger.info("outbox message %s will be retried in %s: %s", message.id, retry_in, reason)


def outbox_deliver(message_ids: list[int]) -> int:
    """Send claimed rows over one SMTP connection; return how many were sent."""
    messages = list(
        OutboxMessage.objects.filter(id__in=message_ids, status=OutboxStatus.SENDING)
        .select_related("clinic")
        .order_by("id")
    )
    if not messages:
        return 0
    messages = _without_lapsed(messages)
    if not messages:
        return 0
    _bring_up_to_date(messages)
    overrides = overrides_for(
        {(m.clinic_id, key) for m in messages for key in (m.template_key, *part_keys(m))}
    )
    mail = get_connection()
    try:
        mail.open()
    except (OSError, smtplib.SMTPException) as error:
        for message in messages:
            _record_failure(message, error)
        return 0
    with _records_without_waiting_for_the_disk(), database.cursor() as records:
        return _send_each(mail, messages, overrides, records)


def _without_lapsed(messages: list[OutboxMessage]) -> list[OutboxMessage]:
    """Cancel, with the reason, the claimed rows that would now be untrue or needless; return the rest.

    A reminder that waited out an outage past its visit's start, or about a visit that moved while
    it was claimed, is not sent (`out_of_date_reasons`). A check that fails is logged and the batch
    goes as it is: these checks spare the client a needless email, and must never stop the mail.
    """
    try:
        lapsed = out_of_date_reasons(messages, now=timezone.now(), delivering=True)
    except Exception:  # noqa: BLE001 (any bug in a higher layer's check)
        logger.exception("out-of-date check failed; sending the batch of %d as it is", len(messages))
        return messages
    for message_id, reason in lapsed.items():
        OutboxMessage.objects.filter(id=message_id, status=OutboxStatus.SENDING).update(
            status=OutboxStatus.CANCELLED,
            last_error=f"Not sent: {reason}."[:2000],
            claimed_at=None,
            claimed_by="",
        )
        logger.info("outbox message %s not sent: %s", message_id, reason)
    return [m for m in messages if m.pk not in lapsed]


def _bring_up_to_date(messages: list[OutboxMessage]) -> None:
    """Let the registered refreshes update what the claimed rows say, and store it, before they go.

    A form request written at booking lists two forms; the client signed one since: the email lists
    the one still to do, and the row records what was sent. A refresh that fails is logged and the
    rows go as written, as for the out-of-date checks.
    """
    changed: dict[int, OutboxMessage] = {}
    for refresh in _context_refreshes:
        try:
            updates = refresh(messages)
        except Exception:  # noqa: BLE001 (any bug in a higher layer's refresh)
            logger.exception("outbox refresh %s failed; the batch goes as written", refresh.__name__)
            continue
        for message in messages:
            if updates.get(message.pk):
                message.context = {**message.context, **updates[message.pk]}
                changed[message.pk] = message
    if changed:
        OutboxMessage.objects.bulk_update(list(changed.values()), ["context"])


def _send_each(mail, messages: list[OutboxMessage], overrides: dict, records) -> int:
    sent = 0
    try:
        for message in messages:
            try:
                email = render_outbox_message(message, overrides)
                _send(mail, email, message.recipient_email)
            except (OSError, smtplib.SMTPException, TemplateDoesNotExist, ValueError) as error:
                _record_failure(message, error)
                if isinstance(error, smtplib.SMTPServerDisconnected | OSError):
                    mail.close()
                    mail = get_connection()
                continue
            # Recorded before the next message starts: a worker killed between two messages
            # leaves every accepted message marked sent.
            _record_sent(records, message.id, email.extra_headers["Message-ID"])
            sent += 1
    finally:
        mail.close()
    return sent


@contextmanager
def _records_without_waiting_for_the_disk():
    """While a batch is sent, let PostgreSQL commit each "sent" record without waiting for its flush.

    A worker killed after the relay's 250 and before the record of it sends that message again (RFC
    1047's window; same Message-ID). Not waiting for the disk shortens that window by about 40 %
    (`bench/rfc1047_window.py`). A killed *worker* loses nothing by not waiting: the commit is in
    PostgreSQL's memory. Only a crash of PostgreSQL itself within its WAL writer's delay (200 ms) can forget a
    record, and then the row is claimed and sent again: a duplicate under the same Message-ID, never a
    lost message. Only the batch's own records (sent, retry, failed) are written meanwhile, and the
    setting is reset after it.
    """
    if database.vendor != "postgresql":
        yield
        return
    with database.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO off")
    try:
        yield
    finally:
        try:
            with database.cursor() as cursor:
                cursor.execute("RESET synchronous_commit")
        except DatabaseError:
            database.close()  # the next task opens a fresh connection, with the default setting


def _send(mail, email: EmailMultiAlternatives, recipient_email: str) -> None:
    """Send one email over the open mail connection.

    Over SMTP the rendered bytes (`email_bytes`) go straight to smtplib: Django's backend would parse
    and check both addresses again for every message, and these come from our own settings and a
    stored, validated address. A non-ASCII address (which needs Django's encoding) and the other
    backends (the mail folder, tests' outbox) go through Django's backend.
    """
    smtp = getattr(mail, "connection", None)
    sender = settings.DEFAULT_FROM_EMAIL
    if isinstance(mail, SMTPBackend) and smtp is not None and sender.isascii() and recipient_email.isascii():
        data = plain_text_email_bytes(email)
        smtp.sendmail(sender, [recipient_email], data if data is not None else email_bytes(email.message()))
        return
    email.connection = mail
    email.send()


# One statement per message, so written once as SQL rather than compiled by the ORM each time.
RECORD_SENT_SQL = (
    "UPDATE clinic_outboxmessage SET status = %s, sent_at = %s, smtp_message_id = %s, last_error = ''"
    " WHERE id = %s AND status = %s"
)


def _record_sent(cursor, message_id: int, smtp_message_id: str) -> None:
    """Mark a row sent in one autocommitted statement, through the batch's one cursor.

    Written as SQL and sent through a cursor opened once a batch: it runs once per message.
    """
    sent = [OutboxStatus.SENT, timezone.now(), smtp_message_id, message_id, OutboxStatus.SENDING]
    cursor.execute(RECORD_SENT_SQL, sent)


def outbox_cancel(*topics: str) -> int:
    """Cancel every message about any of `topics` that has not gone out yet; return how many."""
    return OutboxMessage.objects.filter(topic__in=topics, status=OutboxStatus.PENDING).update(
        status=OutboxStatus.CANCELLED
    )


# The topic of the clinic's news (`treatments.news`, "news:<id>"): a client says yes or no to it apart
# from their aftercare emails.
NEWS_TOPIC_PREFIX = "news:"


def outbox_cancel_non_essential(
    *, client_id: int, why: str = "The client unsubscribed.", news_too: bool = True
) -> int:
    """Cancel a client's pending aftercare and other non-essential mail (they unsubscribed), saying
    `why`; with `news_too` False, their news still goes (they stopped only the aftercare)."""
    pending = OutboxMessage.objects.filter(
        client_id=client_id, is_essential=False, status=OutboxStatus.PENDING
    )
    if not news_too:
        pending = pending.exclude(topic__startswith=NEWS_TOPIC_PREFIX)
    return pending.update(status=OutboxStatus.CANCELLED, last_error=why)


@transaction.atomic
def outbox_readdress(*, client_id: int, recipient_email: str, recipient_name: str, first_name: str) -> int:
    """Send a client's scheduled messages to their changed address and name; with no address, cancel them.

    A message that greets the client by first name (`client_first_name` in its context) greets them
    by the corrected one. Return how many changed. A message a worker already claimed goes as it was.
    """
    pending = OutboxMessage.objects.filter(client_id=client_id, status=OutboxStatus.PENDING)
    if not recipient_email:
        return pending.update(
            status=OutboxStatus.CANCELLED, last_error="The client's email address was removed."
        )
    messages = list(pending.select_for_update())
    for message in messages:
        message.recipient_email, message.recipient_name = recipient_email, recipient_name
        if "client_first_name" in message.context:
            message.context = {**message.context, "client_first_name": first_name}
    return OutboxMessage.objects.bulk_update(messages, ["recipient_email", "recipient_name", "context"])


# Checks that tell, for rows about things this layer does not know (a visit, a course), why sending
# them now would say something untrue. A higher layer registers its own at start-up (`treatments.apps`),
# as the root URLconf includes higher layers: the clinic never imports them.
OutOfDateCheck = Callable[[list[OutboxMessage], datetime, bool], dict[int, str]]
_out_of_date_checks: list[OutOfDateCheck] = []


def register_out_of_date_check(check: OutOfDateCheck) -> OutOfDateCheck:
    """Add a check `out_of_date_reasons` consults: given rows, now and `delivering`, return {id: why}."""
    if check not in _out_of_date_checks:
        _out_of_date_checks.append(check)
    return check


def out_of_date_reasons(
    messages: list[OutboxMessage], *, now: datetime, delivering: bool = False
) -> dict[int, str]:
    """Return, by id, why sending each of these rows now would be untrue, or needless.

    `delivering`: the rows are going out as scheduled (not as a copy staff asked for), so a check may
    also leave out one whose moment passed, such as a late reminder with a nearer one going too.
    A reason is short, for a table: "the visit was cancelled". A row not named may be sent.
    """
    reasons: dict[int, str] = {}
    for check in _out_of_date_checks:
        for pk, reason in check(messages, now, delivering).items():
            reasons.setdefault(pk, reason)
    return reasons


# Refreshes for what a row says that can change between writing and sending while the row stays
# true (the forms a request still asks for). Registered by a higher layer, as the checks are.
ContextRefresh = Callable[[list[OutboxMessage]], dict[int, dict]]
_context_refreshes: list[ContextRefresh] = []


def register_context_refresh(refresh: ContextRefresh) -> ContextRefresh:
    """Add a refresh delivery calls on the rows about to go: return {id: context keys to update}."""
    if refresh not in _context_refreshes:
        _context_refreshes.append(refresh)
    return refresh


def resend_refusals(messages: list[OutboxMessage], *, now: datetime | None = None) -> dict[int, str]:
    """Return, by id, why a copy of each of these sent or failed rows would now be untrue."""
    done = [m for m in messages if m.status in (OutboxStatus.SENT, OutboxStatus.FAILED)]
    return out_of_date_reasons(done, now=now or timezone.now())


def with_resend_refusals(messages) -> list[OutboxMessage]:
    """Return the rows as a list, each with `resend_refusal` ("" when it may be sent again)."""
    rows = list(messages)
    refusals = resend_refusals(rows)
    for row in rows:
        row.resend_refusal = refusals.get(row.pk, "")
    return rows


@transaction.atomic
def outbox_resend(message: OutboxMessage, *, recipient_email: str) -> OutboxMessage:
    """Queue a copy of a sent or failed message, due now, to the given (perhaps corrected) address.

    Refused when the copy would no longer be true (`resend_refusals`): a reminder for a visit that
    has passed, moved or been cancelled says the wrong thing to the client.
    """
    if message.status not in (OutboxStatus.SENT, OutboxStatus.FAILED):
        raise ClinicError(
            "Only a message that was sent or that failed can be sent again.", code="not_resendable"
        )
    if refusal := resend_refusals([message]).get(message.pk):
        raise ClinicError(f"Not sent again: it is out of date ({refusal}).", code="out_of_date")
    if not recipient_email:
        raise ClinicError("The client has no email address. Add one on their page first.", code="no_email")
    copies = OutboxMessage.objects.filter(dedupe_key__startswith=f"resend:{message.pk}:").count()
    return outbox_enqueue(
        clinic=message.clinic,
        recipient_email=recipient_email,
        recipient_name=message.recipient_name,
        template_key=message.template_key,
        dedupe_key=f"resend:{message.pk}:{copies + 1}",
        context=message.context,
        topic=message.topic,
        is_essential=message.is_essential,
        client_id=message.client_id,
    )
