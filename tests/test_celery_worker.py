"""A real Celery worker and beat deliver an outbox message once through a real SMTP server.

Runs on the filesystem broker (the embedded default) and on Redis (skipped where Redis is absent).
Not eager mode: separate processes, the test database shared over its real connection.
"""

import time

import pytest
from django.utils import timezone

from clinic.models import OutboxMessage, OutboxStatus
from tests.conftest import wait_until
from tests.factories import ClinicFactory

pytestmark = pytest.mark.worker


def test_worker_and_beat_deliver_a_due_message_exactly_once(celery_stack, smtp_server):
    # given a message due now, committed before any worker runs
    clinic = ClinicFactory(name="Lumen Skin Clinic")
    message = OutboxMessage.objects.create(
        clinic=clinic,
        recipient_email="olivia@example.com",
        recipient_name="Olivia",
        template_key="outbox_test",
        context={"note": "See you soon."},
        due_at=timezone.now(),
        dedupe_key="worker-test-1",
    )
    # when a worker and beat (ticking every second) run
    celery_stack.start("worker", "beat")
    wait_until(
        lambda: smtp_server.messages,
        timeout=90,
        message=f"the SMTP server to receive the message; logs:\n{celery_stack.logs()}",
    )
    # then after several more ticks it has still been received once, and the row says sent
    time.sleep(4)
    assert len(smtp_server.messages) == 1
    received = smtp_server.messages[0]
    assert received["To"] == "Olivia <olivia@example.com>"
    assert "See you soon." in received.get_body().get_content()
    message.refresh_from_db()
    assert message.status == OutboxStatus.SENT
    assert message.smtp_message_id == received["Message-ID"]
    assert message.attempts == 1
