"""The pages that show the ledger run as many queries with 5 entries (or incidents) as with 50:
totals are one grouped query, for one incident or every open incident on the dashboard."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incidents.tests.factories import declare
from portal.testing import report_figures

from .factories import add, busy_ledger


def count_queries(client, url) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries), response.content.decode()


@pytest.fixture
def tom(client, other_responder):
    client.force_login(other_responder)
    return client


@pytest.mark.parametrize("page", ["incident", "ledger", "postmortem", "print"])
def test_pages_of_one_incident_do_not_grow_with_its_entries(tom, responder, other_responder, page):
    small = declare(responder, title="Small")
    big = declare(responder, title="Big")
    busy_ledger(small, responder, other_responder, 5)
    busy_ledger(big, responder, other_responder, 50)
    urls = {}
    for incident in (small, big):
        # Opened on its page: the ledger sits below postmortems and does not import it.
        assert tom.post(reverse("postmortems:open", args=[incident.reference])).status_code == 302
        urls[incident.pk] = {
            "incident": incident.get_absolute_url(),
            "ledger": reverse("ledger:incident", args=[incident.reference]),
            "postmortem": reverse("postmortems:detail", args=[incident.reference]),
            "print": reverse("postmortems:print", args=[incident.reference]),
        }[page]

    with_5, _ = count_queries(tom, urls[small.pk])
    with_50, content = count_queries(tom, urls[big.pk])

    assert with_5 == with_50
    assert "EUR" in content and "USD" in content
    report_figures(f"queries ledger {page}", entries_5=with_5, entries_50=with_50)


def test_the_dashboard_totals_every_open_incident_in_one_query(tom, responder, other_responder):
    def incidents_with_entries(n):
        for i in range(n):
            incident = declare(responder, title=f"Incident {i}", level=1 + i % 4)
            add(incident, responder, f"{i + 1}.10", "USD")
            add(incident, responder, f"{i + 1}", "JPY", request=True)

    incidents_with_entries(5)
    with_5, _ = count_queries(tom, "/")
    incidents_with_entries(45)
    with_50, content = count_queries(tom, "/")

    assert with_5 == with_50
    assert content.count('class="badge badge-impact"') == 50  # 12 or 13 of each severity: all shown
    assert "≈ JPY 1 est. · ≈ USD 1.10 est." in content
    report_figures("queries dashboard with impact", incidents_5=with_5, incidents_50=with_50)


def test_the_awaiting_panel_does_not_grow_with_the_entries(tom, responder):
    incident = declare(responder, title="Lossy")
    for i in range(5):
        add(incident, responder, f"{i + 1}", request=True)
    with_5, content_5 = count_queries(tom, "/")
    for i in range(45):
        add(incident, responder, f"{i + 1}", request=True)
    with_50, content_50 = count_queries(tom, "/")

    assert with_5 == with_50
    assert content_5.count('class="impact-awaiting"') == 5
    assert content_50.count('class="impact-awaiting"') == 20
    assert "All 50 awaiting your confirmation" in content_50
