"""Celery tasks of the post-mortems app: the deadline sweep that beat runs every minute."""

import logging

from celery import shared_task

from . import services

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def enforce_deadlines() -> dict:
    """Queue every due reminder, overdue notice and escalation. Safe to run twice
    at once (two beats, a redelivered message): due rows are claimed with
    `skip_locked` and each is handled once."""
    counts = services.deadlines_sweep()
    if counts:
        logger.info("Deadline sweep: %s", counts)
    return counts
