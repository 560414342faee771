"""The printable post-mortem: everything on one page, laid out for paper."""

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from conftest import make_user
from portal.testing import report_figures
from postmortems import services
from postmortems.models import Milestone
from postmortems.tests.factories import action_item

pytestmark = pytest.mark.django_db


def print_url(postmortem):
    return reverse("postmortems:print", args=[postmortem.incident.reference])


@pytest.fixture
def written(postmortem, responder, commander):
    """A post-mortem with every deliverable written, its meeting held and two action items."""
    deliverables = {name: f"The **{name.replace('_', ' ')}** text." for name in postmortem.DELIVERABLE_FIELDS}
    deliverables["primary_cause"] = "A stale gas oracle. <script>alert(1)</script>"
    postmortem = services.postmortem_update(postmortem=postmortem, actor=responder, **deliverables)
    meeting = postmortem.milestones.get(kind=Milestone.Kind.MEETING)
    services.postmortem_complete_milestone(
        milestone=meeting,
        actor=responder,
        notes="Walked through the *timeline*.",
        meeting_held_at=postmortem.clock_started_at,
        attendees=[responder, commander],
    )
    action_item(
        postmortem,
        commander,
        title="Pin the RPC endpoint",
        description="Use the **private** endpoint.",
        implementation_timeline="Week 1: staging; week 2: production.",
        success_metric="No reverts for 30 days",
    )
    action_item(postmortem, responder, title="Alert on oracle age")
    return postmortem


def test_the_print_page_shows_every_deliverable_milestone_and_action_item(client, viewer, written):
    client.force_login(viewer)

    response = client.get(print_url(written))

    assert response.status_code == 200
    body = response.content.decode()
    assert 'href="/static/css/print.css"' in body and '<nav aria-label="Main">' not in body
    assert f"Post-mortem: {written.incident.reference} {written.incident.title}" in body
    for heading in ["Milestones", "Incident summary", "Root cause analysis", "Corrective actions", "Follow-up items"]:
        assert f"<h2>{heading}</h2>" in body
    for label in ["Timeline of events", "Impact assessment", "Primary cause", "Preventive measures"]:
        assert f"<h3>{label}</h3>" in body
    assert "<strong>impact assessment</strong>" in body  # Markdown rendered
    assert "<script>alert(1)</script>" not in body
    for kind in Milestone.Kind.labels:
        assert kind in body
    assert "Walked through the <em>timeline</em>." in body
    assert "Rita Responder" in body and "Cora Commander" in body
    for text in [
        "Pin the RPC endpoint",
        "Use the <strong>private</strong> endpoint.",
        "Week 1: staging; week 2: production.",
        "No reverts for 30 days",
        "Alert on oracle age",
    ]:
        assert text in body


def test_the_postmortem_page_links_to_its_print_page(client, viewer, written):
    client.force_login(viewer)
    body = client.get(written.get_absolute_url()).content.decode()
    assert f'<a href="{print_url(written)}">Print</a>' in body


def test_print_css_lays_the_page_out_for_paper(client):
    from django.contrib.staticfiles import finders

    with open(finders.find("css/print.css"), encoding="utf-8") as sheet:
        css = sheet.read()
    assert "@media print" in css and "@page" in css and "break-inside: avoid" in css


def test_the_print_page_needs_a_login_and_the_permission(client, written):
    response = client.get(print_url(written))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    reader = make_user("reader")
    reader.user_permissions.add(Permission.objects.get(codename="view_incident"))
    client.force_login(reader)
    assert client.get(print_url(written)).status_code == 403
    assert client.post(print_url(written)).status_code in {403, 405}


def test_an_unknown_reference_is_404(client, viewer, written):
    client.force_login(viewer)
    assert client.get(reverse("postmortems:print", args=["INC-1999-0001"])).status_code == 404


def test_print_page_queries_do_not_grow_with_action_items(client, responder, commander, written):
    client.force_login(responder)
    url = print_url(written)

    def measure():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    from postmortems.tests.test_views import items_in_every_state

    items_in_every_state(written, responder, commander, 3, "Item")  # with the two above: five
    five = measure()
    items_in_every_state(written, responder, commander, 45, "More")
    fifty = measure()
    report_figures("queries post-mortem print page", action_items_5=five, action_items_50=fifty)
    assert five == fifty
