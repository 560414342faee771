"""The one write of the health app: a sweep's heartbeat."""

from datetime import datetime

from .models import Heartbeat
from .sweeps import SWEEP_BY_TASK


def heartbeat_record(*, task: str, at: datetime) -> bool:
    """Record that `task` finished successfully at `at`; False (nothing written) for a task that is no sweep.

    One statement (INSERT ... ON CONFLICT (sweep) DO UPDATE), so two workers finishing the
    same sweep at once cannot collide. No actor and no history: see the Heartbeat docstring.
    """
    sweep = SWEEP_BY_TASK.get(task)
    if sweep is None:
        return False
    Heartbeat.objects.bulk_create(
        [Heartbeat(sweep=sweep, task=task, last_success_at=at)],
        update_conflicts=True,
        unique_fields=["sweep"],
        update_fields=["task", "last_success_at"],
    )
    return True
