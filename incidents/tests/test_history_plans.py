"""The incident history page's queries, as PostgreSQL plans them on a seeded
database: served by indexes, never by reading or sorting a whole history table.

Every query the first and second pages run is EXPLAINed after ANALYZE with
sequential scans switched off, so a Seq Scan left in a plan means no index can
serve that query at all; the stricter check prices sorts out too, so a Sort left
in a plan means no index gives the page its order."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incidents import services
from incidents.models import ChecklistItem, Incident, RoleAssignment, StatusUpdate, TimelineEntry
from portal.testing import explained, plan_nodes, plan_problems

from .factories import declare
from .test_history_pages import link, recent_changes

# The tables that grow with the firm's history (8 million history rows in the measured portal).
LARGE = {
    "incidents_incident",
    "incidents_timelineentry",
    "incidents_historicalincident",
    "incidents_historicalincident_services",
    "incidents_historicalroleassignment",
    "incidents_historicalchecklistitem",
    "incidents_historicalstatusupdate",
    "incidents_historicaltimelineentry",
}

# An incident's or object's rows picked out by a Filter, not by an index condition.
OBJECT_FILTER = re.compile(r"\b(?:incident_id|id) = ")


def copies(record, count, **changes):
    """`count` copies of a historical row, an hour apart going back, with `changes`
    (a callable value gets the copy's number). Bulk rows, for the planner's statistics."""
    model = type(record)
    values = {f.attname: getattr(record, f.attname) for f in model._meta.concrete_fields if not f.primary_key}
    rows = []
    for n in range(count):
        row = values | {key: value(n) if callable(value) else value for key, value in changes.items()}
        row["history_date"] = record.history_date - timedelta(hours=n + 1)
        rows.append(model(**row))
    return rows


def seed(incident):
    """A few thousand history rows of other incidents around this one's, and a long history of its own."""
    others = lambda n: 100_000 + n % 500  # noqa: E731 (500 other incidents' ids)
    objects = lambda n: 1_000_000 + n // 2  # noqa: E731 (two versions of each object)
    # Rows without an incident_id change are the incident's own.
    tables = [
        (Incident, {"id": others}, 3000),
        (Incident, {}, 300),
        (RoleAssignment, {"incident_id": others, "id": objects}, 2000),
        (RoleAssignment, {"id": objects}, 300),
        (ChecklistItem, {"incident_id": others, "id": objects}, 4000),
        (ChecklistItem, {"id": objects, "history_type": "~"}, 300),
        (StatusUpdate, {"incident_id": others, "id": objects}, 2000),
        (StatusUpdate, {"id": objects}, 300),
        (TimelineEntry, {"incident_id": others, "id": objects, "kind": lambda n: "note" if n % 4 else "alert"}, 8000),
        (TimelineEntry, {"id": objects, "kind": lambda n: "note" if n % 3 else "alert"}, 3000),
    ]
    for model, changes, count in tables:
        history = model.history.filter(incident_id=incident.pk) if model is not Incident else incident.history
        template = history.order_by("history_date").first()
        model.history.model.objects.bulk_create(copies(template, count, **changes), batch_size=2000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def page_queries(client, incident) -> list[str]:
    """The SQL of the history page's first page and of the page its "Earlier" link leads to."""
    url = reverse("incidents:history", args=[incident.reference])
    with CaptureQueriesContext(connection) as first:
        response = client.get(url)
    with CaptureQueriesContext(connection) as second:
        assert client.get(f"{url}?{link(response, 'next')}").status_code == 200
    return [q["sql"] for q in first.captured_queries + second.captured_queries]


@pytest.fixture
def history_queries(client, responder, other_responder):
    if connection.vendor != "postgresql":
        pytest.fail(f"Query plans are PostgreSQL's; the database is {connection.vendor} (make test sets DATABASE_URL).")
    incident = declare(responder)
    for i in range(60):
        services.timeline_add_note(incident=incident, actor=responder, text=f"Note {i}")
    recent_changes(incident, responder, other_responder)
    seed(incident)
    client.force_login(responder)
    sqls = page_queries(client, incident)
    assert sum(any(table in sql for table in LARGE) for sql in sqls) >= 12  # the page's own queries, both pages
    return sqls


def test_history_page_reads_no_history_table_whole(history_queries):
    scans = [
        (node["Relation Name"], sql[:200])
        for sql, plan in explained(history_queries, "enable_seqscan")
        for node in plan_nodes(plan)
        if node["Node Type"] == "Seq Scan" and node.get("Relation Name") in LARGE
    ]
    assert scans == []


def test_history_page_reads_each_history_in_index_order(history_queries):
    found = plan_problems(history_queries, LARGE)
    # With sorts priced out as well, a Sort left in a plan is one that no index order can replace; and a plan
    # that avoids it by walking the history_date index, filtering rows by incident as it goes, reads every
    # other incident's history too.
    for sql, plan in explained(history_queries, "enable_seqscan", "enable_sort"):
        for node in plan_nodes(plan):
            if node["Node Type"] == "Sort":
                found += [
                    ("Sort", scan["Relation Name"], sql[:200])
                    for scan in plan_nodes(node)
                    if scan.get("Relation Name") in LARGE
                ]
            elif node.get("Relation Name") in LARGE and OBJECT_FILTER.search(node.get("Filter", "")):
                found.append(("Filter", node["Relation Name"], node["Filter"]))
    assert found == []
