"""The Insights page's figures. The database computes every one of them (counts, means,
medians, the gaps between status updates) in a fixed number of queries, however many
incidents, updates, milestones or action items the period holds:

- `summary`: one aggregate over the period's incidents (counts, times, targets);
- `weekly`: one GROUP BY week (the two weekly charts);
- `cadence`: one aggregate and one top-N over the gaps between status updates (LAG
  over each incident's updates), and one query for open incidents silent past their cadence;
- `postmortem_figures`: one aggregate over milestones, one over action items.

Every query starts from the incidents detected in the period (an index range on
`detected_at`) and reaches updates, post-mortems, milestones and action items by their
incident, through the indexes that lead with it.

The targets are the severities' own (`Severity.acknowledge_within`,
`investigate_within`, `update_interval`: 15 minutes, 2 hours and the runbook's cadence
by default), as `Incident.phase_deadline` and the cadence panel use them.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from math import floor

from django.db.models import (
    Aggregate,
    Avg,
    Count,
    DateTimeField,
    DurationField,
    F,
    OuterRef,
    Q,
    Subquery,
    Value,
    Window,
)
from django.db.models.functions import Coalesce, Lag, TruncWeek
from django.utils import timezone

from incidents.models import Incident, Severity, StatusUpdate
from postmortems.models import ActionItem, Milestone

from .forms import Period

# How many of the worst gaps between status updates the page lists.
WORST_GAPS = 10


class Median(Aggregate):
    """The median of a duration: PostgreSQL's percentile_cont(0.5), which takes the mean of
    the two middle values when there is an even number of them.

    Other databases (the SQLite of a laptop) have no such aggregate: there the median is
    NULL, which the page shows as a dash, rather than a figure computed some other way."""

    function = "PERCENTILE_CONT"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = DurationField()

    def as_sql(self, compiler, connection, **extra_context):
        if connection.vendor != "postgresql":
            return "NULL", []
        return super().as_sql(compiler, connection, **extra_context)


# When an incident was acknowledged: taking it straight to investigation acknowledges it too
# (the "investigate" transition may start from "detected", leaving acknowledged_at empty).
def _acknowledged_at():
    return Coalesce("acknowledged_at", "investigating_at")


# When the investigation phase ended: resolution work began, or the incident was resolved outright.
def _investigation_ended_at():
    return Coalesce("mitigating_at", "resolved_at")


def _since_detection(moment):
    return moment - F("detected_at")


def share_text(share: float | None) -> str:
    """87.5 %, 100 %; a dash when nothing was measured. Rounded down, so that a share with
    one miss never shows as 100 %."""
    if share is None:
        return "—"
    return f"{floor(share * 1000) / 10:g} %"


@dataclass(frozen=True)
class Timing:
    """A mean and median time from detection, over the incidents that reached that moment."""

    label: str
    mean: timedelta | None
    median: timedelta | None
    measured: int


@dataclass(frozen=True)
class Target:
    """How many incidents (gaps, milestones) met a deadline, missed it, or cannot tell yet."""

    label: str
    met: int
    missed: int
    pending: int = 0

    @property
    def measured(self) -> int:
        return self.met + self.missed

    @property
    def share(self) -> float | None:
        return self.met / self.measured if self.measured else None

    @property
    def share_text(self) -> str:
        return share_text(self.share)


@dataclass(frozen=True)
class SeverityCount:
    severity: Severity
    count: int


@dataclass(frozen=True)
class Summary:
    total: int
    open: int
    by_severity: list[SeverityCount]
    timings: list[Timing]
    acknowledge: Target
    investigate: Target


def summary(incidents, severities: list[Severity], now: datetime) -> Summary:
    """One aggregate over `incidents`: counts, mean and median times, and the two response targets."""
    rows = incidents.annotate(
        acked_at=_acknowledged_at(),
        investigated_at=_investigation_ended_at(),
        ack_due=F("detected_at") + F("severity__acknowledge_within"),
        investigation_due=F("detected_at") + F("severity__investigate_within"),
    )
    moments = {"ack": F("acked_at"), "inv": F("investigating_at"), "res": F("resolved_at")}
    figures = rows.aggregate(
        total=Count("id"),
        open=Count("id", filter=Q(status__in=Incident.OPEN_STATUSES)),
        **{f"sev_{s.pk}": Count("id", filter=Q(severity_id=s.pk)) for s in severities},
        **{f"{key}_n": Count(moment) for key, moment in moments.items()},
        **{f"{key}_mean": Avg(_since_detection(moment)) for key, moment in moments.items()},
        **{f"{key}_median": Median(_since_detection(moment)) for key, moment in moments.items()},
        ack_met=Count("id", filter=Q(acked_at__lte=F("ack_due"))),
        ack_missed=Count("id", filter=Q(acked_at__gt=F("ack_due")) | Q(acked_at__isnull=True, ack_due__lt=now)),
        ack_pending=Count("id", filter=Q(acked_at__isnull=True, ack_due__gte=now)),
        inv_met=Count("id", filter=Q(investigated_at__lte=F("investigation_due"))),
        inv_missed=Count(
            "id",
            filter=Q(investigated_at__gt=F("investigation_due"))
            | Q(investigated_at__isnull=True, investigation_due__lt=now),
        ),
        inv_pending=Count("id", filter=Q(investigated_at__isnull=True, investigation_due__gte=now)),
    )
    labels = {"ack": "Time to acknowledge", "inv": "Time to start investigating", "res": "Time to resolve"}
    return Summary(
        total=figures["total"],
        open=figures["open"],
        by_severity=[SeverityCount(s, figures[f"sev_{s.pk}"]) for s in severities],
        timings=[
            Timing(label, figures[f"{key}_mean"], figures[f"{key}_median"], figures[f"{key}_n"])
            for key, label in labels.items()
        ],
        acknowledge=Target(
            "Acknowledged within target", figures["ack_met"], figures["ack_missed"], figures["ack_pending"]
        ),
        investigate=Target(
            "Investigation ended within target", figures["inv_met"], figures["inv_missed"], figures["inv_pending"]
        ),
    )


@dataclass(frozen=True)
class Week:
    """One week (Monday to Sunday in the reader's zone) of the period."""

    start: date
    total: int = 0
    by_severity: list[int] = field(default_factory=list)
    ack_mean: timedelta | None = None
    ack_median: timedelta | None = None
    res_mean: timedelta | None = None
    res_median: timedelta | None = None


def period_weeks(period: Period, zone) -> list[date]:
    """The Mondays of the weeks the period touches (its first and last may be partial)."""
    first = timezone.localtime(period.start, zone).date()
    last = timezone.localtime(period.end - timedelta(microseconds=1), zone).date()
    monday = first - timedelta(days=first.weekday())
    weeks = []
    while monday <= last:
        weeks.append(monday)
        monday += timedelta(days=7)
    return weeks


def weekly(incidents, severities: list[Severity], period: Period, zone) -> list[Week]:
    """Incidents per week and severity, and the mean and median times to acknowledge and
    resolve per week, in one GROUP BY; weeks without incidents are there with zeros."""
    rows = (
        incidents.annotate(week=TruncWeek("detected_at", tzinfo=zone))
        .values("week")
        .annotate(
            total=Count("id"),
            **{f"sev_{s.pk}": Count("id", filter=Q(severity_id=s.pk)) for s in severities},
            ack_mean=Avg(_since_detection(_acknowledged_at())),
            ack_median=Median(_since_detection(_acknowledged_at())),
            res_mean=Avg(_since_detection(F("resolved_at"))),
            res_median=Median(_since_detection(F("resolved_at"))),
        )
        .order_by("week")
    )
    found = {timezone.localtime(row["week"], zone).date(): row for row in rows}
    weeks = []
    for monday in period_weeks(period, zone):
        row = found.get(monday)
        if row is None:
            weeks.append(Week(start=monday, by_severity=[0] * len(severities)))
            continue
        weeks.append(
            Week(
                start=monday,
                total=row["total"],
                by_severity=[row[f"sev_{s.pk}"] for s in severities],
                ack_mean=row["ack_mean"],
                ack_median=row["ack_median"],
                res_mean=row["res_mean"],
                res_median=row["res_median"],
            )
        )
    return weeks


@dataclass(frozen=True)
class Gap:
    """A stretch without a status update on one incident: from detection or an update to the
    next update, or (`ongoing`) from the last one to now on an incident still open."""

    reference: str
    title: str
    severity_level: int
    start: datetime
    end: datetime
    length: timedelta
    target: timedelta
    ongoing: bool

    @property
    def overrun(self) -> timedelta:
        return self.length - self.target

    @property
    def severity_code(self) -> str:
        return f"Sev{self.severity_level}"


@dataclass(frozen=True)
class Cadence:
    target: Target
    ongoing_late: int
    worst: list[Gap]


def _in_period(period: Period, path: str) -> Q:
    """The period again, on the incident a row reaches through `path`: the incidents' subquery
    already holds only the period's, but said on the join too, the planner reads the incidents
    it joins through the detected_at index instead of all of them."""
    return Q(**{f"{path}__detected_at__gte": period.start, f"{path}__detected_at__lt": period.end})


def cadence(incidents, period: Period, now: datetime, limit: int = WORST_GAPS) -> Cadence:
    """The gaps between status updates against each incident's severity cadence, as the
    incident page's cadence panel shows them (incidents.cadence.cadence_gaps): from detection
    to the first update, then between consecutive updates, every audience counting.
    Severities without a cadence ("as needed") are left out.

    The gaps are LAG over each incident's updates (partitioned by incident), in one query
    for the counts and one for the worst; an open incident silent for longer than its
    cadence adds its running gap, as a late one, from one more query."""
    tracked = incidents.filter(severity__update_interval__isnull=False)
    gaps = (
        StatusUpdate.objects.filter(
            _in_period(period, "incident"),
            incident__in=tracked.values("id"),
            posted_at__gte=F("incident__detected_at"),
        )
        .annotate(
            gap_start=Window(
                Lag("posted_at", default=F("incident__detected_at")),
                partition_by=F("incident_id"),
                order_by=[F("posted_at").asc(), F("id").asc()],
            ),
            target=F("incident__severity__update_interval"),
        )
        .annotate(length=F("posted_at") - F("gap_start"))
        .annotate(overrun=F("length") - F("target"))
    )
    counts = gaps.aggregate(gaps=Count("id"), within=Count("id", filter=Q(length__lte=F("target"))))
    worst = [
        Gap(
            reference=row["incident__reference"],
            title=row["incident__title"],
            severity_level=row["incident__severity__level"],
            start=row["gap_start"],
            end=row["posted_at"],
            length=row["length"],
            target=row["target"],
            ongoing=False,
        )
        for row in gaps.filter(overrun__gt=timedelta(0))
        .order_by("-overrun", "id")
        .values(
            "incident__reference",
            "incident__title",
            "incident__severity__level",
            "gap_start",
            "posted_at",
            "length",
            "target",
        )[:limit]
    ]

    last_update = (
        StatusUpdate.objects.filter(incident=OuterRef("pk"), posted_at__gte=OuterRef("detected_at"))
        .order_by("-posted_at")
        .values("posted_at")[:1]
    )
    running = list(
        tracked.open()
        .annotate(since=Coalesce(Subquery(last_update), F("detected_at")))
        .annotate(length=Value(now, output_field=DateTimeField()) - F("since"), target=F("severity__update_interval"))
        .annotate(overrun=F("length") - F("target"))
        .filter(overrun__gt=timedelta(0))
        .annotate(late_total=Window(Count("id")))
        .order_by("-overrun", "id")
        .values("reference", "title", "severity__level", "since", "length", "target", "late_total")[:limit]
    )
    ongoing_late = running[0]["late_total"] if running else 0
    worst += [
        Gap(
            reference=row["reference"],
            title=row["title"],
            severity_level=row["severity__level"],
            start=row["since"],
            end=now,
            length=row["length"],
            target=row["target"],
            ongoing=True,
        )
        for row in running
    ]
    worst.sort(key=lambda gap: gap.overrun, reverse=True)
    return Cadence(
        target=Target(
            "Status updates on cadence",
            met=counts["within"],
            missed=counts["gaps"] - counts["within"] + ongoing_late,
        ),
        ongoing_late=ongoing_late,
        worst=worst[:limit],
    )


@dataclass(frozen=True)
class MilestoneRow:
    label: str
    target: Target
    late: int  # completed after the due time
    overdue: int  # not completed, past the due time


@dataclass(frozen=True)
class PostmortemFigures:
    milestones: list[MilestoneRow]  # one per kind, in the runbook's order
    milestones_total: MilestoneRow
    action_items_total: int
    action_items_open: int
    action_items_overdue: int
    action_items_done: int
    action_items_deferred: int
    action_items_to_verify: int = 0  # preventive measures done, awaiting someone else's verification


def postmortem_figures(incidents, period: Period, now: datetime) -> PostmortemFigures:
    """The milestones and action items of the post-mortems of `incidents`, in one aggregate each.

    A milestone completed by its due time is on time; completed after it, late; not completed
    and past due, overdue (missed, as it cannot be on time any more); not yet due, pending."""
    ids = incidents.values("id")
    states = {
        "on_time": Q(completed_at__lte=F("due_at")),
        "late": Q(completed_at__gt=F("due_at")),
        "overdue": Q(completed_at__isnull=True, due_at__lte=now),
        "pending": Q(completed_at__isnull=True, due_at__gt=now),
    }
    kinds = {kind.value: kind.label for kind in Milestone.ORDER}
    scopes = {"all": Q(), **{kind: Q(kind=kind) for kind in kinds}}
    figures = Milestone.objects.filter(
        _in_period(period, "postmortem__incident"), postmortem__incident__in=ids
    ).aggregate(
        **{
            f"{scope}_{state}": Count("id", filter=scope_q & state_q)
            for scope, scope_q in scopes.items()
            for state, state_q in states.items()
        }
    )

    def row(scope, label):
        return MilestoneRow(
            label=label,
            target=Target(
                label,
                met=figures[f"{scope}_on_time"],
                missed=figures[f"{scope}_late"] + figures[f"{scope}_overdue"],
                pending=figures[f"{scope}_pending"],
            ),
            late=figures[f"{scope}_late"],
            overdue=figures[f"{scope}_overdue"],
        )

    open_q = Q(status__in=ActionItem.OPEN_STATUSES)
    items = ActionItem.objects.filter(
        _in_period(period, "postmortem__incident"), postmortem__incident__in=ids
    ).aggregate(
        total=Count("id"),
        open=Count("id", filter=open_q),
        overdue=Count("id", filter=open_q & Q(due_at__lte=now)),
        done=Count("id", filter=Q(status=ActionItem.Status.DONE)),
        deferred=Count("id", filter=Q(status=ActionItem.Status.DEFERRED)),
        to_verify=Count("id", filter=Q(status=ActionItem.Status.TO_VERIFY)),
    )
    return PostmortemFigures(
        milestones=[row(kind, label) for kind, label in kinds.items()],
        milestones_total=row("all", "Post-mortem milestones on time"),
        action_items_total=items["total"],
        action_items_open=items["open"],
        action_items_overdue=items["overdue"],
        action_items_done=items["done"],
        action_items_deferred=items["deferred"],
        action_items_to_verify=items["to_verify"],
    )


@dataclass(frozen=True)
class Insights:
    period: Period
    summary: Summary
    weeks: list[Week]
    cadence: Cadence
    postmortems: PostmortemFigures

    @property
    def targets(self) -> list[Target]:
        """The on-time rates, as the chart and its table show them."""
        return [
            self.summary.acknowledge,
            self.summary.investigate,
            self.cadence.target,
            self.postmortems.milestones_total.target,
        ]


def insights(incidents, *, period: Period, severities: list[Severity], now: datetime, zone) -> Insights:
    """Every figure of the page for the incidents of `incidents` detected in `period`."""
    in_period = incidents.filter(detected_at__gte=period.start, detected_at__lt=period.end)
    return Insights(
        period=period,
        summary=summary(in_period, severities, now),
        weeks=weekly(in_period, severities, period, zone),
        cadence=cadence(in_period, period, now),
        postmortems=postmortem_figures(in_period, period, now),
    )
