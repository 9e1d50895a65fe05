"""Redis goes away while bookings are made: the bookings succeed, and every message goes once it is back."""

import datetime as dt
import shutil
import subprocess
import time

import pytest

from clinic.celery import app as celery_app
from clinic.models import OutboxMessage, OutboxStatus
from tests.booking_world import build_world, days_ahead
from tests.conftest import CeleryStack, redis_reachable, wait_until
from tests.smtp import free_port
from treatments.booking import BookingRequest, appointment_book

pytestmark = pytest.mark.worker


class PrivateRedis:
    """A redis-server of the test's own on a free port, so it can be stopped and started again."""

    def __init__(self, workdir):
        self.port = free_port()
        self.workdir = workdir
        self.process = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server"),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: redis_reachable(self.url), timeout=10, message="the private Redis to start")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
def private_redis(tmp_path):
    if not shutil.which("redis-server"):
        pytest.skip("redis-server not installed: the Redis outage test needs one it can stop")
    redis = PrivateRedis(tmp_path)
    redis.start()
    yield redis
    redis.stop()


def test_bookings_made_while_redis_is_down_are_all_notified_once_it_is_back(
    transactional_db, private_redis, smtp_server, tmp_path, monkeypatch, settings
):
    # given a worker and beat on Redis, and this process's Celery app pointed at the same Redis
    stack = CeleryStack(broker=private_redis.url, smtp=smtp_server, workdir=tmp_path)
    monkeypatch.setattr(celery_app.conf, "broker_url", private_redis.url)
    monkeypatch.setattr(celery_app, "_pool", None)
    world = build_world()
    stack.start("worker", "beat")
    try:
        # when Redis stops and the front desk books five visits
        private_redis.stop()
        appointments = [
            appointment_book(
                BookingRequest(
                    client=world.client(email=f"c{i}@example.com"),
                    service=world.mesotherapy,
                    practitioner=world.dr_lee,
                    start=days_ahead(world, 6, 9, 15) + dt.timedelta(minutes=75 * i),
                )
            )
            for i in range(5)
        ]
        # then every booking succeeded and its confirmation waits in the database
        assert len(appointments) == 5
        assert (
            OutboxMessage.objects.filter(
                template_key="booking_confirmation", status=OutboxStatus.PENDING
            ).count()
            == 5
        )
        # when Redis comes back on the same port
        time.sleep(2)
        private_redis.start()
        # then each confirmation is delivered, once
        wait_until(
            lambda: len(smtp_server.messages) >= 5,
            timeout=120,
            message=f"5 confirmations after Redis returned; logs:\n{stack.logs()}",
        )
        time.sleep(4)
        recipients = sorted(str(m["To"]) for m in smtp_server.messages)
        assert len(recipients) == 5 and len(set(recipients)) == 5
        assert (
            OutboxMessage.objects.filter(
                template_key="booking_confirmation", status=OutboxStatus.SENT
            ).count()
            == 5
        )
    finally:
        stack.stop()
        celery_app._pool = None
