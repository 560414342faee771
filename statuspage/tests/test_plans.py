"""The public status page and its feed at a firm's shape: their queries explained by
PostgreSQL on a database filled the way a firm's years fill it (bench.load at a
small scale, then ANALYZE), and bounded: the same queries and at most a page's
worth of incidents however many there are.

Sequential scans are priced out while explaining (portal.testing.plan_problems),
so a "Seq Scan" that remains is a query no index can serve, however large the
table; and an index read from end to end with no LIMIT to stop it is a
whole-table read too (portal.testing.unbounded_index_scans)."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bench.load import populate
from incidents.models import Incident, IncidentType, Severity, StatusUpdate
from portal.testing import plan_problems, report_figures, unbounded_index_scans
from statuspage.selectors import CURRENT_LIMIT, FEED_ENTRIES, PAST_LIMIT
from statuspage.tests.test_views import feed_entries

pytestmark = pytest.mark.django_db

LARGE_TABLES = {
    "incidents_incident",
    "incidents_statusupdate",
    "incidents_historicalincident",
    "incidents_historicalstatusupdate",
    "statuspage_statussubscriber",
    "statuspage_broadcast",
}


@pytest.fixture
def firm(db):
    """2,000 incidents and their status updates (2 % of a firm's five years), without history rows."""
    return populate(connection, 0.02, history=False, progress=lambda line: None)


def problems_of(queries):
    return plan_problems(queries, LARGE_TABLES) + unbounded_index_scans(queries, LARGE_TABLES)


def test_status_page_and_feed_use_indexes(firm, client):
    assert StatusUpdate.objects.filter(audience="customers").count() >= 300
    problems = []
    for send in [lambda: client.get("/status/"), lambda: client.get("/status/feed/")]:
        with CaptureQueriesContext(connection) as queries:
            assert send().status_code == 200
        problems += problems_of(queries.captured_queries)
    with CaptureQueriesContext(connection) as queries:  # a refused subscription shows the page again
        assert client.post("/status/subscribe/", {"email": "not an address"}).status_code == 400
    problems += problems_of([q for q in queries.captured_queries if "incidents_" in q["sql"]])
    report_figures("status page plans", problems=len(problems))
    assert problems == [], "\n".join(problems)


def public_incidents(count, *, open_, prefix):
    """`count` incidents an hour apart (the first the newest), each with two customer
    updates whose first line names it. Bulk-written test data: no history."""
    now = timezone.now()
    incidents = Incident.objects.bulk_create(
        Incident(
            reference=f"INC-{prefix}-{i:05d}",
            title="internal",
            severity=Severity.objects.get(level=1),
            incident_type=IncidentType.objects.get(slug="other"),
            detection_source=Incident.DetectionSource.USER_REPORT,
            status=Incident.Status.INVESTIGATING if open_ else Incident.Status.RESOLVED,
            detected_at=now - timedelta(days=0 if open_ else 2, hours=i + 1),
            resolved_at=None if open_ else now - timedelta(days=2, hours=i),
        )
        for i in range(count)
    )
    StatusUpdate.objects.bulk_create(
        StatusUpdate(incident=incident, audience="customers", body=f"{prefix} {i} {k}", posted_at=posted)
        for i, incident in enumerate(incidents)
        for k, posted in enumerate([incident.detected_at, incident.detected_at + timedelta(minutes=30)])
    )


def headings(body):
    return re.findall(r"<h3>(\w+ \d+) 0 <span", body)


@pytest.mark.parametrize("count", [5, 50])
def test_status_page_shows_the_newest_incidents_in_constant_queries(client, runbook, count):
    public_incidents(count, open_=True, prefix="Now")
    public_incidents(count, open_=False, prefix="Past")

    with CaptureQueriesContext(connection) as page_queries:
        body = client.get("/status/").content.decode()
    with CaptureQueriesContext(connection) as feed_queries:
        feed = feed_entries(client.get("/status/feed/").content)

    shown = headings(body)
    assert shown == [f"Now {i}" for i in range(min(count, CURRENT_LIMIT))] + [
        f"Past {i}" for i in range(min(count, PAST_LIMIT))
    ]
    assert len(feed) == min(4 * count, FEED_ENTRIES)
    assert ("At least " in body) == (count >= CURRENT_LIMIT)
    report_figures(f"queries status page, {count} + {count} incidents", page=len(page_queries), feed=len(feed_queries))
    assert len(page_queries) == 3 and len(feed_queries) == 3  # current, past, their updates: at any size
