"""10,000 due outbox messages delivered by the real worker, against a plain smtplib loop.

Usage: .venv/bin/python -m bench.outbox_delivery   (PostgreSQL at BENCH_DATABASE_URL; Redis as the
broker when BENCH_REDIS_URL is set, else the filesystem broker)

Both halves send the same 10,000 messages, rendered from the same template, to the same local SMTP
server (aiosmtpd, counting what it accepts) in the same run:
1. the baseline: the messages rendered beforehand, then one smtplib connection and a sendmail loop;
2. the outbox: 10,000 due rows committed at once while a real `celery worker` (4 processes) and
   `celery beat` (1 s tick) run; timed from the commit until every row is recorded as sent, which
   includes claiming, rendering, sending and recording each one.
"""

import os
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from aiosmtpd.controller import Controller

from bench.setup_data import BENCH_DATABASE_URL, django_env, setup_django

MESSAGES = int(os.environ.get("BENCH_MESSAGES", "10000"))
SMTP_PORT = int(os.environ.get("BENCH_SMTP_PORT", "8125"))
# As shipped (runstack, docker-compose): four processes, since delivery mostly waits on I/O.
WORKER_PROCESSES = os.environ.get("BENCH_WORKER_CONCURRENCY", "4")
ROOT = Path(__file__).resolve().parent.parent


class CountingHandler:
    def __init__(self):
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
        return "250 OK"


def make_rows(clinic, prefix):
    from django.utils import timezone

    from clinic.models import OutboxMessage

    now = timezone.now()
    return [
        OutboxMessage(
            clinic=clinic,
            recipient_email=f"client{i}@example.com",
            recipient_name=f"Client {i}",
            template_key="booking_reminder",
            context={
                "client_first_name": f"Client {i}",
                "service_name": "Microneedling facial",
                "practitioner_name": "Dr Amara Lee",
                "local_start": "Monday 07 December 2026 at 10:00",
                "zone_name": "Europe/London",
                "zone_abbreviation": "GMT",
                "manage_url": "https://clinic.example/p/manage/x/",
                "cancellation_window_hours": 24,
            },
            due_at=now,
            dedupe_key=f"{prefix}-{i}",
        )
        for i in range(MESSAGES)
    ]


def baseline(clinic, handler) -> float:
    """Render the messages first (not timed), then time a plain smtplib loop over one connection."""
    from django.conf import settings

    from clinic.outbox import render_outbox_message

    rows = make_rows(clinic, "baseline")
    for i, row in enumerate(rows):
        row.id = 10_000_000 + i  # a Message-ID needs an id; these rows are never saved
    rendered = [(row.recipient_email, render_outbox_message(row, {}).message().as_bytes()) for row in rows]
    before = handler.count
    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", SMTP_PORT) as smtp:
        for recipient, data in rendered:
            smtp.sendmail(settings.DEFAULT_FROM_EMAIL, [recipient], data)
    elapsed = time.perf_counter() - start
    assert handler.count - before == MESSAGES
    return elapsed


def baseline_rendering_as_it_sends(clinic, handler) -> float:
    """Time the same loop when it renders each message as it goes, as any sender has to."""
    from django.conf import settings

    from clinic.outbox import render_outbox_message

    rows = make_rows(clinic, "baseline-rendering")
    for i, row in enumerate(rows):
        row.id = 20_000_000 + i
    before = handler.count
    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", SMTP_PORT) as smtp:
        for row in rows:
            data = render_outbox_message(row, {}).message().as_bytes()
            smtp.sendmail(settings.DEFAULT_FROM_EMAIL, [row.recipient_email], data)
    elapsed = time.perf_counter() - start
    assert handler.count - before == MESSAGES
    return elapsed


def start_stack(workdir: Path) -> list[subprocess.Popen]:
    env = {
        **django_env(),
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(SMTP_PORT),
        "OUTBOX_TICK_SECONDS": "1",
        "VAR_DIR": str(workdir),
    }
    env.pop("REDIS_URL", None)
    if os.environ.get("BENCH_REDIS_URL"):
        env["REDIS_URL"] = os.environ["BENCH_REDIS_URL"]
    celery = [sys.executable, "-m", "celery", "-A", "clinic"]
    log = open(workdir / "stack.log", "ab")  # noqa: SIM115 (lives as long as the processes)
    worker = [
        *celery,
        "worker",
        "-l",
        "warning",
        "--concurrency",
        WORKER_PROCESSES,
        "--without-mingle",
        "--without-gossip",
    ]
    beat = [*celery, "beat", "-l", "warning", "-s", str(workdir / "beat-schedule")]
    return [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
        for command in (worker, beat)
    ]


def through_the_outbox(clinic, handler, workdir: Path) -> float:
    from django.db import transaction

    from clinic.models import OutboxMessage, OutboxStatus

    rows = make_rows(clinic, f"outbox-{time.time_ns()}")
    time.sleep(8)  # let the worker and beat start and beat tick idle once
    before = handler.count
    with transaction.atomic():
        OutboxMessage.objects.bulk_create(rows, batch_size=2000)
    start = time.perf_counter()
    sent = OutboxMessage.objects.filter(clinic=clinic, status=OutboxStatus.SENT)
    deadline = start + 600
    while sent.count() < MESSAGES:
        if time.perf_counter() > deadline:
            raise SystemExit(f"only {sent.count()} sent after 600 s; see {workdir / 'stack.log'}")
        time.sleep(0.2)  # a count over the table: often enough, without taking the workers CPU
    elapsed = time.perf_counter() - start
    assert handler.count - before == MESSAGES, (handler.count - before, MESSAGES)
    return elapsed


def main():
    setup_django()
    from django.db import connection

    from clinic.models import Clinic, OutboxMessage

    clinic, _ = Clinic.objects.get_or_create(
        slug="outbox-bench", defaults={"name": "Outbox bench clinic", "time_zone": "Europe/London"}
    )
    OutboxMessage.objects.filter(clinic=clinic).delete()
    # Rows other benchmarks left due (the booking benchmark's confirmations) would be sent by the
    # worker to the same counting server during the baselines: this database is the bench's own.
    OutboxMessage.objects.filter(status__in=["pending", "sending"]).update(status="cancelled")
    # Start each run from a clean table, so autovacuum does not wake up in the middle of the timing.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE clinic_outboxmessage")
    handler = CountingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=SMTP_PORT)
    controller.start()
    workdir = Path(tempfile.mkdtemp(prefix="outbox-bench-"))
    processes = start_stack(workdir)
    try:
        plain = baseline(clinic, handler)
        plain_rendering = baseline_rendering_as_it_sends(clinic, handler)
        worker = through_the_outbox(clinic, handler, workdir)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        controller.stop()
    broker = "Redis" if os.environ.get("BENCH_REDIS_URL") else "filesystem"
    print(f"database: {BENCH_DATABASE_URL}; broker: {broker}; messages: {MESSAGES}")
    print(f"plain smtplib loop, one connection: {plain:.2f} s = {MESSAGES / plain:.0f} messages/s")
    print(
        f"outbox + celery worker ({WORKER_PROCESSES} processes): {worker:.2f} s"
        f" = {MESSAGES / worker:.0f} messages/s"
    )
    print(f"plain smtplib loop rendering each message as it sends: {plain_rendering:.2f} s")
    print(f"ratio to the pre-rendered loop (target >= 0.5): {plain / worker:.2f}")
    print(f"ratio to the loop that renders as it sends: {plain_rendering / worker:.2f}")


if __name__ == "__main__":
    main()
