"""A worker killed at a random instant while it sends 500 messages: none lost, none sent as two.

`tests/test_worker_crash.py` kills the worker at two chosen points of the SMTP conversation; here a
timer kills it a random time after the first message begins, as a power cut or the OOM killer would.
Whatever it interrupts, after a restart every one of the 500 has arrived, and no message has arrived
under two Message-IDs. If the kill fell inside RFC 1047's window (the server kept a message, its 250
had not been recorded) that one message arrives a second time under the same Message-ID; never more.

`KILL_RUNS=30 pytest tests/test_worker_random_kill.py` repeats it (docs/benchmarks.md has the counts).
"""

import os
import random
import threading
import time

import pytest

from clinic.models import OutboxMessage, OutboxStatus
from tests.conftest import restart_the_worker_until_all_are_sent, wait_until
from tests.factories import ClinicFactory, due_outbox_messages

pytestmark = pytest.mark.worker

TOTAL = 500
RUNS = int(os.environ.get("KILL_RUNS", "1"))


def _kill_a_random_time_after_the_first_message(celery_stack, smtp_server, seed: int) -> list:
    """Arm a timer when the first message begins; it SIGKILLs the worker 0.05–0.6 s later."""
    delay = random.Random(seed).uniform(0.05, 0.6)
    fired = []

    def on_mail(count):
        if count == 0 and not fired:
            fired.append("armed")

            def kill_later():
                time.sleep(delay)
                celery_stack.kill("worker")
                fired.append(len(smtp_server.messages))

            threading.Thread(target=kill_later, daemon=True).start()

    smtp_server.handler.on_mail = on_mail
    return fired


@pytest.mark.parametrize("run", range(RUNS))
def test_a_worker_killed_at_a_random_instant_loses_none_and_sends_none_as_two(celery_stack, smtp_server, run):
    # given 500 due messages and a worker that will be killed at a random instant of sending them
    due_outbox_messages(ClinicFactory(name="Lumen Skin Clinic"), TOTAL, "random-kill")
    fired = _kill_a_random_time_after_the_first_message(celery_stack, smtp_server, seed=run)
    celery_stack.worker_concurrency = 1
    celery_stack.start("worker", "beat")
    wait_until(lambda: len(fired) == 2, timeout=120, message=f"the kill; logs:\n{celery_stack.logs()}")
    smtp_server.handler.on_mail = None
    assert fired[1] < TOTAL, "the kill came after the last message: nothing was interrupted"
    # when it is restarted
    restart_the_worker_until_all_are_sent(celery_stack, TOTAL)
    # then every message arrived, none under two Message-IDs, at most the one in flight twice
    received = smtp_server.messages
    notes = {m.get_body().get_content().split("random-kill-")[1].split()[0].rstrip(".") for m in received}
    message_ids = [m["Message-ID"] for m in received]
    assert notes == {str(i) for i in range(TOTAL)}
    assert len(set(message_ids)) == TOTAL
    assert len(received) in (TOTAL, TOTAL + 1), f"{len(received) - TOTAL} messages arrived twice"
    assert not OutboxMessage.objects.exclude(status=OutboxStatus.SENT).exists()
