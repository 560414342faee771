"""The Celery application: configured from Django settings (CELERY_*), tasks autodiscovered."""

import logging
import os
from queue import Empty

from celery import Celery
from kombu.exceptions import OperationalError
from kombu.transport import redis as kombu_redis

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


class RedisChannel(kombu_redis.Channel):
    """kombu's Redis channel, closed in full even when the broker died under a pending BRPOP.

    kombu reads a pending BRPOP's reply before it closes a channel (kombu#1733). When Redis
    has gone, that read raises before anything is closed, and the channel stays open while
    kombu detaches the transport from its connection. Celery then closes the connection
    again, and this channel's restore of its unacknowledged messages builds a Redis client
    from the detached transport: AttributeError on `hostname`, which Celery does not take
    for a connection error, so the worker exits ("Unrecoverable error") and nothing is
    delivered until someone restarts it. A dead connection has no reply left to read: the
    close goes on while the transport is still attached, the restore fails as the
    connection error it is, and the worker reconnects.
    """

    def close(self):
        if self._in_poll:
            self._closing = True
            try:
                self._brpop_read()  # clears _in_poll whatever happens, so kombu's close skips it
            except Empty:
                pass
            except self.connection_errors as exc:
                logger.info("Broker connection lost under a pending BRPOP, closing the channel: %r", exc)
        super().close()


class RedisTransport(kombu_redis.Transport):
    """kombu's Redis transport with `RedisChannel`; settings select it for redis:// brokers."""

    Channel = RedisChannel
