"""Delivery of the outbox: one task per message, and the sweep beat runs every minute."""

import logging

from celery import shared_task

from . import services

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def deliver_outbox_message(message_id: int) -> str:
    return services.outbox_deliver(message_id=message_id)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def outbox_sweep() -> dict:
    counts = services.outbox_sweep()
    if counts:
        logger.info("Outbox sweep: %s", counts)
    return counts
