"""The incident pages' queries, explained by PostgreSQL on a database filled the way
a firm's years fill it (bench.load at a small scale, then ANALYZE): no page reads
a large table from end to end or sorts it, at any depth, filter or order.

Sequential scans are priced out while explaining (portal.testing.plan_problems),
so what remains is a query that no index can serve, however large the table."""

import html
import re
from urllib.parse import parse_qs

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bench.load import populate
from incidents.filters import INCIDENT_SORTS
from incidents.models import Incident, Severity, TimelineEntry
from portal.testing import plan_problems, report_figures

pytestmark = pytest.mark.django_db

LARGE_TABLES = {
    "incidents_incident",
    "incidents_incident_services",
    "incidents_timelineentry",
    "incidents_checklistitem",
    "incidents_statusupdate",
    "incidents_roleassignment",
    "incidents_historicalincident",
    "incidents_historicaltimelineentry",
    "alerts_alert",
    "postmortems_postmortem",
    "postmortems_milestone",
    "postmortems_actionitem",
    "postmortems_reminder",
    "notifications_outboxmessage",
}


@pytest.fixture
def firm(db):
    """2,000 incidents and what goes with them (2 % of a firm's five years), without history rows."""
    return populate(connection, 0.02, history=False, progress=lambda line: None)


def next_params(body: str) -> dict:
    href = re.search(r'<a href="\?([^"]*)" rel="next"', body).group(1)
    return {key: values[0] for key, values in parse_qs(html.unescape(href)).items()}


def visit(client, url, params=None):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params or {})
    assert response.status_code == 200, url
    return response, queries.captured_queries


def test_incident_pages_use_indexes_at_any_depth_filter_and_order(firm, client, responder, superuser):
    assert Incident.objects.count() >= 2000 and TimelineEntry.objects.count() >= 20000
    client.force_login(responder)
    sev2 = Severity.objects.get(level=2)
    big = Incident.objects.get(reference=firm["big_incident"])
    lists = [{"sort": sort} for sort in INCIDENT_SORTS] + [
        {"status": "open"},
        {"status": "closed", "sort": "oldest"},
        {"severity": sev2.pk},
        {"type": big.incident_type_id},
        {"service": big.services.first().pk},
        {"detected_from": "2024-01-01", "detected_to": "2024-03-31"},
        {"q": "gateway"},
        {"q": "zzzz-nothing-matches"},
    ]
    problems, pages = [], 0
    for params in lists:
        response, queries = visit(client, "/incidents/", params)
        problems += plan_problems(queries, LARGE_TABLES)
        for _ in range(3):  # a few pages deep: the cursor's seek must use the index too
            if not response.context["page"].has_next:
                break
            response, queries = visit(client, "/incidents/", next_params(response.content.decode()))
            problems += plan_problems(queries, LARGE_TABLES)
            pages += 1
    for url in ["/", big.get_absolute_url(), "/contacts/", "/runbooks/"]:
        problems += plan_problems(visit(client, url)[1], LARGE_TABLES)
    response, _ = visit(client, big.get_absolute_url())
    problems += plan_problems(
        visit(client, big.get_absolute_url(), next_params(response.content.decode()))[1], LARGE_TABLES
    )
    client.force_login(superuser)
    for params in [{}, {"q": "gateway"}, {"status__exact": "closed"}, {"p": "3"}]:
        problems += plan_problems(visit(client, "/admin/incidents/incident/", params)[1], LARGE_TABLES)
    report_figures("incident page plans", lists=len(lists), deeper_pages=pages, problems=len(problems))
    assert problems == []
