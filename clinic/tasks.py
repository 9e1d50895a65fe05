"""Celery tasks of the clinic layer. Each takes ids (or nothing) and is safe to run twice."""

from celery import shared_task

from clinic.outbox import (
    DELIVERY_BATCH_SIZE,
    kick_delivery,
    outbox_claim_due,
    outbox_deliver,
    outbox_release_stale_claims,
)

# Stop after this many batches so one task never holds a worker for long; a successor goes on.
MAX_BATCHES_PER_TICK = 50


@shared_task(name="clinic.tasks.deliver_due_messages_task", ignore_result=True)
def deliver_due_messages_task() -> int:
    """Deliver every due outbox message, batch by batch; return how many were sent.

    A backlog is shared out: a task whose first batch is full asks for one more task, so an idle
    worker process joins in instead of waiting for the next beat tick, and a task that stops at
    its batch limit with messages left asks for its successor.
    """
    outbox_release_stale_claims()
    sent = 0
    for batch in range(MAX_BATCHES_PER_TICK):
        claimed = outbox_claim_due()
        if not claimed:
            return sent
        if batch == 0 and len(claimed) == DELIVERY_BATCH_SIZE:
            kick_delivery()
        sent += outbox_deliver(claimed)
    kick_delivery()
    return sent
