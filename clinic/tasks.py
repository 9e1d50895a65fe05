"""Celery tasks of the clinic layer. Each takes ids (or nothing) and is safe to run twice."""

from celery import shared_task

from clinic.outbox import outbox_claim_due, outbox_deliver, outbox_release_stale_claims

# Stop after this many batches so one task never holds a worker for long; the next tick goes on.
MAX_BATCHES_PER_TICK = 50


@shared_task(name="clinic.tasks.deliver_due_messages_task", ignore_result=True)
def deliver_due_messages_task() -> int:
    """Deliver every due outbox message, batch by batch; return how many were sent."""
    outbox_release_stale_claims()
    sent = 0
    for _ in range(MAX_BATCHES_PER_TICK):
        claimed = outbox_claim_due()
        if not claimed:
            break
        sent += outbox_deliver(claimed)
    return sent
