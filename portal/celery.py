"""The Celery application: configured from Django settings (CELERY_*), tasks autodiscovered."""

import logging
import os

from celery import Celery
from kombu.exceptions import OperationalError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

logger = logging.getLogger(__name__)


def publish(task, *args, **kwargs) -> bool:
    """Send a task (a task or its name), never raising when the broker is down.

    Callers keep the work itself in the database (an outbox row, a due
    milestone), and a periodic sweep picks up whatever was not published, so a
    failed publish delays the work but neither loses it nor fails the request.
    """
    # By name, a module need not import the tasks that call back into it.
    name = task if isinstance(task, str) else task.name
    try:
        app.send_task(name, args=args, kwargs=kwargs)
    except (OperationalError, OSError) as exc:
        logger.warning("Broker unavailable, %s left for the sweep: %s", name, exc)
        return False
    return True
