"""Stalled incidents: investigation past its target and no timeline activity, chased once per period."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conftest import make_user
from incidents import services, stalls, tasks
from incidents.models import Incident, IncidentType, Role, Severity, TimelineEntry
from notifications.models import OutboxMessage
from portal.testing import report_figures

T0 = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


@pytest.fixture
def at(time_machine):
    """Move the clock to T0 + minutes."""

    def move(minutes):
        time_machine.move_to(T0 + timedelta(minutes=minutes), tick=False)

    move(0)
    return move


def declare(actor, level=1, title="Signal backlog"):
    return services.incident_declare(
        actor=actor,
        title=title,
        severity=Severity.objects.get(level=level),
        incident_type=IncidentType.objects.get(slug="signal-processing-delay"),
        detection_source=Incident.DetectionSource.MANUAL_CHECK,
    )


def notices(incident=None):
    rows = OutboxMessage.objects.filter(key__startswith="stalled:").order_by("id")
    if incident is not None:
        rows = rows.filter(key__startswith=f"stalled:{incident.pk}:")
    return [(key.split(":", 2)[2], recipients) for key, recipients in rows.values_list("key", "recipients")]


def test_no_activity_reminds_at_the_period_start_then_escalates_a_period_later(responder, at):
    incident = declare(responder)  # Sev1: chased after an hour without activity; nobody holds a role yet

    at(59)
    assert tasks.chase_stalled_incidents() == 0
    at(61)
    assert tasks.chase_stalled_incidents() == 1
    assert tasks.chase_stalled_incidents() == 0  # a second run (or a second beat) sends nothing
    at(119)
    assert tasks.chase_stalled_incidents() == 0  # the reminder did not restart the clock, nor is it due again
    at(121)
    assert tasks.chase_stalled_incidents() == 2  # still stalled a period later: reminded again and escalated
    assert tasks.chase_stalled_incidents() == 0

    assert notices(incident) == [
        ("no-activity:reminder:20261127T040000", ["rita@example.com"]),  # the initial responder: no role held
        ("no-activity:reminder:20261127T050000", ["rita@example.com"]),
        ("no-activity:escalation:20261127T050000", ["ic@snippingbot.com"]),
    ]
    reminder = OutboxMessage.objects.get(key__endswith="reminder:20261127T040000")
    assert "has stalled since 2026-11-27 04:00" in reminder.body_text
    assert "Nothing has been recorded on its timeline for 1 h" in reminder.body_text
    outreach = incident.timeline.filter(kind=TimelineEntry.Kind.OUTREACH).order_by("id")
    assert [(e.author.username, e.data["notice"]) for e in outreach] == [
        ("system", "reminder"),
        ("system", "reminder"),
        ("system", "escalation"),
    ]
    assert outreach.first().history.get().history_change_reason == "Stalled incident chased"


def test_activity_restarts_the_clock_and_the_portals_own_entries_do_not(responder, at):
    incident = declare(responder)
    at(16)
    assert tasks.escalate_unacknowledged() == 1  # the portal's event on the timeline is not activity
    at(50)
    services.timeline_add_note(incident=incident, actor=responder, text="Backlog draining slowly")

    at(65)
    assert tasks.chase_stalled_incidents() == 0  # quiet for 15 minutes only
    at(111)
    assert tasks.chase_stalled_incidents() == 1
    assert notices(incident) == [("no-activity:reminder:20261127T045000", ["rita@example.com"])]


def test_a_backdated_note_counts_when_it_was_written(responder, at):
    incident = declare(responder)
    at(70)
    services.timeline_add_note(
        incident=incident, actor=responder, text="What we saw at 03:05", occurred_at=T0 + timedelta(minutes=5)
    )

    assert tasks.chase_stalled_incidents() == 0


def test_investigation_past_its_target_reminds_commander_and_technical_lead(responder, other_responder, at):
    incident = declare(responder)
    services.role_assign(
        incident=incident, role=Role.objects.get(slug=Role.INCIDENT_COMMANDER), user=responder, actor=responder
    )
    services.role_assign(
        incident=incident, role=Role.objects.get(slug=Role.TECHNICAL_LEAD), user=other_responder, actor=responder
    )
    services.incident_transition(incident=incident, action="investigate", actor=responder)
    for minutes in range(30, 121, 30):  # busy: a note every half hour, never quiet
        at(minutes)
        services.timeline_add_note(incident=incident, actor=other_responder, text=f"Still looking ({minutes})")

    at(119)
    assert tasks.chase_stalled_incidents() == 0
    at(121)  # the investigation target (2 hours from detection) has passed
    assert tasks.chase_stalled_incidents() == 1
    at(181)  # a period (Sev1: 1 hour) later, still investigating
    services.timeline_add_note(incident=incident, actor=other_responder, text="Trying a restart")
    assert tasks.chase_stalled_incidents() == 2

    assert notices(incident) == [
        ("investigation:reminder:20261127T050000", ["rita@example.com", "tom@example.com"]),
        ("investigation:reminder:20261127T060000", ["rita@example.com", "tom@example.com"]),
        ("investigation:escalation:20261127T060000", ["ic@snippingbot.com", "rita@example.com"]),
    ]
    reminder = OutboxMessage.objects.get(key__endswith="investigation:reminder:20261127T050000")
    assert "Rita Responder and Tom Tech" in reminder.body_text
    assert "investigation past its target" in reminder.subject

    at(185)
    services.incident_transition(incident=incident, action="mitigate", actor=responder)
    at(241)
    assert tasks.chase_stalled_incidents() == 0  # resolving now, and active a minute ago


def test_resolved_incidents_and_severities_without_a_stall_period_are_not_chased(responder, at):
    resolved = declare(responder, title="Resolved one")
    services.incident_transition(incident=resolved, action="acknowledge", actor=responder)
    services.incident_transition(incident=resolved, action="resolve", actor=responder, note="Verified")
    Severity.objects.filter(level=4).update(stall_after=None)  # test setup: reference data
    declare(responder, level=4, title="Never chased")

    at(60 * 48)
    assert tasks.chase_stalled_incidents() == 0


def test_the_sweep_runs_the_same_queries_for_3_or_30_stalled_incidents(responder, at, settings):
    settings.STALL_SWEEP_BATCH = 100
    counts = []
    for size in (3, 30):
        at(0)
        for n in range(size):
            declare(responder, title=f"Batch {size} #{n}")
        at(61 + size)  # each batch's own period
        with CaptureQueriesContext(connection) as captured:
            queued = stalls.chase_stalled_incidents()
        assert queued == size
        counts.append(len(captured))
        OutboxMessage.objects.filter(key__startswith="stalled:").delete()  # test setup for the next size
        Incident.objects.all().update(status=Incident.Status.CLOSED)  # test setup: out of the next sweep
    report_figures("stall sweep queries", incidents_3=counts[0], incidents_30=counts[1])
    assert counts[0] == counts[1]


def test_the_sweep_reads_open_incidents_and_their_timelines_through_indexes(responder, at):
    from portal.testing import plan_problems

    declare(responder)
    at(61)
    with CaptureQueriesContext(connection) as captured:
        assert stalls.chase_stalled_incidents() == 1

    assert plan_problems(captured.captured_queries, ["incidents_incident", "incidents_timelineentry"]) == []


def test_incident_page_says_it_has_stalled(client, responder, at):
    incident = declare(responder)
    client.force_login(responder)
    from conftest import verify_second_factor

    verify_second_factor(client, responder)
    body = client.get(incident.get_absolute_url()).content.decode()
    assert 'data-testid="stalled"' not in body
    at(75)
    body = client.get(incident.get_absolute_url()).content.decode()
    assert "Stalled: no activity since 15" in body


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_queue_each_notice_exactly_once(runbook, settings):
    """Two sweeps over the same 40 stalled incidents on PostgreSQL at the same moment, in small batches."""
    if connection.vendor != "postgresql":
        pytest.fail("Concurrency needs PostgreSQL (make test sets DATABASE_URL).")
    settings.STALL_SWEEP_BATCH = 3
    from audit.actors import system_user

    system_user()
    owner = make_user("olga", "Responders", first_name="Olga", last_name="Owner")
    import time_machine

    with time_machine.travel(T0, tick=False):
        incidents = [declare(owner, title=f"Race {n}") for n in range(40)]
    now = T0 + timedelta(minutes=150)  # each: a reminder and an escalation due
    barrier = threading.Barrier(2)
    results, errors = [], []

    def sweep():
        try:
            barrier.wait()
            results.append(stalls.chase_stalled_incidents(now=now))
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    keys = list(OutboxMessage.objects.filter(key__startswith="stalled:").values_list("key", flat=True))
    outreach = TimelineEntry.objects.filter(kind=TimelineEntry.Kind.OUTREACH).count()
    report_figures("stall sweeps at once", queued_a=results[0], queued_b=results[-1], keys=len(keys))
    assert errors == []
    assert sum(results) == len(keys) == len(set(keys)) == 2 * len(incidents) == outreach
