"""The list, detail and dashboard pages run the same number of queries with 5
rows as with 50: no query per incident, timeline entry or update."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents import services
from incidents.models import Role
from portal.testing import report_figures

from .factories import declare


def count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def busy_incidents(actor, other, n):
    """n open incidents, each with a role holder and a status update, some moved on."""
    commander = Role.objects.get(slug="incident-commander")
    created = []
    for i in range(n):
        incident = declare(actor, title=f"Incident {i}", level=1 + i % 4)
        services.role_assign(incident=incident, role=commander, user=actor if i % 2 else other, actor=actor)
        services.status_update_post(incident=incident, actor=actor, audience="internal", body=f"Update {i}")
        if i % 3 == 0:
            services.incident_transition(incident=incident, action="acknowledge", actor=actor)
        created.append(incident)
    return created


def busy_timeline(incident, actor, other, n):
    tl = Role.objects.get(slug="technical-lead")
    items = list(incident.checklist.all())
    for i in range(n):
        services.timeline_add_note(incident=incident, actor=actor, text=f"Note {i}")
        services.status_update_post(
            incident=incident, actor=actor, audience="internal" if i % 2 else "customers", body=f"Update {i}"
        )
        services.checklist_item_set_done(item=items[i % len(items)], actor=actor, done=True)
        services.role_assign(incident=incident, role=tl, user=other if i % 2 else actor, actor=actor)  # hand-offs


@pytest.fixture
def rclient(client, responder):
    client.force_login(responder)
    return client


@pytest.mark.parametrize("url", ["/", "/incidents/", "/incidents/?status=open&service=1&sort=severity&q=Incident"])
def test_dashboard_and_list_queries_do_not_grow_with_incidents(rclient, responder, other_responder, url):
    busy_incidents(responder, other_responder, 5)
    with_5 = count_queries(rclient, url)
    busy_incidents(responder, other_responder, 45)
    with_50 = count_queries(rclient, url)
    assert with_5 == with_50
    report_figures(f"queries {url}", incidents_5=with_5, incidents_50=with_50)


def test_incident_page_queries_do_not_grow_with_its_timeline(rclient, responder, other_responder):
    small = declare(responder, title="Small")
    big = declare(responder, title="Big")
    busy_timeline(small, responder, other_responder, 5)
    busy_timeline(big, responder, other_responder, 50)
    assert big.timeline.count() >= 150
    with_5 = count_queries(rclient, small.get_absolute_url())
    with_50 = count_queries(rclient, big.get_absolute_url())
    assert with_5 == with_50
    report_figures("queries incident page", rows_5=with_5, rows_50=with_50)
