"""The runbook's communication sweeps, run by beat every minute. Each calls a service."""

import logging

from celery import shared_task

from . import cadence, stalls

logger = logging.getLogger(__name__)


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


@shared_task(acks_late=True, reject_on_worker_lost=True)
def chase_stalled_incidents() -> int:
    queued = stalls.chase_stalled_incidents()
    if queued:
        logger.info("Stalled-incident notices queued: %s", queued)
    return queued
