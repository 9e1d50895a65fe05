"""A worker killed with SIGKILL in the middle of 500 due messages; after a restart each goes once.

Real `celery worker` and `celery beat` processes, a real SMTP server (aiosmtpd), the test database
over its real connection; on the filesystem broker and on Redis. The SMTP server itself pulls the
trigger, so the kill lands at a known point of the conversation rather than at a random time:

- between two messages (the server sees the next MAIL FROM): everything the server accepted was
  recorded before the next message began, so nothing is lost and nothing is sent twice;
- inside the one window no SMTP client can close (RFC 1047: after the server kept the message,
  before its 250 reached the worker): that single message is sent again after the restart, under
  the same Message-ID, so the relay and the recipient's mailbox recognise it as one message.

The worker runs one process here so that no second process is at some other point of its own
conversation when the kill lands; claims and delivery are the same code with more processes.
"""

import pytest

from clinic.models import OutboxMessage, OutboxStatus
from tests.conftest import restart_the_worker_until_all_are_sent, wait_until
from tests.factories import ClinicFactory, due_outbox_messages

pytestmark = pytest.mark.worker

TOTAL = 500
KILL_AT = 230


def _given_500_due_messages():
    due_outbox_messages(ClinicFactory(name="Lumen Skin Clinic"), TOTAL, "crash")


def _kill_worker_once(celery_stack, *, at: int):
    fired = []

    def hook(count: int):
        if count == at and not fired:
            fired.append(count)
            celery_stack.kill("worker")

    return hook, fired


def _run_until_killed_then_restart(celery_stack, smtp_server, fired):
    celery_stack.worker_concurrency = 1
    celery_stack.start("worker", "beat")
    wait_until(lambda: fired, timeout=120, message=f"the kill; logs:\n{celery_stack.logs()}")
    smtp_server.handler.on_mail = smtp_server.handler.on_accepted = None
    accepted_at_kill = len(smtp_server.messages)
    assert KILL_AT <= accepted_at_kill < TOTAL, "the kill did not land in the middle of the batch"
    assert OutboxMessage.objects.filter(status=OutboxStatus.SENDING).exists(), "no claim was left behind"
    restart_the_worker_until_all_are_sent(celery_stack, TOTAL)


def test_a_worker_killed_between_two_messages_loses_none_and_doubles_none(celery_stack, smtp_server):
    # given 500 due messages, and an SMTP server that kills the worker when message 231 begins
    _given_500_due_messages()
    hook, fired = _kill_worker_once(celery_stack, at=KILL_AT)
    smtp_server.handler.on_mail = hook
    # when the worker dies there and is restarted
    _run_until_killed_then_restart(celery_stack, smtp_server, fired)
    # then each of the 500 was received exactly once
    received = smtp_server.messages
    notes = sorted(m.get_body().get_content().split("crash-")[1].split()[0].rstrip(".") for m in received)
    assert len(received) == TOTAL
    assert notes == sorted(str(i) for i in range(TOTAL))
    assert len({m["Message-ID"] for m in received}) == TOTAL
    assert not OutboxMessage.objects.exclude(status=OutboxStatus.SENT).exists()


def test_a_worker_killed_before_the_servers_250_resends_that_one_under_the_same_message_id(
    celery_stack, smtp_server
):
    # given 500 due messages, and an SMTP server that kills the worker after keeping message 230
    # and before answering 250
    _given_500_due_messages()
    hook, fired = _kill_worker_once(celery_stack, at=KILL_AT)
    smtp_server.handler.on_accepted = hook
    # when the worker dies there and is restarted
    _run_until_killed_then_restart(celery_stack, smtp_server, fired)
    # then all 500 arrived; the one in flight arrived twice, both copies with one Message-ID
    received = smtp_server.messages
    message_ids = [m["Message-ID"] for m in received]
    assert len(set(message_ids)) == TOTAL
    assert len(received) == TOTAL + 1
    [twice] = [mid for mid in set(message_ids) if message_ids.count(mid) == 2]
    assert twice == message_ids[KILL_AT - 1]
    row = OutboxMessage.objects.get(smtp_message_id=twice)
    assert row.attempts == 2
    assert not OutboxMessage.objects.exclude(status=OutboxStatus.SENT).exists()
