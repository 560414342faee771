"""History pages are bounded: the newest 50 rows, an "Earlier" link that continues
from a cursor, the same number of queries at any history length, and every
change still shown against its object's previous version when that version is
older than the page."""

import html
import re
from datetime import UTC, datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audit.actors import acting_as
from audit.history import PER_PAGE
from incidents import services
from incidents.history import incident_history
from incidents.models import Contact, Role, Severity
from incidents.runbook_data import GENERAL_STEPS
from portal.testing import report_figures

from .factories import declare


@pytest.fixture
def rclient(client, responder):
    client.force_login(responder)
    return client


def history_url(incident) -> str:
    return reverse("incidents:history", args=[incident.reference])


def link(response, rel: str) -> str | None:
    """The query string of the page's "Earlier" (rel=next) or "Newer" (rel=prev) link."""
    match = re.search(rf'<a href="\?([^"]*)" rel="{rel}">', response.content.decode())
    return html.unescape(match.group(1)) if match else None


def walk(client, url, rel="next", start=""):
    """Every page from `start` on, following `rel` links: [(response, query count)]."""
    pages, query = [], start
    while query is not None:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(f"{url}?{query}")
        assert response.status_code == 200
        pages.append((response, len(ctx.captured_queries)))
        query = link(response, rel)
        assert len(pages) < 100, "the links go round in circles"
    return pages


def notes(incident, actor, count, prefix="Note"):
    for i in range(count):
        services.timeline_add_note(incident=incident, actor=actor, text=f"{prefix} {i}")


def recent_changes(incident, actor, other):
    """More than a page of every kind of change (incident, roles, checklist, updates, notes):
    the newest page, whose query count is compared."""
    lead = Role.objects.get(slug="technical-lead")
    items = list(incident.checklist.order_by("id"))
    services.incident_transition(incident=incident, action="acknowledge", actor=actor)
    services.incident_change_severity(
        incident=incident, severity=Severity.objects.get(level=2), actor=actor, reason="One desk"
    )
    for i in range(12):
        services.timeline_add_note(incident=incident, actor=other, text=f"Recent {i}")
        services.status_update_post(
            incident=incident, actor=actor, audience="internal" if i % 2 else "customers", body=f"Update {i}"
        )
        services.checklist_item_set_done(item=items[i], actor=other, done=True)
        services.role_assign(incident=incident, role=lead, user=other if i % 2 else actor, actor=actor)


def test_history_page_queries_do_not_grow_with_the_notes(rclient, responder, other_responder):
    small, big = declare(responder, title="Ten notes"), declare(responder, title="Two hundred notes")
    notes(small, responder, 10)
    notes(big, responder, 200)
    recent_changes(small, responder, other_responder)
    recent_changes(big, responder, other_responder)

    small_pages = walk(rclient, history_url(small))
    big_pages = walk(rclient, history_url(big))

    first_small, first_big = small_pages[0], big_pages[0]
    assert len(first_small[0].context["entries"]) == len(first_big[0].context["entries"]) >= PER_PAGE - 5
    assert first_small[1] == first_big[1]
    # Deeper pages hold fewer kinds of change, never more queries.
    assert max(count for _, count in big_pages) == first_big[1]
    assert len(big_pages) >= 5  # 200 notes, 50 a page
    report_figures(
        "queries incident history page",
        notes_10=first_small[1],
        notes_200=first_big[1],
        pages_200=len(big_pages),
        deepest_page_200=big_pages[-1][1],
    )


def test_earlier_link_continues_with_older_entries_and_their_diffs(rclient, responder):
    incident = declare(responder)
    sev = {level: Severity.objects.get(level=level) for level in (2, 3)}
    notes(incident, responder, 60, prefix="Before")
    services.incident_change_severity(incident=incident, severity=sev[2], actor=responder, reason="Smaller")
    notes(incident, responder, 60, prefix="After")
    services.incident_change_severity(incident=incident, severity=sev[3], actor=responder, reason="Smaller still")

    pages = walk(rclient, history_url(incident))

    entries = [list(response.context["entries"]) for response, _ in pages]
    assert [len(page) for page in entries[:2]] == [PER_PAGE, PER_PAGE] and len(entries) == 3
    assert [e for page in entries for e in page] == incident_history(incident, per_page=10_000).object_list

    def severity_change(page):
        [entry] = [e for e in page if e.reason.startswith("Severity changed")]
        assert [c.label for c in entry.changes] == ["Severity", "Next update due at"]  # nothing else moved
        return entry.reason, (entry.changes[0].old, entry.changes[0].new)

    # Each diff is against the version before it, which lies on the next (older) page.
    assert severity_change(entries[0]) == ("Severity changed: Smaller still", ("Sev2 – High", "Sev3 – Medium"))
    assert severity_change(entries[1]) == ("Severity changed: Smaller", ("Sev1 – Critical", "Sev2 – High"))
    note_texts = [c.new for page in entries for e in page if e.subject == "Timeline note" for c in e.changes]
    expected = [f"After {i}" for i in reversed(range(60))] + [f"Before {i}" for i in reversed(range(60))]
    assert [t for t in note_texts if t.startswith(("After", "Before"))] == expected
    checklist = [e.label for e in entries[2] if e.subject == "Checklist"]
    assert checklist == [f"{len(GENERAL_STEPS) + 13} items from the runbook"]
    body = pages[1][0].content.decode()
    assert "Sev1 – Critical" in body and ">After 10<" in body and ">After 11<" not in body
    # And back: the "Newer" link from the second page shows the first page again.
    newer = rclient.get(f"{history_url(incident)}?{link(pages[1][0], 'prev')}")
    assert newer.context["entries"] == entries[0]


def test_pages_keep_every_entry_once_when_rows_share_an_instant(rclient, responder, other_responder):
    # A frozen clock gives every history row of every table the same history_date:
    # the order then rests on the source's rank and the history_id alone.
    with time_machine.travel(datetime(2026, 3, 3, 12, 0, tzinfo=UTC), tick=False):
        incident = declare(responder)
        notes(incident, responder, 30)
        recent_changes(incident, responder, other_responder)

        whole = incident_history(incident, per_page=10_000).object_list
        forward = walk(rclient, history_url(incident))
        backward = walk(rclient, history_url(incident), rel="prev", start=link(forward[-2][0], "next"))

    assert len(forward) == 3
    assert [e for response, _ in forward for e in response.context["entries"]] == whole
    assert [e for response, _ in reversed(backward) for e in response.context["entries"]] == whole


def test_a_stale_or_edited_cursor_shows_the_newest_page(rclient, incident):
    newest = rclient.get(history_url(incident)).context["entries"]
    for query in ["after=garbage", "before=2026-03-03T12:00:00~99~1", "after=2026-03-03T12:00:00~1~1e9", "after=~~"]:
        response = rclient.get(f"{history_url(incident)}?{query}")
        assert response.status_code == 200
        assert response.context["entries"] == newest


def test_past_the_oldest_entry_the_page_offers_the_way_back(rclient, incident):
    response = rclient.get(f"{history_url(incident)}?after=2000-01-01T00:00:00%2B00:00~0~1")
    body = response.content.decode()
    assert response.context["entries"] == []
    assert "No earlier changes." in body and "⇤ First" in body and 'rel="next"' not in body


def test_object_history_pages_through_a_long_history(rclient, responder):
    contact = Contact.objects.get(name="CTO")
    url = reverse("incidents:object_history", args=["contact", contact.pk])
    for i in range(60):
        with acting_as(responder, f"Edit {i}"):
            contact.phone = f"+1-555-{i:04d}"
            contact.save()
    short = walk(rclient, url)
    for i in range(60, 120):
        with acting_as(responder, f"Edit {i}"):
            contact.phone = f"+1-555-{i:04d}"
            contact.save()
    long = walk(rclient, url)

    assert short[0][1] == long[0][1]
    assert len(long) == 3
    oldest_on_first = long[0][0].context["entries"][-1]
    assert oldest_on_first.reason == "Edit 70"
    assert [(c.old, c.new) for c in oldest_on_first.changes] == [("+1-555-0069", "+1-555-0070")]
    second = long[1][0].context["entries"]
    assert [e.reason for e in second] == [f"Edit {i}" for i in reversed(range(20, 70))]
    assert [(c.old, c.new) for c in second[-1].changes] == [("+1-555-0019", "+1-555-0020")]
