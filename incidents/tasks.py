"""Celery tasks of the incidents app. Each takes primary keys and calls a service."""

import logging

from celery import shared_task

from . import cadence, outbox

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def deliver_outbox_message(message_id: int) -> str:
    return outbox.outbox_deliver(message_id=message_id)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def outbox_sweep() -> dict:
    counts = outbox.outbox_sweep()
    if counts:
        logger.info("Outbox sweep: %s", counts)
    return counts


@shared_task(acks_late=True, reject_on_worker_lost=True)
def remind_overdue_updates() -> int:
    queued = cadence.remind_overdue_updates()
    if queued:
        logger.info("Overdue-update reminders queued: %s", queued)
    return queued


@shared_task(acks_late=True, reject_on_worker_lost=True)
def escalate_unacknowledged() -> int:
    queued = cadence.escalate_unacknowledged()
    if queued:
        logger.info("Unacknowledged incidents escalated: %s", queued)
    return queued
