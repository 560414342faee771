"""The search page on PostgreSQL: ranked matches of each kind with their passages, the
query syntax, what it refuses, who may search, and its query budget."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.bulk import bulk_insert
from conftest import make_user
from incidents import services
from incidents.models import Incident, IncidentType, Severity, StatusUpdate, TimelineEntry
from incidents.tests.factories import declare
from portal.testing import report_figures
from postmortems import services as postmortem_services
from search import selectors

pytestmark = pytest.mark.django_db


def search_page(client, q, status=200):
    response = client.get("/search/", {"q": q})
    assert response.status_code == status, response.content.decode()[:500]
    return response


def group(response, kind):
    """The hits of one kind, as the page got them."""
    groups = {g.kind: g for g in response.context["results"].groups}
    return groups[kind].hits


def section(body, kind):
    start = body.index(f'id="results-{kind}"')
    return body[start : body.index("</section>", start)]


def test_the_better_match_comes_first_with_the_word_marked(rclient, corpus):
    response = search_page(rclient, "gateway")

    hits = group(response, "incident")
    assert [h.reference for h in hits] == [corpus.in_title.reference, corpus.in_description.reference]
    assert hits[0].title == "Payment <mark>gateway</mark> timeouts"  # a title match outranks a description's
    assert "<mark>gateway</mark>" in hits[1].passage and "<mark>" not in hits[1].title
    body = section(response.content.decode(), "incident")
    assert body.index(corpus.in_title.reference) < body.index(corpus.in_description.reference)


def test_more_mentions_rank_higher_within_a_kind(rclient, responder, corpus):
    once = services.timeline_add_note(incident=corpus.in_title, actor=responder, text="Paged the router team.")
    twice = services.timeline_add_note(
        incident=corpus.in_title, actor=responder, text="Router restarted; the router now answers."
    )

    hits = group(search_page(rclient, "router"), "timeline")

    assert [h.passage.count("<mark>") for h in hits] == [2, 1]
    assert [h.url for h in hits] == [f"{corpus.in_title.get_absolute_url()}#timeline"] * 2
    assert once.pk != twice.pk


def test_each_kind_is_found_and_links_to_its_page(rclient, corpus):
    response = search_page(rclient, "gateway")

    timeline = group(response, "timeline")
    assert {h.reference for h in timeline} == {corpus.unrelated.reference, corpus.in_title.reference}
    note = next(h for h in timeline if h.reference == corpus.unrelated.reference)
    assert note.url == f"{corpus.unrelated.get_absolute_url()}#timeline" and note.label == "Note"
    [update] = group(response, "update")
    assert update.url == f"{corpus.in_title.get_absolute_url()}#updates"
    assert update.label == "Customers (status page) update" and "<mark>gateway</mark>" in update.passage
    [postmortem] = group(response, "postmortem")
    assert postmortem.url == corpus.postmortem.get_absolute_url()
    assert "<mark>gateway's</mark>" in postmortem.passage or "<mark>gateway</mark>" in postmortem.passage
    body = response.content.decode()
    for kind, label in [
        ("incident", "Incidents"),
        ("timeline", "Timeline entries"),
        ("update", "Status updates"),
        ("postmortem", "Post-mortems"),
    ]:
        assert f'id="results-{kind}-heading">{label}' in body
    assert f'href="{corpus.postmortem.get_absolute_url()}"' in body


def test_words_match_in_any_form(rclient, corpus):
    # "deposit" finds "deposits" (English stemming), in an update and in an incident's impact.
    response = search_page(rclient, "deposit")
    assert [h.reference for h in group(response, "update")] == [corpus.in_title.reference]
    assert [h.reference for h in group(response, "incident")] == [corpus.in_description.reference]
    assert "<mark>deposits</mark>" in group(response, "incident")[0].passage


def test_html_in_notes_is_escaped_and_only_the_match_is_marked(rclient, corpus):
    response = search_page(rclient, "pods")

    [hit] = group(response, "timeline")
    assert hit.passage == (
        "Restarted the gateway <mark>pods</mark> &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; "
        "&amp; &lt;b&gt;watched&lt;/b&gt; the queue drain"  # ts_headline ends a passage on a word
    )
    body = response.content.decode()
    assert '<script>alert("x")</script>' not in body and "<b>watched</b>" not in body


def test_a_title_with_html_is_escaped_too(rclient, responder):
    incident = declare(responder, title="<img src=x onerror=alert(1)> gateway down")

    hits = group(search_page(rclient, "gateway"), "incident")

    assert hits[0].reference == incident.reference
    assert hits[0].title == "&lt;img src=x onerror=alert(1)&gt; <mark>gateway</mark> down"


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ('"gateway pods"', {"timeline": "note"}),  # a phrase: the words side by side
        ('"pods gateway"', {}),
        ("certificate OR pods", {"timeline": "note", "postmortem": "postmortem"}),
        # The post-mortem's impact assessment starts as its incident's: "… failed deposits".
        ("gateway -checkout -deposits", {"timeline": "note"}),
        ("gateway -timeouts -pods -checkout -replace", {"postmortem": "postmortem"}),
        ("balancer certificate", {"postmortem": "postmortem"}),
    ],
)
def test_websearch_syntax_quotes_or_and_minus(rclient, corpus, q, expected):
    response = search_page(rclient, q)

    found = {g.kind: [h.url for h in g.hits] for g in response.context["results"].groups if g.hits}
    urls = {
        "note": f"{corpus.unrelated.get_absolute_url()}#timeline",
        "postmortem": corpus.postmortem.get_absolute_url(),
    }
    assert found == {kind: [urls[what]] for kind, what in expected.items()}


def test_an_empty_search_shows_how_to_search_without_querying(rclient, corpus):
    for params in [{}, {"q": ""}, {"q": "   "}]:
        with CaptureQueriesContext(connection) as ctx:
            response = rclient.get("/search/", params)
        assert response.status_code == 200
        assert response.context["results"] is None
        body = response.content.decode()
        assert 'data-testid="search-help"' in body and "&quot;error rate&quot;" not in body
        assert '"error rate"' in body and "executor OR router" in body
        assert not any("ts_rank" in q["sql"] for q in ctx.captured_queries)


@pytest.mark.parametrize(
    ("q", "message"),
    [
        ("x" * 10_000, "at most 200 characters"),
        ("gateway\x00", "Null characters are not allowed"),
        ("\x00", "Null characters are not allowed"),
    ],
)
def test_a_search_the_form_refuses_is_a_400_that_keeps_what_was_typed(rclient, corpus, q, message):
    response = search_page(rclient, q, status=400)

    body = response.content.decode()
    assert message in body
    assert response.context["form"]["q"].value() == q
    assert response.context["results"] is None


@pytest.mark.parametrize(
    ("q", "notice"),
    [
        ("-", "Nothing to search for"),
        ('!!! ||| &&& () <-> : * "" \'', "Nothing to search for"),
        ("the and of", "Nothing to search for"),
        ("OR OR OR", "Nothing to search for"),
        ("-gateway", "Add a word to look for"),
        ("-gateway OR -pods", "Add a word to look for"),
        ("nothing OR -gateway", "Add a word to look for"),
    ],
)
def test_searches_with_nothing_to_look_for_say_so(rclient, corpus, q, notice):
    response = search_page(rclient, q)

    assert notice in response.content.decode()
    assert response.context["results"].groups == []


@pytest.mark.parametrize(
    "q",
    [
        "Ω≈ç√∫˜µ≤≥÷ 🚀 \u202e gateway",
        "x" * 200,
        "a" * 199 + "é",
        "' OR 1=1 --",
        "gateway:* & !pods | (",
        "\\x00 %00 \\",
        "\ud7ff\ue000\uffff",
        "\x02gateway\x03",
        "<script>alert(1)</script>",
        "日本語のテキスト gateway",
    ],
)
def test_odd_searches_never_fail(rclient, corpus, q):
    response = search_page(rclient, q)

    assert response.context["results"] is not None
    assert "<script>alert(1)</script>" not in response.content.decode()


def test_odd_text_still_finds_the_words_it_has(rclient, corpus):
    response = search_page(rclient, "\x02gateway\x03 🚀")
    assert len(group(response, "incident")) == 2


def test_search_needs_a_login(client, corpus):
    response = client.get("/search/", {"q": "gateway"})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_search_needs_the_incident_list_permission(client, corpus):
    client.force_login(make_user("nobody"))
    assert client.get("/search/", {"q": "gateway"}).status_code == 403


def test_viewers_may_search(client, viewer, corpus):
    client.force_login(viewer)
    response = search_page(client, "gateway")
    assert {g.kind for g in response.context["results"].groups} == {"incident", "timeline", "update", "postmortem"}


def test_each_kind_needs_its_own_view_permission(client, corpus):
    user = make_user("limited")
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="incidents", codename__in=["view_incident", "view_statusupdate"]
        )
    )
    client.force_login(user)

    response = search_page(client, "gateway")

    assert [g.kind for g in response.context["results"].groups] == ["incident", "update"]
    assert "certificate" not in response.content.decode()


def test_posting_is_not_allowed(rclient):
    assert rclient.post("/search/", {"q": "gateway"}).status_code == 405


def fill(responder, n, offset=0):
    """n incidents, each with a note and a status update, and a post-mortem, all saying "failover"."""
    for i in range(offset, offset + n):
        incident = declare(responder, title=f"Failover {i} stalled", description=f"Failover number {i} stalled.")
        services.timeline_add_note(incident=incident, actor=responder, text=f"Failover {i}: replica promoted.")
        services.status_update_post(incident=incident, actor=responder, audience="internal", body=f"Failover {i} done.")
        postmortem, _ = postmortem_services.postmortem_open(incident=incident, actor=responder)
        postmortem_services.postmortem_update(postmortem=postmortem, actor=responder, primary_cause=f"Failover {i}.")


def test_queries_do_not_grow_with_matches(rclient, responder):
    def measure():
        with CaptureQueriesContext(connection) as ctx:
            response = search_page(rclient, "failover")
        return response, len(ctx.captured_queries)

    fill(responder, 5)
    five_response, five = measure()
    fill(responder, 45, offset=5)
    fifty_response, fifty = measure()

    assert [len(g.hits) for g in five_response.context["results"].groups] == [5, 10, 5, 5]
    assert [len(g.hits) for g in fifty_response.context["results"].groups] == [50, 50, 50, 50]
    assert all(g.more for g in fifty_response.context["results"].groups if g.kind == "timeline")
    report_figures("queries /search/", matches_5=five, matches_50=fifty)
    assert five == fifty


def test_a_search_that_runs_too_long_is_stopped_and_says_so(rclient, corpus, monkeypatch):
    def slow(kind, query):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(2)")

    monkeypatch.setattr(selectors, "TIMEOUT_MS", 50)
    monkeypatch.setattr(selectors, "_ranked_group", slow)

    response = search_page(rclient, "gateway")

    assert "took longer than" in response.content.decode()
    assert response.context["results"].groups == []


def test_a_database_error_other_than_the_timeout_is_not_hidden(rclient, corpus, monkeypatch):
    def broken(kind, query):
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1/0")

    monkeypatch.setattr(selectors, "_ranked_group", broken)
    with pytest.raises(Exception, match="division by zero"):
        rclient.get("/search/", {"q": "gateway"})


def test_the_header_search_box_keeps_the_search(rclient, corpus):
    body = search_page(rclient, "gateway pods").content.decode()
    assert re.search(r'<input type="search" id="top-search" name="q"[^>]*value="gateway pods"', body)


def bulk_fill(responder, n):
    """n more incidents saying "failover", each with a note and a status update: one INSERT per
    table (audit.bulk, with their history rows)."""
    severity, kind = Severity.objects.get(level=3), IncidentType.objects.first()
    incidents = bulk_insert(
        [
            Incident(
                reference=f"INC-BULK-{i:05d}",
                title=f"Failover {i} stalled",
                description=f"Failover number {i} stalled.",
                severity=severity,
                incident_type=kind,
                detection_source=Incident.DetectionSource.ALERT,
            )
            for i in range(n)
        ],
        actor=responder,
        reason="Test data",
    )
    bulk_insert(
        [
            TimelineEntry(incident=i, kind=TimelineEntry.Kind.NOTE, text=f"Failover {i.pk}: replica promoted.")
            for i in incidents
        ],
        actor=responder,
        reason="Test data",
    )
    bulk_insert(
        [StatusUpdate(incident=i, audience="internal", body=f"Failover {i.pk} done.") for i in incidents],
        actor=responder,
        reason="Test data",
    )


def test_queries_are_the_same_with_5_and_500_incidents(rclient, responder):
    fill(responder, 5)
    with CaptureQueriesContext(connection) as five:
        search_page(rclient, "failover")
    bulk_fill(responder, 495)
    with CaptureQueriesContext(connection) as five_hundred:
        response = search_page(rclient, "failover")

    assert Incident.objects.count() == 500
    assert [len(g.hits) for g in response.context["results"].groups if g.kind != "postmortem"] == [50, 50, 50]
    report_figures("queries /search/", incidents_5=len(five), incidents_500=len(five_hundred))
    assert len(five) == len(five_hundred)
