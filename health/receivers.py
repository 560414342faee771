"""Heartbeats from the sweeps' own runs, without the apps that own the sweeps knowing about it.

The sweeps live in lower apps that cannot import health (see .importlinter); Celery's
`task_success` signal, connected in HealthConfig.ready(), tells us in the worker process.
"""

import logging

from django.db import DatabaseError
from django.utils import timezone

from . import services

logger = logging.getLogger(__name__)


def record_heartbeat(sender=None, **kwargs) -> None:
    """`task_success` receiver: a sweep that returned without an error writes its heartbeat."""
    name = getattr(sender, "name", None)
    if not name:
        return
    try:
        services.heartbeat_record(task=name, at=timezone.now())
    except DatabaseError:
        # The sweep's work is done and committed; a missed heartbeat shows as staleness, never as a failed task.
        logger.exception("Heartbeat of %s not recorded", name)
