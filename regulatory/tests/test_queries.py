"""The pages that show report clocks run as many queries with 5 clocks as with 50: the incident
page's panel, the list of open reports, one clock's page, and the post-mortem's verdicts."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from incidents.services import status_update_post
from incidents.tests.factories import declare
from portal.testing import report_figures
from regulatory import services
from regulatory.models import ReportClock

from .factories import obligation

pytestmark = pytest.mark.django_db


def count_queries(client, url) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(ctx.captured_queries), response.content.decode()


@pytest.fixture
def rita(client, responder):
    client.force_login(responder)
    return client


def incident_with_clocks(responder, count, title):
    """An incident owing `count` reports (obligations named after it), half of them submitted."""
    for i in range(count):
        due_after = timedelta(hours=1 + i)
        obligation(f"{title} report {i}", levels=(), type_slugs=["risk-control-block"], due_after=due_after)
    incident = declare(responder, level=2, title=title, type_slug="risk-control-block")
    status_update_post(incident=incident, actor=responder, audience="regulators", body="What we told them")
    for clock in ReportClock.objects.filter(incident=incident)[: count // 2]:
        services.report_submit(
            clock=clock, actor=responder, submitted_at=timezone.now(), regulator_reference="R", text="x"
        )
    return incident


@pytest.mark.parametrize("page", ["incident", "postmortem"])
def test_pages_of_one_incident_do_not_grow_with_its_clocks(rita, responder, page):
    small = incident_with_clocks(responder, 5, "Small")
    big = incident_with_clocks(responder, 50, "Big")
    urls = {}
    for incident in (small, big):
        assert rita.post(reverse("postmortems:open", args=[incident.reference])).status_code == 302
        urls[incident.pk] = {
            "incident": incident.get_absolute_url(),
            "postmortem": reverse("postmortems:detail", args=[incident.reference]),
        }[page]
    with_5, _ = count_queries(rita, urls[small.pk])
    with_50, content = count_queries(rita, urls[big.pk])
    assert content.count("Big report ") >= 50
    assert with_5 == with_50
    report_figures(f"queries regulatory {page}", clocks_5=with_5, clocks_50=with_50)


def test_the_list_and_a_clock_page_do_not_grow_with_the_clocks(rita, responder):
    obligation("Initial notification", levels=(1,))
    for i in range(5):
        declare(responder, level=1, title=f"Few {i}")
    few, _ = count_queries(rita, reverse("regulatory:list"))
    for i in range(45):
        declare(responder, level=1, title=f"Many {i}")
    many, content = count_queries(rita, reverse("regulatory:list"))
    assert content.count('class="reg-row') == 50
    assert few == many
    clock = ReportClock.objects.latest("id")
    one, _ = count_queries(rita, reverse("regulatory:clock", args=[clock.pk]))
    assert one <= 12
    report_figures("queries regulatory list", clocks_5=few, clocks_50=many, clock_page=one)
