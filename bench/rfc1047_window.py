"""How long RFC 1047's window is, against the time a message takes, in the outbox's own delivery.

Usage: .venv/bin/python -m bench.rfc1047_window   (PostgreSQL at BENCH_DATABASE_URL)

The window: from the moment the SMTP server has kept a message (before its 250 goes back) until the
worker has recorded it as sent. A worker killed inside it sends that message again after a restart
(same Message-ID); killed anywhere else, nothing is sent twice. `outbox_deliver` runs in this process
against a local aiosmtpd server, 500 messages, once as shipped (records committed without waiting for
the disk flush) and once waiting for the flush; the share of the sending time that lies in a window is
what a kill at a random instant of the sending has of landing in one. The server runs in a thread of
this process, so both sides share one interpreter: the absolute times are longer than across processes.
"""

import contextlib
import statistics
import threading
import time

from aiosmtpd.controller import Controller

from bench.outbox_delivery import make_rows
from bench.setup_data import setup_django

MESSAGES = 500
SMTP_PORT = 8126


class TimingHandler:
    def __init__(self):
        self.kept: list[float] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.kept.append(time.perf_counter())
        return "250 OK"


def measure(clinic, handler, *, wait_for_the_disk: bool) -> dict:
    from django.test.utils import override_settings

    from clinic import outbox
    from clinic.models import OutboxMessage

    OutboxMessage.objects.filter(clinic=clinic).delete()
    OutboxMessage.objects.bulk_create(make_rows(clinic, f"window-{wait_for_the_disk}")[:MESSAGES])
    handler.kept.clear()
    recorded: list[float] = []
    record_sent, without_waiting = outbox._record_sent, outbox._records_without_waiting_for_the_disk

    def record_and_time(*args):
        record_sent(*args)
        recorded.append(time.perf_counter())

    outbox._record_sent = record_and_time
    if wait_for_the_disk:
        outbox._records_without_waiting_for_the_disk = contextlib.nullcontext
    try:
        with override_settings(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=SMTP_PORT,
            EMAIL_USE_TLS=False,
        ):
            while claimed := outbox.outbox_claim_due(limit=100):
                outbox.outbox_deliver(claimed)
    finally:
        outbox._record_sent, outbox._records_without_waiting_for_the_disk = record_sent, without_waiting
    assert len(recorded) == len(handler.kept) == MESSAGES, (len(recorded), len(handler.kept))
    windows = [(done - kept) * 1000 for kept, done in zip(handler.kept, recorded, strict=True)]
    cycles = [(b - a) * 1000 for a, b in zip(recorded, recorded[1:], strict=False)]
    return {
        "window_ms": statistics.median(windows),
        "cycle_ms": statistics.median(cycles),
        "share": sum(windows[1:]) / sum(cycles),
    }


def main():
    setup_django()
    from clinic.models import Clinic, OutboxMessage

    clinic, _ = Clinic.objects.get_or_create(
        slug="outbox-bench", defaults={"name": "Outbox bench clinic", "time_zone": "Europe/London"}
    )
    OutboxMessage.objects.filter(status__in=["pending", "sending"]).update(status="cancelled")
    handler = TimingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=SMTP_PORT)
    controller.start()
    try:
        for wait in (False, True, False, True):
            result = measure(clinic, handler, wait_for_the_disk=wait)
            label = "waiting for the flush " if wait else "as shipped (no flush wait)"
            print(
                f"{label}: window median {result['window_ms']:.3f} ms, message median "
                f"{result['cycle_ms']:.3f} ms, share of the sending time in a window {result['share']:.3f}"
            )
    finally:
        controller.stop()
        OutboxMessage.objects.filter(clinic=clinic).delete()


if __name__ == "__main__":
    main()
