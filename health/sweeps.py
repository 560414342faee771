"""The periodic sweeps the portal watches, and how often each should run.

How often comes from CELERY_BEAT_SCHEDULE (portal/settings.py), never from a copy here:
a sweep counts as stale once it has not finished for STALE_AFTER_INTERVALS of its intervals.
"""

from datetime import timedelta

from django.conf import settings

# Sweep name (as /healthz, the banner and the metrics' `sweep` label show it) -> its Celery task.
SWEEPS = {
    "deadlines": "postmortems.tasks.enforce_deadlines",
    "outbox": "notifications.tasks.outbox_sweep",
    "cadence": "incidents.tasks.remind_overdue_updates",
    "acknowledgement": "incidents.tasks.escalate_unacknowledged",
    "broadcasts": "statuspage.tasks.broadcast_sweep",
}
SWEEP_BY_TASK = {task: sweep for sweep, task in SWEEPS.items()}

# One late run is a busy worker; three missed in a row means the sweep, its worker or beat has stopped.
STALE_AFTER_INTERVALS = 3

# What the descriptions say each sweep does, for the banner.
DESCRIPTIONS = {
    "deadlines": "post-mortem deadline reminders and escalations",
    "outbox": "delivery of emails and Slack messages",
    "cadence": "status-update reminders",
    "acknowledgement": "escalation of unacknowledged incidents",
    "broadcasts": "status-page emails to subscribers",
}


def schedule_interval(schedule) -> timedelta | None:
    """The interval of a beat schedule entry's `schedule`; None for one that has none (a crontab)."""
    if isinstance(schedule, timedelta):
        return schedule
    if isinstance(schedule, int | float):
        return timedelta(seconds=schedule)
    run_every = getattr(schedule, "run_every", None)  # celery.schedules.schedule
    return run_every if isinstance(run_every, timedelta) else None


def sweep_intervals() -> dict[str, timedelta | None]:
    """{sweep: how often beat runs it}, None for a sweep beat does not run at a fixed interval (or at all)."""
    by_task = {entry.get("task"): entry.get("schedule") for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    return {sweep: schedule_interval(by_task[task]) if task in by_task else None for sweep, task in SWEEPS.items()}
