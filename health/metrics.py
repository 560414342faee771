"""What /metrics exposes: the database-derived gauges, computed at scrape time, and the in-process
counters and histograms of portal.metrics (shared by all worker processes in multiprocess mode)."""

import logging
import math

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count
from django.utils import timezone
from prometheus_client import REGISTRY, CollectorRegistry, multiprocess
from prometheus_client.core import GaugeMetricFamily

from incidents.models import Incident, Severity
from postmortems.models import Milestone

from .selectors import outbox_summary, sweep_statuses

logger = logging.getLogger(__name__)


class PortalCollector:
    """Gauges read from the database when Prometheus scrapes: six queries whatever the data's size.

    Registered only in the registry a /metrics request builds, never in a process-wide one, so
    these queries run once per scrape (not once per worker process, and never at import).
    """

    def describe(self):
        return []  # nothing to check at registration; the families are built at collect time

    def collect(self):
        now = timezone.now()
        up = GaugeMetricFamily("portal_database_up", "1 if the gauges below could be read from the database.")
        try:
            families = list(self._families(now))
        except DatabaseError:
            logger.exception("Metrics: the database could not be read")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self, now):
        # 1-2. Open incidents by severity and phase; every combination, so a phase that empties reads 0.
        levels = list(Severity.objects.order_by("level").values_list("level", flat=True))
        counts = {
            (row["severity__level"], row["status"]): row["n"]
            for row in Incident.objects.open().values("severity__level", "status").annotate(n=Count("pk")).order_by()
        }
        open_incidents = GaugeMetricFamily(
            "portal_incidents_open",
            "Open incidents by severity level and phase (status).",
            labels=["severity", "phase"],
        )
        for level in levels:
            for phase in Incident.OPEN_STATUSES:
                open_incidents.add_metric([str(level), phase.value], counts.get((level, phase.value), 0))
        yield open_incidents
        yield GaugeMetricFamily(
            "portal_incidents_unacknowledged",
            "Open incidents nobody has acknowledged yet (phase detected).",
            value=sum(n for (_, phase), n in counts.items() if phase == Incident.Status.DETECTED),
        )

        # 3. Status updates past due by the severity's cadence (partial index incident_open_next_update).
        yield GaugeMetricFamily(
            "portal_incidents_status_update_overdue",
            "Open incidents whose next status update is past due (next_update_due_at has passed).",
            value=Incident.objects.update_overdue(now).count(),
        )

        # 4. Post-mortem milestones past their deadline (partial index milestone_open_due).
        overdue = dict(
            Milestone.objects.overdue(now).values("kind").annotate(n=Count("pk")).order_by().values_list("kind", "n")
        )
        milestones = GaugeMetricFamily(
            "portal_postmortem_milestones_overdue",
            "Open post-mortem milestones past their deadline, by kind.",
            labels=["milestone"],
        )
        for kind in Milestone.Kind:
            milestones.add_metric([kind.value], overdue.get(kind.value, 0))
        yield milestones

        # 5. The outbox.
        outbox = outbox_summary(now)
        yield GaugeMetricFamily(
            "portal_outbox_pending_messages", "Outbox messages waiting to be sent.", outbox["pending"]
        )
        yield GaugeMetricFamily(
            "portal_outbox_failed_messages",
            "Outbox messages that failed for good (OUTBOX_MAX_ATTEMPTS reached); a person must look at them.",
            outbox["failed"],
        )
        oldest_due = outbox["oldest_due"]
        yield GaugeMetricFamily(
            "portal_outbox_oldest_pending_seconds",
            "How long the longest-waiting due outbox message has been due (0 when none is due).",
            max((now - oldest_due).total_seconds(), 0) if oldest_due else 0,
        )

        # 6. The sweeps' heartbeats.
        age = GaugeMetricFamily(
            "portal_sweep_last_success_age_seconds",
            "Seconds since each periodic sweep last finished successfully (+Inf if it never has).",
            labels=["sweep"],
        )
        interval = GaugeMetricFamily(
            "portal_sweep_interval_seconds",
            "How often beat runs each sweep (CELERY_BEAT_SCHEDULE); NaN if not at a fixed interval.",
            labels=["sweep"],
        )
        for status in sweep_statuses(now):
            age.add_metric([status.sweep], status.age.total_seconds() if status.age is not None else math.inf)
            interval.add_metric([status.sweep], status.interval.total_seconds() if status.interval else math.nan)
        yield age
        yield interval


class _Forward:
    """The process-wide registry's metrics (portal.metrics, and the process's own), inside another registry."""

    def __init__(self, registry):
        self.registry = registry

    def collect(self):
        yield from self.registry.collect()


def in_process_registry() -> CollectorRegistry:
    """The counters and histograms of portal.metrics: every worker process's, added up, in multiprocess
    mode (PROMETHEUS_MULTIPROC_DIR); otherwise this process's own, with its process metrics."""
    registry = CollectorRegistry(auto_describe=False)
    if settings.PROMETHEUS_MULTIPROC_DIR:
        multiprocess.MultiProcessCollector(registry, path=settings.PROMETHEUS_MULTIPROC_DIR)
    else:
        registry.register(_Forward(REGISTRY))
    return registry


def scrape_registry() -> CollectorRegistry:
    """Everything one /metrics answer shows."""
    registry = in_process_registry()
    registry.register(PortalCollector())
    return registry
