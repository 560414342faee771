"""What /healthz, the banner and /metrics read: one query for the sweeps' heartbeats, one for the outbox."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Min, Q

from notifications.models import OutboxMessage

from .models import Heartbeat
from .sweeps import DESCRIPTIONS, STALE_AFTER_INTERVALS, SWEEPS, sweep_intervals

# When the outbox sweep is not scheduled at an interval (a system check reports it), judge its backlog by this.
DEFAULT_OUTBOX_INTERVAL = timedelta(minutes=1)


@dataclass(frozen=True)
class SweepStatus:
    """One sweep as of `now`. `state`: ok, stale (last ran too long ago), never (no heartbeat), unscheduled."""

    sweep: str
    task: str
    interval: timedelta | None
    last_success_at: datetime | None
    now: datetime

    @property
    def stale_after(self) -> timedelta | None:
        return self.interval * STALE_AFTER_INTERVALS if self.interval else None

    @property
    def age(self) -> timedelta | None:
        return self.now - self.last_success_at if self.last_success_at else None

    @property
    def state(self) -> str:
        if not self.interval:
            return "unscheduled"
        if self.last_success_at is None:
            return "never"
        return "stale" if self.age > self.stale_after else "ok"

    @property
    def description(self) -> str:
        return DESCRIPTIONS.get(self.sweep, self.task)


def sweep_statuses(now: datetime) -> list[SweepStatus]:
    """Every watched sweep, with its last heartbeat (one query of one row per sweep)."""
    beats = dict(Heartbeat.objects.filter(sweep__in=SWEEPS).values_list("sweep", "last_success_at"))
    intervals = sweep_intervals()
    return [SweepStatus(sweep, task, intervals[sweep], beats.get(sweep), now) for sweep, task in SWEEPS.items()]


def outbox_overdue_after() -> timedelta:
    """How late a due message may be before it counts as stuck: the stale threshold of the outbox sweep."""
    return (sweep_intervals()["outbox"] or DEFAULT_OUTBOX_INTERVAL) * STALE_AFTER_INTERVALS


def outbox_summary(now: datetime) -> dict:
    """Pending and failed outbox messages, in one query whatever their number (it only counts them).

    Reads only pending and failed rows, through the partial indexes outbox_pending_due and
    outbox_failed_since (sent messages, the bulk of the table, are never touched):
    pending, overdue (pending and due for longer than `outbox_overdue_after`), oldest_due
    (the earliest next attempt of a pending message), failed and failed_since (when the
    earliest of them last changed, that is failed).
    """
    M = OutboxMessage
    pending = Q(status=M.Status.PENDING)
    failed = Q(status=M.Status.FAILED)
    return M.objects.filter(pending | failed).aggregate(
        pending=Count("pk", filter=pending),
        overdue=Count("pk", filter=pending & Q(next_attempt_at__lte=now - outbox_overdue_after())),
        oldest_due=Min("next_attempt_at", filter=pending),
        failed=Count("pk", filter=failed),
        failed_since=Min("updated_at", filter=failed),
    )


def banner_problems(now: datetime) -> list[dict]:
    """What the staff banner says is wrong, oldest first: stale sweeps and stuck outbox messages. Two queries.

    Each problem is {"kind", "text", "since"}. A sweep that has never run is not here (there is
    no "since" to give, and a fresh install has none for its first minute): /healthz and
    /metrics report it.
    """
    problems = []
    for status in sweep_statuses(now):
        if status.state == "stale":
            problems.append(
                {
                    "kind": "sweep",
                    "text": f"The {status.sweep} sweep ({status.description}) has not run",
                    "since": status.last_success_at,
                }
            )
    outbox = outbox_summary(now)
    if outbox["failed"]:
        count = outbox["failed"]
        problems.append(
            {
                "kind": "outbox_failed",
                "text": f"{count} outbox message{'s' if count != 1 else ''} failed for good and will not be sent",
                "since": outbox["failed_since"],
            }
        )
    if outbox["overdue"]:
        count = outbox["overdue"]
        problems.append(
            {
                "kind": "outbox_overdue",
                "text": f"{count} outbox message{'s' if count != 1 else ''} past {'their' if count != 1 else 'its'} "
                "retry time and not sent",
                "since": outbox["oldest_due"],
            }
        )
    return sorted(problems, key=lambda problem: problem["since"])
