"""The "waiting for your approval" reads walk the partial index of pending requests in
their order: no sort, no scan of every request ever made."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from approvals import selectors
from approvals.models import ApprovalRequest
from portal.testing import explained, plan_nodes

from .test_views import four_eyes_requests


def plans(queries):
    return explained(queries, "enable_seqscan", "enable_sort")


@pytest.fixture
def waiting(responder):
    if connection.vendor != "postgresql":
        pytest.fail(f"Query plans are PostgreSQL's; the database is {connection.vendor} (make test sets DATABASE_URL).")
    return four_eyes_requests(12, responder)


def test_the_dashboard_and_list_read_the_pending_index_in_order(waiting, other_responder):
    with CaptureQueriesContext(connection) as ctx:
        selectors.waiting_for(other_responder)
        first = selectors.decidable_page(other_responder, {}, per_page=5)
        selectors.decidable_page(other_responder, {"after": first.next_cursor}, per_page=5)
    reads = [q for q in ctx.captured_queries if "approvals_approvalrequest" in q["sql"]]
    assert len(reads) == 4

    for sql, plan in plans(reads):
        nodes = list(plan_nodes(plan))
        assert not any(node["Node Type"] == "Sort" for node in nodes), sql
        scans = [node for node in nodes if node.get("Relation Name") == "approvals_approvalrequest"]
        assert [node.get("Index Name") for node in scans] == ["approval_pending_newest"], (sql, scans)


def test_an_incidents_requests_read_its_index(waiting, responder):
    incident = waiting[0].incident
    with CaptureQueriesContext(connection) as ctx:
        selectors.incident_requests(incident)
    [(sql, plan)] = plans(ctx.captured_queries)

    scans = [node for node in plan_nodes(plan) if node.get("Relation Name") == "approvals_approvalrequest"]
    assert [node.get("Index Name") for node in scans] == ["approval_incident_newest"]
    assert ApprovalRequest.objects.filter(incident=incident).count() == 1
