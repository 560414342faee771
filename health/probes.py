"""The checks behind /healthz: the database, the broker and each sweep's last run.

Every check is bounded in time, so /healthz answers within a few seconds even when
Redis or PostgreSQL is gone, and says why it is unhealthy instead of hanging.
"""

import logging

from django.conf import settings
from django.db import DatabaseError, connection

from .selectors import sweep_statuses

logger = logging.getLogger(__name__)


def database_error() -> str | None:
    """None when a trivial query runs; otherwise what went wrong (the exception's type only)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        logger.warning("Health check: database unavailable: %s", exc)
        return f"unavailable ({type(exc).__name__})"
    return None


def broker_error(timeout: float | None = None) -> str | None:
    """None when Celery's broker answers; otherwise what went wrong.

    Through Celery's own connection settings, with every wait cut to `timeout` seconds
    (HEALTH_BROKER_TIMEOUT_SECONDS): a connect that fails or is refused at once, and a
    broker that accepts the connection but never answers, both give up in time.
    On Redis the connection is also PINGed, which the connection alone does not do.
    """
    from portal.celery import app

    timeout = settings.HEALTH_BROKER_TIMEOUT if timeout is None else timeout
    options = {**app.conf.broker_transport_options, "socket_timeout": timeout, "socket_connect_timeout": timeout}
    try:
        with app.connection_for_write(transport_options=options, connect_timeout=timeout) as conn:
            conn.ensure_connection(max_retries=0, timeout=timeout)
            if conn.transport.driver_type == "redis":
                conn.default_channel.client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure is the answer; the details go to the log, not the public
        logger.warning("Health check: broker unavailable: %s", exc)
        return f"unreachable ({type(exc).__name__})"
    return None


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


def health_report(now) -> dict:
    """The /healthz document: {"status": "ok" | "unhealthy", "reasons": [...], "checked_at", "database",
    "broker", "sweeps": {name: {...}}}. No incident data: only the portal's own machinery."""
    reasons = []
    report = {"status": "ok", "reasons": reasons, "checked_at": _iso(now)}

    db_error = database_error()
    report["database"] = {"ok": db_error is None, "error": db_error}
    if db_error:
        reasons.append(f"database: {db_error}")

    mq_error = broker_error()
    report["broker"] = {"ok": mq_error is None, "error": mq_error}
    if mq_error:
        reasons.append(f"broker: {mq_error}")

    sweeps = {}
    statuses = []
    if db_error is None:
        try:
            statuses = sweep_statuses(now)
        except DatabaseError as exc:  # e.g. migrations not applied yet
            logger.warning("Health check: heartbeats unreadable: %s", exc)
            reasons.append(f"sweeps: unknown, heartbeats unreadable ({type(exc).__name__})")
        for status in statuses:
            sweeps[status.sweep] = {
                "ok": status.state == "ok",
                "state": status.state,
                "task": status.task,
                "last_success_at": _iso(status.last_success_at),
                "age_seconds": round(status.age.total_seconds(), 1) if status.age is not None else None,
                "interval_seconds": status.interval.total_seconds() if status.interval else None,
                "stale_after_seconds": status.stale_after.total_seconds() if status.stale_after else None,
            }
            if status.state == "stale":
                reasons.append(
                    f"sweep {status.sweep}: last ran {round(status.age.total_seconds())} s ago, "
                    f"stale after {round(status.stale_after.total_seconds())} s"
                )
            elif status.state == "never":
                reasons.append(f"sweep {status.sweep}: never ran")
            elif status.state == "unscheduled":
                reasons.append(f"sweep {status.sweep}: not in CELERY_BEAT_SCHEDULE at a fixed interval")
    else:
        reasons.append("sweeps: unknown, the database is unavailable")
    report["sweeps"] = sweeps

    if reasons:
        report["status"] = "unhealthy"
    return report
