"""A system check (manage.py check): every watched sweep is in the beat schedule, at a fixed interval."""

from django.core import checks

from .sweeps import SWEEPS, sweep_intervals


@checks.register()
def sweeps_are_scheduled(app_configs=None, **kwargs):
    return [
        checks.Error(
            f"{SWEEPS[sweep]} has no fixed interval in CELERY_BEAT_SCHEDULE, so its heartbeat cannot be judged.",
            hint="Schedule it with a timedelta (or seconds), as the other sweeps are.",
            id="health.E001",
        )
        for sweep, interval in sweep_intervals().items()
        if interval is None or interval.total_seconds() <= 0
    ]
