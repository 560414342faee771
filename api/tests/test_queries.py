"""Each list endpoint runs the same number of queries with 5 rows as with 50, and so
does each detail: nothing is read per row."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents import services
from incidents.models import Contact, Role
from incidents.tests.factories import declare
from portal.testing import report_figures
from postmortems.models import ActionItem
from postmortems.services import action_item_verify, postmortem_open
from postmortems.tests.factories import action_item, mark_done, postmortems_via_service


def count_queries(api, url) -> int:
    api.get(url)  # first, so that the token's last use (written once a minute) is not counted
    with CaptureQueriesContext(connection) as ctx:
        response = api.get(url)
    assert response.status_code == 200, response.content[:300]
    return len(ctx.captured_queries)


def same_with_5_and_50(api, url, add):
    """add(n) adds n rows; the query count for `url` must not change from 5 to 50 rows."""
    add(5)
    with_5 = count_queries(api, url)
    add(45)
    with_50 = count_queries(api, url)
    report_figures(f"api queries {url}", rows_5=with_5, rows_50=with_50)
    return with_5, with_50


@pytest.mark.parametrize(
    "query", ["", "?status=open&service=executor&sort=severity&q=Incident", "?sort=title&limit=200", "?sort=oldest"]
)
def test_the_incident_list(rita, responder, other_responder, query):
    commander = Role.objects.get(slug="incident-commander")

    def add(n):
        for i in range(n):
            incident = declare(responder, title=f"Incident {i}", level=1 + i % 4)
            services.role_assign(incident=incident, role=commander, user=other_responder, actor=responder)

    with_5, with_50 = same_with_5_and_50(rita, f"/api/v1/incidents/{query}", add)
    assert with_5 == with_50


def test_an_incidents_timeline_updates_and_detail(rita, responder, other_responder):
    incident = declare(responder)
    tl = Role.objects.get(slug="technical-lead")

    handoffs = iter(range(10_000))

    def add(n):
        for i in range(n):
            services.timeline_add_note(incident=incident, actor=responder if i % 2 else other_responder, text=f"N{i}")
            services.status_update_post(incident=incident, actor=responder, audience="internal", body=f"U{i}")
            holder = other_responder if next(handoffs) % 2 else responder
            services.role_assign(incident=incident, role=tl, user=holder, actor=responder)

    for path in ("timeline/", "updates/", ""):
        incident_url = f"/api/v1/incidents/{incident.reference}/{path}"
        add(5)
        with_5 = count_queries(rita, incident_url)
        add(45)
        with_50 = count_queries(rita, incident_url)
        assert with_5 == with_50, path


def test_the_post_mortem_list(rita, responder, incident):
    first = postmortem_open(incident=incident, actor=responder)[0]

    def add(n):
        postmortems_via_service(n, responder, prefix=f"Q{add.calls}")
        for _ in range(n):
            action_item(first, responder, due_in=timedelta(days=2))
        add.calls += 1

    add.calls = 0
    with_5, with_50 = same_with_5_and_50(rita, "/api/v1/postmortems/?owner=me", add)
    assert with_5 == with_50


def test_the_post_mortem_detail_does_not_grow_with_its_action_items(rita, responder, incident):
    postmortem = postmortem_open(incident=incident, actor=responder)[0]
    url = f"/api/v1/postmortems/{incident.reference}/"

    with_5, with_50 = same_with_5_and_50(
        rita, url, lambda n: [action_item(postmortem, responder, title=f"A{i}") for i in range(n)]
    )
    assert with_5 == with_50


@pytest.mark.parametrize("view", ["all", "mine", "overdue", "to_verify", "mine_to_verify"])
def test_the_action_item_list(rita, responder, other_responder, incident, view):
    postmortem = postmortem_open(incident=incident, actor=responder)[0]

    def add(n):
        for i in range(n):
            owner = responder if i % 2 else other_responder
            item = action_item(postmortem, owner, due_in=timedelta(days=1))
            if i % 3 == 0:
                ActionItem.objects.filter(pk=item.pk).update(due_at=timezone.now() - timedelta(days=1))  # test data
            elif i % 3 == 1:
                mark_done(item, owner)  # awaiting verification

    with_5, with_50 = same_with_5_and_50(rita, f"/api/v1/action-items/?view={view}", add)
    assert with_5 == with_50


def test_an_action_items_people_are_read_with_it(rita, responder, other_responder, incident):
    postmortem = postmortem_open(incident=incident, actor=responder)[0]
    plain = action_item(postmortem, responder, category=ActionItem.Category.LONG_TERM)
    verified = mark_done(action_item(postmortem, responder), responder)
    action_item_verify(item=verified, actor=other_responder, note="Checked the dashboard")

    # Owner, closer and verifier of the verified one come in the same query as the item.
    assert count_queries(rita, f"/api/v1/action-items/{verified.pk}/") == count_queries(
        rita, f"/api/v1/action-items/{plain.pk}/"
    )


def test_the_contact_list(rita):
    role = Role.objects.first()

    def add(n):
        start = Contact.objects.count()
        for i in range(start, start + n):
            Contact.objects.create(name=f"Contact {i}", category="team", phone=f"+1-555-{i:04d}", role=role)

    with_5, with_50 = same_with_5_and_50(rita, "/api/v1/contacts/", add)
    assert with_5 == with_50
