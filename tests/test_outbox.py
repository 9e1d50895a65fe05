"""Outbox delivery through a real SMTP server (aiosmtpd), called in-process."""

import datetime as dt
import smtplib

import pytest
from django.db import connection, transaction
from django.utils import timezone

from clinic import outbox
from clinic.models import OutboxMessage, OutboxStatus
from clinic.outbox import (
    outbox_cancel,
    outbox_claim_due,
    outbox_deliver,
    outbox_enqueue,
    outbox_message,
    outbox_release_stale_claims,
    outbox_write,
    stale_claim_after,
)
from clinic.tasks import deliver_due_messages_task
from tests.factories import due_outbox_messages

pytestmark = pytest.mark.django_db


def _enqueue(clinic, key="m1", due_at=None, **kwargs):
    return outbox_enqueue(
        clinic=clinic,
        recipient_email="olivia@example.com",
        recipient_name="Olivia",
        template_key="outbox_test",
        dedupe_key=key,
        due_at=due_at,
        context={"note": "Bring your questions."},
        **kwargs,
    )


def test_a_due_message_is_delivered_once_even_if_the_task_runs_twice(lumen, smtp_settings, smtp_server):
    message = _enqueue(lumen)
    assert deliver_due_messages_task() == 1
    assert deliver_due_messages_task() == 0
    assert len(smtp_server.messages) == 1
    received = smtp_server.messages[0]
    message.refresh_from_db()
    assert message.status == OutboxStatus.SENT
    assert message.sent_at is not None
    assert received["Message-ID"] == message.smtp_message_id
    assert received["Subject"] == "Lumen Skin Clinic: test message"
    assert "Bring your questions." in received.get_body().get_content()


def test_a_message_due_later_waits(lumen, smtp_settings, smtp_server):
    _enqueue(lumen, due_at=timezone.now() + dt.timedelta(hours=2))
    assert deliver_due_messages_task() == 0
    assert smtp_server.messages == []


def test_two_claims_never_take_the_same_row(lumen):
    for i in range(5):
        _enqueue(lumen, key=f"k{i}")
    first = outbox_claim_due(limit=3)
    second = outbox_claim_due(limit=3)
    assert len(first) == 3
    assert len(second) == 2
    assert not set(first) & set(second)


def test_a_claim_left_by_a_dead_worker_is_released(lumen):
    long_ago = timezone.now() - stale_claim_after() - dt.timedelta(minutes=1)
    message = _enqueue(lumen, due_at=long_ago)
    [claimed] = outbox_claim_due(now=long_ago)
    assert claimed == message.id
    assert outbox_release_stale_claims() == 1
    message.refresh_from_db()
    assert message.status == OutboxStatus.PENDING


def test_a_refused_connection_is_retried_later(lumen, settings, smtp_server):
    # given an SMTP address where nothing listens
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", smtp_server.port, 2
    smtp_server.stop()
    message = _enqueue(lumen)
    # when the worker tries
    assert deliver_due_messages_task() == 0
    # then the row waits for a retry with the reason, not lost and not failed
    message.refresh_from_db()
    assert message.status == OutboxStatus.PENDING
    assert message.attempts == 1
    assert message.due_at > timezone.now()
    assert message.last_error == (
        f"Could not reach the mail server at 127.0.0.1:{smtp_server.port}: Connection refused."
        f" Attempt 1 of {outbox.MAX_ATTEMPTS}; trying again later."
    )


def _delivered_once(clinic):
    """Write one due message, let one delivery try it, and return the row as that left it."""
    message = _enqueue(clinic)
    outbox_deliver(outbox_claim_due())
    message.refresh_from_db()
    return message


def test_a_permanent_refusal_is_marked_failed_with_the_reason(lumen, smtp_settings, smtp_server):
    smtp_server.handler.refuse_with = "550 5.1.1 Mailbox does not exist"
    message = _delivered_once(lumen)
    assert message.status == OutboxStatus.FAILED
    assert message.last_error == "The mail server refused the message: 550 5.1.1 Mailbox does not exist"


def test_a_refused_address_is_marked_failed_in_words(lumen, smtp_settings, smtp_server):
    smtp_server.handler.refuse_recipient_with = "550 5.1.1 <olivia@example.com>: User unknown"
    message = _delivered_once(lumen)
    assert message.status == OutboxStatus.FAILED
    assert message.last_error == (
        "The client's mail server refused the address: 550 5.1.1 <olivia@example.com>: User unknown"
    )
    assert smtp_server.handler.messages == []


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (
            smtplib.SMTPConnectError(421, b"mx.example.com busy"),
            "The mail server refused the connection: 421 mx.example.com busy",
        ),
        (
            smtplib.SMTPSenderRefused(553, b"5.7.1 Sender not allowed", "desk@lumen.example"),
            "The mail server refused the clinic's sender address desk@lumen.example:"
            " 553 5.7.1 Sender not allowed",
        ),
        (
            smtplib.SMTPAuthenticationError(535, b"5.7.8 Bad credentials"),
            "The mail server did not accept the clinic's SMTP user name and password:"
            " 535 5.7.8 Bad credentials",
        ),
        (
            smtplib.SMTPServerDisconnected("Connection unexpectedly closed"),
            "The mail server closed the connection: Connection unexpectedly closed",
        ),
        (TimeoutError("timed out"), "Could not reach the mail server at smtp.example.com:587: timed out"),
        (
            ValueError("Invalid address; only x could be parsed"),
            "The email could not be written: Invalid address; only x could be parsed",
        ),
    ],
)
def test_each_failure_is_said_in_words(settings, error, reason):
    settings.EMAIL_HOST, settings.EMAIL_PORT = "smtp.example.com", 587
    assert outbox.failure_reason(error) == reason


def test_a_message_still_refused_after_every_attempt_says_so(lumen, smtp_settings, smtp_server):
    smtp_server.handler.refuse_with = "451 4.3.0 Try again later"
    message = _enqueue(lumen)
    OutboxMessage.objects.filter(pk=message.pk).update(attempts=outbox.MAX_ATTEMPTS - 1)
    outbox_deliver(outbox_claim_due())
    message.refresh_from_db()
    assert message.status == OutboxStatus.FAILED
    assert message.last_error == (
        "The mail server refused the message: 451 4.3.0 Try again later."
        f" Gave up after {outbox.MAX_ATTEMPTS} attempts."
    )


def test_a_temporary_refusal_is_retried(lumen, smtp_settings, smtp_server):
    smtp_server.handler.refuse_with = "451 4.3.0 Try again later"
    message = _delivered_once(lumen)
    assert message.status == OutboxStatus.PENDING
    assert message.last_error == (
        "The mail server refused the message: 451 4.3.0 Try again later."
        f" Attempt 1 of {outbox.MAX_ATTEMPTS}; trying again later."
    )


def test_cancelling_a_topic_stops_its_pending_messages(lumen, smtp_settings, smtp_server):
    _enqueue(lumen, key="reminder", topic="appointment:7")
    assert outbox_cancel("appointment:7") == 1
    assert deliver_due_messages_task() == 0
    assert OutboxMessage.objects.get(dedupe_key="reminder").status == OutboxStatus.CANCELLED


def test_without_smtp_mail_is_written_where_staff_can_read_it(lumen, settings, tmp_path, alice_client):
    settings.EMAIL_BACKEND = "clinic.mail.MailDirBackend"
    settings.MAIL_DIR = tmp_path / "mail"
    _enqueue(lumen)
    assert deliver_due_messages_task() == 1
    [written] = list((tmp_path / "mail").glob("*.eml"))
    assert "Bring your questions." in written.read_text()
    page = alice_client.get("/mailbox/").content.decode()
    assert "Lumen Skin Clinic: test message" in page
    assert "Bring your questions." in page


def test_writing_a_key_already_stored_keeps_the_stored_message(lumen):
    first = _enqueue(lumen, key="appointment:1:booked")
    outbox_write(
        [
            outbox_message(
                clinic=lumen,
                recipient_email="someone.else@example.com",
                template_key="outbox_test",
                dedupe_key="appointment:1:booked",
                context={"note": "changed"},
            ),
            outbox_message(
                clinic=lumen,
                recipient_email="olivia@example.com",
                template_key="outbox_test",
                dedupe_key="new",
            ),
        ]
    )
    stored = OutboxMessage.objects.get(dedupe_key="appointment:1:booked")
    assert stored.pk == first.pk
    assert stored.recipient_email == "olivia@example.com"
    assert stored.context == {"note": "Bring your questions."}
    assert OutboxMessage.objects.filter(dedupe_key="new").exists()


def _kicks(callbacks) -> int:
    return sum(1 for callback in callbacks if callback is outbox.kick_delivery)


def test_a_transaction_writing_many_due_messages_kicks_delivery_once(
    lumen, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        for key in ("m1", "m2", "m3"):
            _enqueue(lumen, key=key)
        with transaction.atomic():  # a savepoint inside: the outer kick still covers it
            _enqueue(lumen, key="m4")
    assert _kicks(callbacks) == 1
    assert OutboxMessage.objects.filter(status=OutboxStatus.PENDING).count() == 4


def test_a_kick_rolled_back_with_its_savepoint_is_registered_again(lumen, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        with pytest.raises(RuntimeError), transaction.atomic():
            _enqueue(lumen, key="undone")
            raise RuntimeError("the booking failed after its message was written")
        _enqueue(lumen, key="kept")
    assert _kicks(callbacks) == 1
    assert list(OutboxMessage.objects.values_list("dedupe_key", flat=True)) == ["kept"]


def test_a_message_due_later_kicks_nothing(lumen, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        _enqueue(lumen, key="later", due_at=timezone.now() + dt.timedelta(hours=1))
    assert _kicks(callbacks) == 0


def test_a_message_without_a_dedupe_key_is_refused_before_it_is_written(lumen):
    with pytest.raises(ValueError, match="dedupe key"):
        outbox_message(
            clinic=lumen, recipient_email="a@example.com", template_key="outbox_test", dedupe_key=""
        )
    assert not OutboxMessage.objects.exists()


def test_the_envelope_carries_the_plain_addresses(lumen, smtp_settings, smtp_server):
    _enqueue(lumen, key="ascii")
    assert deliver_due_messages_task() == 1
    [envelope] = smtp_server.handler.envelopes
    assert envelope.rcpt_tos == ["olivia@example.com"]
    assert envelope.mail_from == "no-reply@clinic.localhost"
    assert smtp_server.messages[0]["To"] == "Olivia <olivia@example.com>"
    # the client sees their clinic's name as the sender; replies go to the clinic
    assert smtp_server.messages[0]["From"] == "Lumen Skin Clinic <no-reply@clinic.localhost>"


def test_an_address_with_an_international_domain_is_sent_in_its_ascii_form(lumen, smtp_settings, smtp_server):
    message = outbox_enqueue(
        clinic=lumen,
        recipient_email="zoe@bücher.example",
        template_key="outbox_test",
        dedupe_key="idna",
        context={"note": "n"},
    )
    assert deliver_due_messages_task() == 1
    [envelope] = smtp_server.handler.envelopes
    assert envelope.rcpt_tos == ["zoe@xn--bcher-kva.example"]
    assert smtp_server.messages[0]["To"].addresses[0].domain == "xn--bcher-kva.example"
    message.refresh_from_db()
    assert message.status == OutboxStatus.SENT


def test_a_backlog_asks_for_more_workers_and_a_successor(lumen, smtp_settings, smtp_server, monkeypatch):
    import clinic.tasks

    kicks = []
    monkeypatch.setattr(clinic.tasks, "kick_delivery", lambda: kicks.append(1))
    monkeypatch.setattr(clinic.tasks, "MAX_BATCHES_PER_TICK", 2)
    due_outbox_messages(lumen, 250, "backlog")
    # a full first batch asks for a second worker; stopping at the limit asks for a successor
    assert deliver_due_messages_task() == 200
    assert len(kicks) == 2
    # the last 50: no full batch, nothing left, no more tasks
    assert deliver_due_messages_task() == 50
    assert len(kicks) == 2
    assert len(smtp_server.messages) == 250


def _synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="synchronous_commit is PostgreSQL's setting")
def test_sent_records_do_not_wait_for_the_disk_and_the_setting_is_restored(
    lumen, smtp_settings, smtp_server, monkeypatch
):
    # the shorter RFC 1047's window: a killed worker loses no commit PostgreSQL has taken
    seen_while_sending = []
    send = outbox._send

    def send_and_look(*args):
        seen_while_sending.append(_synchronous_commit())
        return send(*args)

    monkeypatch.setattr(outbox, "_send", send_and_look)
    due_outbox_messages(lumen, 3, "async")
    assert _synchronous_commit() == "on"

    assert outbox_deliver(outbox_claim_due()) == 3

    assert seen_while_sending == ["off", "off", "off"]
    assert _synchronous_commit() == "on"
    assert OutboxMessage.objects.filter(status=OutboxStatus.SENT).count() == 3
