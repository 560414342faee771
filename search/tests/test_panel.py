"""The incident page's "Similar incidents": same type or a shared service, titles alike
(trigram similarity), most alike first, at most five, with their post-mortems' root causes."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from conftest import make_user
from incidents.models import Service
from incidents.tests.factories import declare
from portal.testing import report_figures
from postmortems import services as postmortem_services
from search import selectors
from search.panels import similar_incidents_panel

pytestmark = pytest.mark.django_db

TITLE = "Executor failing to land trades"


def on(*slugs):
    return Service.objects.filter(slug__in=slugs)


def similar_panel(client, incident) -> str:
    response = client.get(incident.get_absolute_url())
    assert response.status_code == 200
    body = response.content.decode()
    start = body.index('<div id="similar">')
    return body[start : body.index("</div>", start)]


def references(panel: str) -> list[str]:
    return re.findall(r'<span class="ref">([^<]+)</span>', panel)


def with_cause(incident, actor, cause):
    postmortem, _ = postmortem_services.postmortem_open(incident=incident, actor=actor)
    postmortem_services.postmortem_update(postmortem=postmortem, actor=actor, primary_cause=cause)


@pytest.fixture
def neighbours(responder):
    """The incident, and others: alike and related, alike but unrelated, related but unalike."""
    incident = declare(responder, title=TITLE, services=on("executor"))
    twin = declare(responder, title=TITLE, services=on("database"), minutes_ago=60)  # same type
    cousin = declare(
        responder, title="Executor failing to land trades on mainnet", type_slug="other"
    )  # shares executor
    near = declare(responder, title="Executor failing to land orders", services=on("risk"), minutes_ago=30)
    declare(responder, title=TITLE, type_slug="other", services=on("database"))  # alike, but unrelated
    declare(responder, title="Database disk full", services=on("executor"))  # related, but unalike
    with_cause(twin, responder, "A **stale** gas oracle <script>x</script> priced every trade too low.")
    postmortem_services.postmortem_open(incident=near, actor=responder)  # opened, cause not written yet
    return incident, twin, cousin, near


def test_similar_incidents_are_related_and_most_alike_first(client, responder, neighbours):
    incident, twin, cousin, near = neighbours
    client.force_login(responder)

    panel = similar_panel(client, incident)

    assert references(panel) == [twin.reference, cousin.reference, near.reference]
    assert incident.reference not in references(panel)


def test_each_shows_its_root_cause_escaped(client, responder, neighbours):
    incident, twin, cousin, near = neighbours
    client.force_login(responder)

    panel = similar_panel(client, incident)

    items = dict(zip(references(panel), panel.split('<li class="similar-incident">')[1:], strict=True))
    assert "A **stale** gas oracle &lt;script&gt;x&lt;/script&gt; priced every trade too low." in items[twin.reference]
    assert "not written yet" in items[near.reference]
    assert "no post-mortem" in items[cousin.reference]
    assert f'href="{twin.get_absolute_url()}"' in items[twin.reference]


def test_at_most_five_are_shown(client, responder):
    incident = declare(responder, title=TITLE)
    for i in range(8):
        declare(responder, title=f"{TITLE} {i}")
    client.force_login(responder)

    assert len(references(similar_panel(client, incident))) == 5


def test_a_lone_incident_says_it_has_none(client, responder):
    incident = declare(responder, title="Quasar alignment drift")
    client.force_login(responder)
    assert "No incident of the same type or on the same services has a similar title." in similar_panel(
        client, incident
    )


def test_root_causes_need_the_postmortem_permission(responder, neighbours):
    incident, twin, *_ = neighbours
    reader = make_user("reader")
    reader.user_permissions.add(Permission.objects.get(codename="view_incident"))
    request = RequestFactory().get("/")
    request.user = reader

    panel = similar_incidents_panel(None, request=request, incident=incident)

    assert panel.context["show_root_causes"] is False
    assert not hasattr(panel.context["similar"][0], "root_cause")


def test_no_panel_without_trigram_search(responder, neighbours, monkeypatch):
    monkeypatch.setattr(selectors, "full_text_available", lambda: False)
    request = RequestFactory().get("/")
    request.user = responder
    assert similar_incidents_panel(None, request=request, incident=neighbours[0]) is None


def test_the_panel_costs_one_query_however_many_are_alike(client, responder):
    incident = declare(responder, title=TITLE)
    client.force_login(responder)

    def measure(count, start):
        for i in range(start, start + count):
            other = declare(responder, title=f"{TITLE} {i}")
            with_cause(other, responder, f"Cause {i}")
        with CaptureQueriesContext(connection) as ctx:
            panel = similar_panel(client, incident)
        assert len(references(panel)) == 5
        return len(ctx.captured_queries), [q["sql"] for q in ctx.captured_queries if "SIMILARITY(" in q["sql"]]

    five, similar_five = measure(5, 0)
    fifty, similar_fifty = measure(45, 5)
    report_figures("queries incident page with similar incidents", similar_5=five, similar_50=fifty)
    assert five == fifty
    assert len(similar_five) == len(similar_fifty) == 1


def test_an_incident_without_services_finds_those_of_its_type(client, responder):
    incident = declare(responder, title=TITLE, services=Service.objects.none())
    twin = declare(responder, title=TITLE, services=Service.objects.none())
    declare(responder, title=TITLE, type_slug="other")
    client.force_login(responder)

    assert references(similar_panel(client, incident)) == [twin.reference]
