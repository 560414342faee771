"""Delivery of the outbox: a task per message or per batch of messages, and the sweep beat runs every minute."""

import logging

from celery import shared_task

from . import services

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def deliver_outbox_message(message_id: int) -> str:
    return services.outbox_deliver(message_id=message_id)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def deliver_outbox_batch(message_ids: list[int]) -> dict:
    """Send the messages a sweep queued together, over one SMTP connection. Those already
    sent, not due or held by another worker are left alone, so a redelivered task is harmless."""
    counts: dict[str, int] = {}
    for outcome in services.outbox_deliver_batch(message_ids=message_ids, limit=len(message_ids)).values():
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


@shared_task(acks_late=True, reject_on_worker_lost=True)
def outbox_sweep() -> dict:
    counts = services.outbox_sweep()
    if counts:
        logger.info("Outbox sweep: %s", counts)
    return counts
