"""Sending customer updates to the status page's subscribers."""

import logging

from celery import shared_task

from . import services

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def broadcast_deliver(broadcast_id: int) -> int:
    return services.broadcast_deliver(broadcast_id=broadcast_id)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def broadcast_sweep() -> int:
    queued = services.broadcast_sweep()
    if queued:
        logger.info("Broadcast sweep queued %s emails", queued)
    return queued
