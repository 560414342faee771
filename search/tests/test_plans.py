"""The search's queries, explained by PostgreSQL on a database filled the way a firm's
years fill it (bench.load at a small scale, then ANALYZE): each kind is found through its
GIN index, the similar incidents through the title's trigram index, and nothing reads a
large table whole or sorts it.

Sequential scans are priced out while explaining (portal.testing), so what remains is what
no index can serve at any size. At this scale a sequential scan can be the honest choice for
a word in most rows; the bench runs the same queries on a firm's full size."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bench.load import populate
from incidents.models import Incident, TimelineEntry
from portal.testing import explained, plan_nodes, plan_problems, report_figures, unbounded_index_scans
from portal.tests.test_plans import LARGE_TABLES

pytestmark = pytest.mark.django_db

SEARCH_INDEXES = {"incident_search", "timelineentry_search", "statusupdate_search", "postmortem_search"}
QUERIES = [
    "gateway",  # in a fifth of the titles, a thousand timeline entries and most post-mortems
    "checked",
    '"error rate"',
    "executor OR router",
    "canary -region",
    "zzzz-nothing-matches",
]


@pytest.fixture
def firm(db):
    """2,000 incidents and what goes with them (2 % of a firm's five years), without history rows."""
    return populate(connection, 0.02, history=False, progress=lambda line: None)


def visit(client, url, params=None):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params or {})
    assert response.status_code == 200, url
    return response, queries.captured_queries


def indexes_used(queries) -> set[str]:
    """The indexes that the plans of `queries` read, sequential scans priced out."""
    return {
        node["Index Name"]
        for _, plan in explained(queries, "enable_seqscan")
        for node in plan_nodes(plan)
        if "Index Name" in node
    }


def test_search_reads_each_kind_through_its_gin_index(firm, client, responder):
    assert Incident.objects.count() >= 2000 and TimelineEntry.objects.count() >= 20000
    client.force_login(responder)
    problems, searched = [], 0
    for q in QUERIES:
        response, queries = visit(client, "/search/", {"q": q})
        assert response.context["results"].notice == ""
        ranking = [query for query in queries if "ts_rank(" in query["sql"]]
        assert len(ranking) == len(SEARCH_INDEXES), q
        assert set(SEARCH_INDEXES) <= indexes_used(ranking), q
        problems += plan_problems(queries, LARGE_TABLES) + unbounded_index_scans(queries, LARGE_TABLES)
        searched += 1
    report_figures("search plans", searches=searched, problems=len(problems))
    assert problems == []


def test_a_common_word_is_ranked_within_the_first_thousand_found(firm, client, responder):
    client.force_login(responder)
    response, queries = visit(client, "/search/", {"q": "checked"})  # in 40 % of 20,000 timeline entries
    [ranking] = [q["sql"] for q in queries if "ts_rank(" in q["sql"] and "incidents_timelineentry" in q["sql"]]
    assert ranking.rstrip().endswith("LIMIT 1000")
    timeline = next(g for g in response.context["results"].groups if g.kind == "timeline")
    assert len(timeline.hits) == 50 and timeline.more


def test_similar_incidents_use_the_title_trigram_index(firm, client, responder):
    client.force_login(responder)
    incident = Incident.objects.get(reference=firm["big_incident"])
    _, queries = visit(client, incident.get_absolute_url())
    similar = [q for q in queries if "SIMILARITY(" in q["sql"]]
    assert len(similar) == 1
    assert "incident_title_trgm" in indexes_used(similar)
    assert plan_problems(similar, LARGE_TABLES) == []
    assert unbounded_index_scans(similar, LARGE_TABLES) == []
