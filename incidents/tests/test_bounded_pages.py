"""Pages that would grow with the data show a bounded part of it and a way to the
rest: the dashboard's groups, an incident's timeline and its status updates."""

import html
import re
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
from django.utils import timezone

from incidents import selectors, services
from incidents.models import Incident, Severity, TimelineEntry

from .factories import declare

pytestmark = pytest.mark.django_db


@pytest.fixture
def rclient(client, responder):
    client.force_login(responder)
    return client


def link_params(body: str, rel: str) -> dict:
    href = re.search(rf'<a href="\?([^"#]*)(?:#\w+)?" rel="{rel}"', body).group(1)
    return {key: values[0] for key, values in parse_qs(html.unescape(href)).items()}


def test_the_dashboard_caps_each_severity_and_links_to_the_rest(rclient, responder, monkeypatch):
    monkeypatch.setattr(selectors, "DASHBOARD_CAP", 3)
    monkeypatch.setattr(selectors.dashboard_open_groups, "__defaults__", (3,))
    oldest = [declare(responder, title=f"Sev2 {i}", level=2, minutes_ago=100 - i) for i in range(5)]
    declare(responder, title="Sev1 alone", level=1)
    response = rclient.get("/")
    groups = {group.severity.level: group for group in response.context["groups"]}
    assert [i.title for i in groups[2].incidents] == [i.title for i in oldest[:3]]  # the longest-open first
    assert groups[2].count == 5 and groups[1].count == 1
    assert response.context["open_count"] == 6
    sev2 = Severity.objects.get(level=2)
    body = response.content.decode()
    assert f"?status=open&amp;severity={sev2.pk}&amp;sort=oldest" in body and "All 5 open Sev2 incidents" in body
    assert "All 1 open Sev1" not in body


def test_the_dashboard_lists_the_most_overdue_updates_and_counts_them_all(rclient, responder, monkeypatch):
    monkeypatch.setattr(selectors.update_overdue, "__defaults__", (2,))
    incidents = [declare(responder, title=f"Late {i}", level=1) for i in range(3)]
    now = timezone.now()
    for minutes, incident in zip([50, 10, 30], incidents, strict=True):
        Incident.objects.filter(pk=incident.pk).update(next_update_due_at=now - timedelta(minutes=minutes))
    response = rclient.get("/")
    assert [i.title for i in response.context["update_overdue"]] == ["Late 0", "Late 2"]
    assert response.context["update_overdue_count"] == 3
    assert "3 overdue in all; the 2 most overdue are shown." in response.content.decode()


def test_the_incident_page_shows_the_latest_timeline_with_earlier_pages(rclient, responder, monkeypatch):
    monkeypatch.setattr(selectors, "TIMELINE_PAGE", 4)
    incident = declare(responder, minutes_ago=60)
    base = incident.detected_at
    for i in range(9):
        services.timeline_add_note(
            incident=incident, actor=responder, text=f"Note {i}", occurred_at=base + timedelta(minutes=i + 1)
        )
    everything = list(TimelineEntry.objects.filter(incident=incident).order_by("occurred_at", "id"))
    response = rclient.get(incident.get_absolute_url())
    assert response.context["timeline"] == everything[-4:]  # the latest, oldest first
    seen = response.context["timeline"]
    while response.context["timeline_page"].has_next:
        response = rclient.get(incident.get_absolute_url(), link_params(response.content.decode(), "next"))
        seen = response.context["timeline"] + seen
    assert seen == everything
    later = rclient.get(incident.get_absolute_url(), link_params(response.content.decode(), "prev"))
    assert later.context["timeline"] == everything[-8:-4]  # the page after the earliest one
    assert "Latest entries" in later.content.decode()


def test_the_incident_page_shows_the_latest_status_updates(rclient, responder, monkeypatch):
    monkeypatch.setattr(selectors.latest_status_updates, "__defaults__", (3,))
    monkeypatch.setattr(selectors, "UPDATES_SHOWN", 3)
    incident = declare(responder)
    for i in range(5):
        services.status_update_post(incident=incident, actor=responder, audience="internal", body=f"Update {i}")
    response = rclient.get(incident.get_absolute_url())
    assert [u.body for u in response.context["status_updates"]] == ["Update 4", "Update 3", "Update 2"]
    assert "every update is also in the timeline" in response.content.decode()
