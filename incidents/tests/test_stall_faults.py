"""Fault test of the stalled-incident sweep: a real Celery worker killed mid-sweep, another
worker and a beat started, and every due reminder and escalation reaches the SMTP server
exactly once. Prints its figures (sent, expected, duplicates)."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from audit.actors import system_user
from conftest import make_user
from incidents import services
from incidents.models import Incident, IncidentType, Severity, TimelineEntry
from incidents.tasks import chase_stalled_incidents
from notifications.models import OutboxMessage
from portal.testing import report_figures, wait_until
from portal.tests import processes as proc

pytestmark = [pytest.mark.fault, pytest.mark.django_db(transaction=True)]

INCIDENTS = 150


@pytest.fixture
def owner(runbook):
    system_user()  # created up front: the processes below would otherwise race to create it
    return make_user("olga", "Responders", first_name="Olga", last_name="Owner")


@pytest.fixture
def running(redis_broker_url):
    with proc.started(redis_broker_url) as processes:
        yield processes


def stalled_incidents(count, owner) -> set[str]:
    """`count` Sev1 incidents quiet for 5.5 hours: each owes a reminder and an escalation for the period
    that began half an hour ago (well clear of a period boundary while the test runs)."""
    severity = Severity.objects.get(level=1)
    kind = IncidentType.objects.get(slug="other")
    now = timezone.now()
    with time_machine.travel(now - timedelta(hours=5, minutes=30), tick=False):
        incidents = [
            services.incident_declare(
                actor=owner,
                title=f"Quiet {n}",
                severity=severity,
                incident_type=kind,
                detection_source=Incident.DetectionSource.MANUAL_CHECK,
            )
            for n in range(count)
        ]
    keys = set()
    for incident in incidents:
        first = incident.detected_at + severity.stall_after
        period_start = first + severity.stall_after * ((now - first) // severity.stall_after)
        for notice in ("reminder", "escalation"):
            keys.add(f"stalled:{incident.pk}:no-activity:{notice}:{period_start:%Y%m%dT%H%M%S}")
    return keys


def test_a_worker_killed_mid_stall_sweep_then_restarted_sends_every_notice_once(
    owner, smtp_server, redis_broker_url, running, tmp_path
):
    expected = stalled_incidents(INCIDENTS, owner)
    # Small batches: many short transactions, so the kill lands between and inside them.
    env = proc.environment(
        broker_url=redis_broker_url, smtp_port=smtp_server.port, STALL_SWEEP_BATCH=2, STALL_SWEEP_SECONDS=1
    )
    first = proc.worker("worker-1", env, tmp_path, pool="solo")
    running.append(first)

    chase_stalled_incidents.apply_async()
    wait_until(lambda: OutboxMessage.objects.filter(key__startswith="stalled:").count() >= 40, 90)
    first.kill()
    queued_at_kill = OutboxMessage.objects.filter(key__startswith="stalled:").count()
    received_at_kill = len(smtp_server.messages)
    assert queued_at_kill < len(expected), "the sweep finished before the kill; the test proved nothing"

    running.append(proc.worker("worker-2", env, tmp_path))
    running.append(proc.beat("beat", env, tmp_path))
    running.append(proc.beat("beat-2", env, tmp_path))  # two beats: the sweep runs twice at once
    wait_until(lambda: proc.tally(smtp_server, expected)["distinct"] == len(expected), 180, interval=0.5)
    proc.settle(smtp_server)
    figures = proc.tally(smtp_server, expected)

    report_figures("stall sweep SIGKILL", **figures, queued_at_kill=queued_at_kill, received_at_kill=received_at_kill)
    total = 2 * INCIDENTS
    assert figures == {"sent": total, "expected": total, "distinct": total, "duplicates": 0, "missing": 0}
    assert OutboxMessage.objects.filter(key__in=expected, status="sent").count() == total
    # One outreach entry per notice on the timelines, none lost nor doubled by the kill.
    assert (
        TimelineEntry.objects.filter(kind=TimelineEntry.Kind.OUTREACH, data__outbox__in=list(expected)).count() == total
    )
