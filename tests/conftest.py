"""Personas and real infrastructure for the suite.

Personas: Alice works the front desk at Lumen (London); Bob works the front desk at Harbour
(New York). Alice should see nothing of Harbour's, and Bob nothing of Lumen's.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

import pytest
import time_machine
from django.core.servers import basehttp
from django.db import connection

from tests.factories import ClientFactory, ClinicFactory, StaffMemberFactory
from tests.smtp import SMTPServer

ROOT = Path(__file__).resolve().parent.parent
# Django's test server listens with a backlog of 10, so a burst of simultaneous clients is reset
# before any request reaches the app; gunicorn, what production runs, listens with 2048.
basehttp.WSGIServer.request_queue_size = 256
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


# The suite's "now": a Tuesday morning in London, before every visit the tests book on fixed dates
# (7 December 2026, the March and October clock changes…). Without it those dates fall into the
# past as the calendar moves on and the bookings are refused ("That time has already passed").
SUITE_NOW = "2026-12-01T07:00:00+00:00"


@pytest.fixture(autouse=True)
def suite_clock(request):
    """Run each test from SUITE_NOW, the clock ticking on from there.

    Tests marked `worker` or `browser` keep the real clock: their other processes (Celery
    worker and beat, Chromium with its cookie expiry) cannot share this process's clock, so
    they book times relative to today instead.
    """
    if request.node.get_closest_marker("worker") or request.node.get_closest_marker("browser"):
        yield
        return
    with time_machine.travel(SUITE_NOW, tick=True):
        yield


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Hash test passwords cheaply; the real hasher costs ~0.3 s a user and proves nothing here."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def sessions_outlast_the_clock_jumps(settings):
    """Keep a test's one sign-in through the days its clock jumps ahead (the week's calendar, a record
    signed off the next morning); a staff sign-in lasts 12 hours, which test_sign_in_lockout holds."""
    settings.SESSION_COOKIE_AGE = 60 * 24 * 3600


@pytest.fixture
def lumen(db):
    return ClinicFactory(name="Lumen Skin Clinic", slug="lumen-test", time_zone="Europe/London")


@pytest.fixture
def harbour(db):
    return ClinicFactory(name="Harbour Aesthetics", slug="harbour-test", time_zone="America/New_York")


@pytest.fixture
def alice(lumen):
    return StaffMemberFactory(clinic=lumen, user__username="alice", display_name="Alice Front")


@pytest.fixture
def bob(harbour):
    return StaffMemberFactory(clinic=harbour, user__username="bob", display_name="Bob Desk")


@pytest.fixture
def alice_client(client, alice):
    """Django's test client, signed in as Alice."""
    client.force_login(alice.user)
    return client


@pytest.fixture
def api(alice):
    """DRF's test client, authenticated as Alice (files with a booking world have their own)."""
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(alice.user)
    return api


@pytest.fixture
def desk(client, world):
    """Django's test client signed in as the front desk of the test module's own `world`."""
    client.force_login(world.desk.user)
    return client


@pytest.fixture
def lumen_client_record(lumen):
    return ClientFactory(clinic=lumen, first_name="Olivia", last_name="Smith", email="olivia@example.com")


@pytest.fixture
def harbour_client_record(harbour):
    return ClientFactory(clinic=harbour, first_name="Hank", last_name="Harbourside", email="hank@example.com")


@pytest.fixture
def smtp_server():
    """A real aiosmtpd server on a free port; the settings fixture points Django at it."""
    server = SMTPServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_settings(settings, smtp_server):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = smtp_server.host
    settings.EMAIL_PORT = smtp_server.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_TIMEOUT = 5
    return settings


def redis_url_for_tests() -> str:
    return os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379/15"


def redis_reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=1
        ) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def database_url_of_test_db() -> str:
    """Return a DATABASE_URL that points another process at the test database."""
    settings_dict = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings_dict['NAME']}"
    user = settings_dict.get("USER") or "postgres"
    password = f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else ""
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{settings_dict['NAME']}"


class CeleryStack:
    """Real `celery -A clinic worker` and `celery -A clinic beat` processes against the test database."""

    def __init__(self, *, broker: str, smtp: SMTPServer, workdir: Path, tick_seconds: int = 1):
        self.broker = broker
        self.smtp = smtp
        self.workdir = workdir
        self.tick_seconds = tick_seconds
        self.extra_env: dict[str, str] = {}
        self.worker_concurrency = 2
        self.processes: dict[str, subprocess.Popen] = {}

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "EMAIL_HOST", "EMAIL_PORT"}}
        env.update(
            DATABASE_URL=database_url_of_test_db(),
            EMAIL_HOST=self.smtp.host,
            EMAIL_PORT=str(self.smtp.port),
            OUTBOX_TICK_SECONDS=str(self.tick_seconds),
            VAR_DIR=str(self.workdir),
            PYTHONUNBUFFERED="1",
        )
        if self.broker.startswith("redis"):
            env["REDIS_URL"] = self.broker
        env.update(self.extra_env)
        return env

    def start(self, *names: str):
        celery = [sys.executable, "-m", "celery", "-A", "clinic"]
        commands = {
            "worker": [
                *celery,
                "worker",
                "-l",
                "info",
                "--concurrency",
                str(self.worker_concurrency),
                "-n",
                f"t{uuid.uuid4().hex[:6]}@%h",
                "--without-mingle",
                "--without-gossip",
            ],
            "beat": [*celery, "beat", "-l", "info", "-s", str(self.workdir / "beat-schedule")],
        }
        for name in names or ("worker", "beat"):
            kind = name.rstrip("0123456789")  # "worker2" is a second worker, "beat2" a second beat
            command = list(commands[kind])
            if kind == "beat":
                command[-1] = str(self.workdir / f"{name}-schedule")
            elif kind == "worker":
                command[command.index("-n") + 1] = f"{name}-{uuid.uuid4().hex[:6]}@%h"
            log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 (closed in stop)
            self.processes[name] = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so kill() takes the pool too
            )

    def kill(self, name: str):
        """SIGKILL a process and its children at once, as a power cut or the OOM killer would."""
        os.killpg(self.processes[name].pid, signal.SIGKILL)
        self.processes[name].wait()

    def stop(self):
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-4000:] for p in sorted(self.workdir.glob("*.log")))


@pytest.fixture(params=["filesystem", "redis"])
def celery_stack(request, transactional_db, smtp_server, tmp_path):
    """Start a real worker and beat on the filesystem broker or on Redis (skipped if Redis is absent)."""
    if request.param == "redis":
        url = redis_url_for_tests()
        if not redis_reachable(url):
            pytest.skip(f"Redis not reachable at {url}: Redis-broker worker test skipped")
        import redis

        redis.Redis.from_url(url).flushdb()
        broker = url
    else:
        broker = "filesystem://"
    stack = CeleryStack(broker=broker, smtp=smtp_server, workdir=tmp_path)
    yield stack
    stack.stop()


def wait_until(predicate, *, timeout: float, interval: float = 0.2, message: str = "condition"):
    """Poll predicate until it is truthy; fail the test with message after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"Timed out after {timeout}s waiting for {message}")


def restart_the_worker_until_all_are_sent(celery_stack, total: int) -> None:
    """Start the worker again, wait until `total` rows are sent, then let beat tick a few more times."""
    from clinic.models import OutboxMessage, OutboxStatus

    celery_stack.start("worker")
    wait_until(
        lambda: OutboxMessage.objects.filter(status=OutboxStatus.SENT).count() == total,
        timeout=180,
        message=f"all {total} sent after the restart; logs:\n{celery_stack.logs()}",
    )
    time.sleep(3)  # more beat ticks: nothing further may go out


@pytest.fixture
def chromium_path():
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        pytest.skip(f"No Chromium at {CHROMIUM} (apt-get install chromium): browser test skipped")
    return CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser_page(chromium_path, monkeypatch):
    """A Chromium page driven by Playwright (skipped, with the reason, where there is no Chromium)."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls (set-up and
    # teardown) are synchronous and safe, but Django would refuse them while that loop exists.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(15_000)
        yield page
        browser.close()
        # ORM calls made while Playwright's loop ran opened a connection in that loop's context;
        # close it here so the test database can be dropped at the end of the run.
        from django.db import connections

        connections.close_all()
