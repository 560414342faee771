"""The Insights page runs the same number of queries with 5 incidents in its period as with
500 (and their updates, post-mortems, milestones and action items), and PostgreSQL serves
each of its queries from indexes bounded by the period on a database filled the way a
firm's years fill it (bench.load), with no whole-table read."""

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.bulk import bulk_insert
from bench.load import populate
from incidents.models import Incident, IncidentType, Service, Severity, StatusUpdate
from portal.testing import plan_problems, report_figures, unbounded_index_scans
from postmortems.models import ActionItem, Milestone, PostMortem

from .conftest import NOW

LARGE_TABLES = {
    "incidents_incident",
    "incidents_incident_services",
    "incidents_statusupdate",
    "postmortems_postmortem",
    "postmortems_milestone",
    "postmortems_actionitem",
}
QUERIES = ["", "?period=365", "?period=90&severity={sev1}&type={type}&service={service}"]
# On bench.load's data (2,000 incidents over five years): a year, and a year narrowed to a few dozen.
FIRM_QUERIES = ["?period=365", "?period=30", "?period=365&severity={sev3}&service={service}"]


def many_incidents(actor, count: int, now) -> list[Incident]:
    """`count` resolved incidents in the 28 days before `now`, each with three status updates, a
    post-mortem with its three milestones (the meeting done) and two action items: one INSERT
    per table (audit.bulk, with their history rows)."""
    severities = list(Severity.objects.order_by("level"))
    types = list(IncidentType.objects.all())
    reason = "Test data"
    incidents = []
    for i in range(count):
        detected = now - timedelta(days=28) + timedelta(minutes=80 * i)
        incidents.append(
            Incident(
                reference=f"INC-BULK-{i:05d}",
                title=f"Bulk incident {i}",
                severity=severities[i % len(severities)],
                incident_type=types[i % len(types)],
                detection_source=Incident.DetectionSource.ALERT,
                status=Incident.Status.RESOLVED,
                detected_at=detected,
                acknowledged_at=detected + timedelta(minutes=3 + i % 20),
                investigating_at=detected + timedelta(minutes=10 + i % 30),
                mitigating_at=detected + timedelta(minutes=60 + i % 90) if i % 2 else None,
                resolved_at=detected + timedelta(minutes=100 + i % 300),
            )
        )
    bulk_insert(incidents, actor=actor, reason=reason)
    # The service links have no history rows here: test data, read only by the filter.
    links = Incident.services.through
    service_ids = list(Service.objects.values_list("pk", flat=True))
    links.objects.bulk_create(
        [links(incident=incident, service_id=service_ids[n % len(service_ids)]) for n, incident in enumerate(incidents)]
    )
    bulk_insert(
        [
            StatusUpdate(
                incident=incident,
                audience="internal",
                body="Update",
                posted_at=incident.detected_at + timedelta(minutes=25 * k + n % 40),
            )
            for n, incident in enumerate(incidents)
            for k in (1, 2, 3)
        ],
        actor=actor,
        reason=reason,
    )
    postmortems = bulk_insert(
        [PostMortem(incident=incident, clock_started_at=incident.resolved_at) for incident in incidents],
        actor=actor,
        reason=reason,
    )
    bulk_insert(
        [
            Milestone(
                postmortem=pm,
                kind=kind,
                due_at=pm.clock_started_at + due,
                completed_at=pm.clock_started_at + timedelta(hours=20 + n % 10) if kind == "meeting" else None,
                completed_by=actor if kind == "meeting" else None,
                meeting_held_at=pm.clock_started_at + timedelta(hours=19) if kind == "meeting" else None,
            )
            for n, pm in enumerate(postmortems)
            for kind, due in (
                ("meeting", timedelta(days=1)),
                ("analysis", timedelta(days=7)),
                ("preventive", timedelta(days=30)),
            )
        ],
        actor=actor,
        reason=reason,
    )
    bulk_insert(
        [
            ActionItem(
                postmortem=pm,
                title=f"Action {k}",
                owner=actor,
                due_at=pm.clock_started_at + timedelta(days=5 * k + n % 30),
                status=ActionItem.Status.DONE if k == 1 else ActionItem.Status.OPEN,
                closed_at=pm.clock_started_at + timedelta(days=2) if k == 1 else None,
            )
            for n, pm in enumerate(postmortems)
            for k in (1, 2)
        ],
        actor=actor,
        reason=reason,
    )
    return incidents


def visit(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return response, captured.captured_queries


def urls(queries=QUERIES):
    ids = {
        "sev3": Severity.objects.get(level=3).pk,
        "sev1": Severity.objects.get(level=1).pk,
        "type": IncidentType.objects.get(slug="trade-execution-failure").pk,
        "service": Service.objects.get(slug="executor").pk,
    }
    return ["/insights/" + query.format(**ids) for query in queries]


def test_the_page_costs_the_same_queries_with_5_and_500_incidents(client, responder, story):
    client.force_login(responder)
    with time_machine.travel(NOW, tick=False):
        client.get("/insights/")  # a first request caches the reader's time zone
        small = {url: visit(client, url) for url in urls()}
        many_incidents(responder, 495, NOW)
        large = {url: visit(client, url) for url in urls()}
    assert small["/insights/"][0].context["figures"].summary.total == 5
    assert large["/insights/"][0].context["figures"].summary.total == 500
    for url in small:
        assert len(small[url][1]) == len(large[url][1]), url
        report_figures(f"queries {url}", incidents_5=len(small[url][1]), incidents_500=len(large[url][1]))


@pytest.fixture
def firm(db):
    """2,000 incidents over five years with their updates, post-mortems, milestones and action
    items (2 % of a firm's), without history rows; ANALYZEd."""
    return populate(connection, 0.02, history=False, progress=lambda line: None)


def test_every_query_is_bounded_by_the_period_and_served_by_indexes(client, responder, firm):
    client.force_login(responder)
    for url in urls(FIRM_QUERIES):
        response, queries = visit(client, url)
        assert response.context["figures"].summary.total > 0, url
        assert plan_problems(queries, LARGE_TABLES) == [], url
        assert unbounded_index_scans(queries, LARGE_TABLES) == [], url
