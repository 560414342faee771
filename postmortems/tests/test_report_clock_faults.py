"""Fault tests for regulatory report clocks' reminders, which the post-mortems' deadline sweep sends: two sweeps
at once, and a worker killed mid-sweep then replaced, and every due overdue notice still reaches the
SMTP server exactly once. Real processes (see portal.tests.processes), real PostgreSQL, Redis
and SMTP; each test prints its figures."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.actors import system_user
from conftest import make_user
from incidents.models import Role, RoleAssignment
from notifications.models import OutboxMessage
from portal.testing import report_figures, wait_until
from portal.tests import processes as proc
from postmortems.models import Reminder
from postmortems.tasks import enforce_deadlines
from postmortems.tests.factories import bare_incidents
from regulatory.models import ReportClock
from regulatory.tests.factories import obligation


def due_report_clocks(count, *, commander, overdue_by=timedelta(minutes=1), prefix="R", name="Due report"):
    """`count` incidents, `commander` their Incident Commander, whose report clock passed its deadline
    `overdue_by` ago, with every reminder row the service would create. Bulk-written: setup for the
    fault tests (no history)."""
    found = obligation(name, levels=(1,), due_after=timedelta(hours=4), escalate_after=timedelta(days=1))
    now = timezone.now()
    due_at = now - overdue_by
    incidents = bare_incidents(count, prefix=prefix)
    role = Role.objects.get(slug=Role.INCIDENT_COMMANDER)
    RoleAssignment.objects.bulk_create([RoleAssignment(incident=i, role=role, user=commander) for i in incidents])
    clocks = ReportClock.objects.bulk_create(
        [
            ReportClock(incident=i, obligation=found, started_at=due_at - found.due_after, due_at=due_at)
            for i in incidents
        ]
    )
    Reminder.objects.bulk_create(
        [
            Reminder(report_clock=c, kind=kind, due_at=at)
            for c in clocks
            for kind, at in (
                ("before", c.due_at - found.remind_before),
                ("overdue", c.due_at),
                ("escalation", c.due_at + found.escalate_after),
            )
        ]
    )
    return clocks


pytestmark = [pytest.mark.fault, pytest.mark.django_db(transaction=True)]

EXACTLY_ONCE = {"duplicates": 0, "missing": 0}


@pytest.fixture
def commander(runbook):
    system_user()  # created up front: the processes below would otherwise race to create it
    return make_user("cora", "Responders", first_name="Cora", last_name="Commander")


@pytest.fixture
def running(redis_broker_url):
    with proc.started(redis_broker_url) as processes:
        yield processes


def due_overdue_notices(count, commander, prefix):
    due_report_clocks(count, commander=commander, prefix=prefix)
    reminders = Reminder.objects.filter(kind="overdue", report_clock__isnull=False, status="pending")
    return {f"postmortems:reminder:{pk}" for pk in reminders.values_list("pk", flat=True)}


def assert_all_recorded(expected_keys):
    assert Reminder.objects.filter(report_clock__isnull=False, kind="overdue", status="queued").count() == len(
        expected_keys
    )
    assert OutboxMessage.objects.filter(key__in=expected_keys, status="sent").count() == len(expected_keys)


def test_two_sweeps_at_once_over_500_overdue_reports_send_500_emails(
    commander, smtp_server, redis_broker_url, running, tmp_path
):
    expected = due_overdue_notices(500, commander, "S")
    env = proc.environment(broker_url=redis_broker_url, smtp_port=smtp_server.port, POSTMORTEM_SWEEP_BATCH=20)
    sweeps = [proc.enforce_deadlines(name, env, tmp_path) for name in ("sweep-a", "sweep-b")]
    running.extend(sweeps)
    for sweep in sweeps:
        assert sweep.wait(timeout=150) == 0, sweep.log()
    proc.settle(smtp_server, 1)

    figures = proc.tally(smtp_server, expected)
    outputs = [" / ".join(line for line in s.log().splitlines() if line.startswith("Reminders")) for s in sweeps]
    report_figures("regulatory two sweeps", **figures, sweep_a=outputs[0], sweep_b=outputs[1])
    assert figures == {"sent": 500, "expected": 500, "distinct": 500, **EXACTLY_ONCE}
    assert_all_recorded(expected)


@pytest.mark.worker
def test_a_worker_killed_mid_sweep_then_replaced_sends_every_report_reminder_once(
    commander, smtp_server, redis_broker_url, running, tmp_path
):
    expected = due_overdue_notices(300, commander, "K")
    env = proc.environment(broker_url=redis_broker_url, smtp_port=smtp_server.port, POSTMORTEM_SWEEP_BATCH=5)
    first = proc.worker("worker-1", env, tmp_path, pool="solo")
    running.append(first)

    enforce_deadlines.apply_async()
    wait_until(lambda: Reminder.objects.filter(kind="overdue", status="queued").count() >= 60, 90)
    first.kill()
    queued_at_kill = Reminder.objects.filter(kind="overdue", status="queued").count()
    received_at_kill = len(smtp_server.messages)
    assert queued_at_kill < len(expected), "the sweep finished before the kill; the test proved nothing"

    running.append(proc.worker("worker-2", env, tmp_path))
    running.append(proc.beat("beat", env, tmp_path))
    wait_until(lambda: proc.tally(smtp_server, expected)["distinct"] == len(expected), 120, interval=0.5)
    proc.settle(smtp_server)
    figures = proc.tally(smtp_server, expected)

    report_figures("regulatory SIGKILL mid-sweep", **figures, queued_at_kill=queued_at_kill, received=received_at_kill)
    assert figures == {"sent": 300, "expected": 300, "distinct": 300, **EXACTLY_ONCE}
    assert_all_recorded(expected)
