"""The pages: who may see and change what, what they show, and their query budgets."""

from datetime import timedelta

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from incidents import panels
from incidents.models import Incident
from portal.testing import report_figures
from postmortems.models import ActionItem, Milestone, PostMortem
from postmortems.tests.factories import action_item, mark_done, postmortems_via_service


def items_in_every_state(postmortem, owner, verifier, count, prefix):
    """`count` action items of `owner`'s: open preventive measures, ones awaiting verification, ones
    verified by `verifier`, and other kinds, in turn."""
    from postmortems import services

    for i in range(count):
        kind = i % 4
        item = action_item(
            postmortem, owner, title=f"{prefix} {i}", category="long_term" if kind == 3 else "preventive"
        )
        if kind in (1, 2):
            mark_done(item, owner)
        if kind == 2:
            services.action_item_verify(item=item, actor=verifier, note="Checked")


def pages(postmortem, item):
    reference = postmortem.incident.reference
    return [
        reverse("postmortems:list"),
        reverse("postmortems:list") + "?overdue=1&milestone=meeting&owner=me",
        reverse("postmortems:detail", args=[reference]),
        reverse("postmortems:export", args=[reference]),
        reverse("postmortems:actions"),
        reverse("postmortems:actions") + "?view=mine",
        reverse("postmortems:actions") + "?view=overdue",
        reverse("postmortems:actions") + "?view=to_verify",
        reverse("postmortems:actions") + "?view=mine_to_verify",
    ]


def writes(postmortem, item):
    reference = postmortem.incident.reference
    return [
        (reverse("postmortems:edit", args=[reference]), {"primary_cause": "x"}),
        (reverse("postmortems:open", args=[reference]), {}),
        (reverse("postmortems:milestone_complete", args=[reference, "analysis"]), {}),
        (reverse("postmortems:action_create", args=[reference]), {"title": "x"}),
        (reverse("postmortems:action_edit", args=[item.pk]), {"title": "x"}),
        (reverse("postmortems:action_status", args=[item.pk]), {"status": "done"}),
        (reverse("postmortems:action_verify", args=[item.pk]), {"note": "x"}),
        (reverse("postmortems:action_send_back", args=[item.pk]), {"reason": "x"}),
    ]


def test_anonymous_visitors_are_sent_to_log_in(client, postmortem, commander):
    item = action_item(postmortem, commander)
    responses = [(url, client.get(url)) for url in pages(postmortem, item)]
    responses += [(url, client.post(url, data)) for url, data in writes(postmortem, item)]
    for url, response in responses:
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url
    assert not ActionItem.objects.filter(title="x").exists()


def test_viewers_read_every_page_but_cannot_write(client, viewer, postmortem, commander):
    item = action_item(postmortem, commander)
    client.force_login(viewer)
    for url in pages(postmortem, item):
        assert client.get(url).status_code == 200, url
    for url, data in writes(postmortem, item):
        assert client.post(url, data).status_code == 403, url
    assert not client.get(reverse("postmortems:detail", args=[postmortem.incident.reference])).context["can_change"]
    item.refresh_from_db()
    assert item.status == "open" and item.title != "x"


def test_a_responder_opens_a_postmortem_from_the_incident(client, responder, incident):
    client.force_login(responder)

    response = client.post(reverse("postmortems:open", args=[incident.reference]))

    postmortem = PostMortem.objects.get(incident=incident)
    assert response.status_code == 302
    assert response["Location"] == postmortem.get_absolute_url()
    assert postmortem.history.first().history_user == responder


def test_a_responder_edits_the_deliverables(client, responder, postmortem, commander):
    client.force_login(responder)
    url = reverse("postmortems:edit", args=[postmortem.incident.reference])
    assert client.get(url).status_code == 200

    response = client.post(
        url, {"owner": commander.pk, "participants": [responder.pk], "primary_cause": "Stale **gas** oracle"}
    )

    assert response.status_code == 302
    postmortem.refresh_from_db()
    assert postmortem.primary_cause == "Stale **gas** oracle"
    assert list(postmortem.participants.all()) == [responder]
    assert postmortem.history.first().history_change_reason == "Post-mortem edited"
    page = client.get(postmortem.get_absolute_url()).content.decode()
    assert "Stale <strong>gas</strong> oracle" in page


def test_a_responder_completes_the_meeting_from_the_page(client, responder, postmortem, commander):
    client.force_login(responder)
    url = reverse("postmortems:milestone_complete", args=[postmortem.incident.reference, "meeting"])
    page = client.get(postmortem.get_absolute_url()).content.decode()
    assert f'action="{url}"' in page
    assert 'id="id_meeting_notes"' in page and 'id="id_analysis_notes"' in page  # one form per milestone

    client.post(url, {"attendees": [commander.pk]})  # no time: refused
    assert not postmortem.milestones.get(kind="meeting").is_complete
    held = (timezone.now() - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(url, {"meeting_held_at": held, "attendees": [commander.pk, responder.pk]})

    assert response.status_code == 302
    meeting = postmortem.milestones.get(kind="meeting")
    assert meeting.completed_by == responder
    assert set(meeting.attendees.all()) == {commander, responder}


def test_incomplete_analysis_shows_why_it_cannot_be_completed(client, responder, postmortem):
    client.force_login(responder)
    url = reverse("postmortems:milestone_complete", args=[postmortem.incident.reference, "analysis"])

    response = client.post(url, {}, follow=True)

    assert "Fill in the analysis first: Response effectiveness, Primary cause" in response.content.decode()


def test_a_responder_adds_and_defers_an_action_item(client, responder, postmortem, commander):
    client.force_login(responder)
    due = (timezone.now() + timedelta(days=10)).strftime("%Y-%m-%dT%H:%M")
    client.post(
        reverse("postmortems:action_create", args=[postmortem.incident.reference]),
        {"title": "Alert on RPC error rate", "category": "long_term", "owner": commander.pk, "due_at": due},
    )
    item = ActionItem.objects.get(title="Alert on RPC error rate")
    assert item.reminders.count() == 3

    status_url = reverse("postmortems:action_status", args=[item.pk])
    client.post(status_url, {"status": "deferred"})
    assert ActionItem.objects.get(pk=item.pk).status == "open"
    client.post(status_url, {"status": "deferred", "deferred_reason": "Waiting on the vendor"})
    item.refresh_from_db()
    assert (item.status, item.closed_by) == ("deferred", responder)


def test_markdown_is_rendered_without_scripts(client, viewer, postmortem, commander):
    from postmortems import services

    services.postmortem_update(
        postmortem=postmortem,
        actor=commander,
        primary_cause='<script>alert("x")</script>*Stale* [oracle](javascript:alert(1)) <img src=x onerror=alert(2)>',
    )
    client.force_login(viewer)

    page = client.get(postmortem.get_absolute_url()).content.decode()

    assert "<em>Stale</em>" in page
    assert "<script>alert" not in page
    assert "javascript:" not in page
    assert "onerror" not in page


def test_export_is_markdown_with_every_section(client, viewer, postmortem, commander):
    action_item(postmortem, commander, title="Pin the RPC endpoint", success_metric="No reverts for 30 days")
    client.force_login(viewer)

    response = client.get(reverse("postmortems:export", args=[postmortem.incident.reference]))

    text = response.content.decode()
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert text.startswith(f"# Post-mortem: {postmortem.incident.reference}")
    for heading in ["## Milestones", "## Incident summary", "## Root cause analysis", "## Corrective actions"]:
        assert heading in text
    assert "### Pin the RPC endpoint" in text and "- Success metric: No reverts for 30 days" in text


def _queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_list_page_queries_do_not_grow_with_rows(client, responder):
    client.force_login(responder)
    postmortems_via_service(5, responder, prefix="A")
    five = _queries(client, reverse("postmortems:list"))
    postmortems_via_service(45, responder, prefix="B")
    fifty = _queries(client, reverse("postmortems:list"))
    report_figures("queries /postmortems/", rows_5=five, rows_50=fifty)
    assert five == fifty


def test_detail_page_queries_do_not_grow_with_action_items(client, responder, postmortem, other_responder, commander):
    """Rita may verify Tom's measures: the page shows her the Verify and Send back forms of those awaiting."""
    client.force_login(responder)
    url = postmortem.get_absolute_url()
    items_in_every_state(postmortem, other_responder, commander, 5, "Item")
    five = _queries(client, url)
    export_five = _queries(client, reverse("postmortems:export", args=[postmortem.incident.reference]))
    items_in_every_state(postmortem, other_responder, commander, 45, "More")
    fifty = _queries(client, url)
    assert client.get(url).content.decode().count('class="pm-verify"') == 12  # one per measure awaiting
    assert export_five == _queries(client, reverse("postmortems:export", args=[postmortem.incident.reference]))
    report_figures("queries post-mortem page", action_items_5=five, action_items_50=fifty)
    assert five == fifty


def test_action_items_page_queries_do_not_grow_with_rows(client, responder, other_responder, commander):
    client.force_login(responder)
    postmortems = postmortems_via_service(2, responder)
    items_in_every_state(postmortems[0], other_responder, commander, 3, "Item")
    items_in_every_state(postmortems[1], other_responder, commander, 2, "Item")
    views = ["", "?view=to_verify", "?view=mine_to_verify"]
    five = [_queries(client, reverse("postmortems:actions") + view) for view in views]
    items_in_every_state(postmortems[0], other_responder, commander, 23, "More")
    items_in_every_state(postmortems[1], other_responder, commander, 22, "More")
    fifty = [_queries(client, reverse("postmortems:actions") + view) for view in views]
    body = client.get(reverse("postmortems:actions") + "?view=mine_to_verify").content.decode()
    assert body.count('class="pm-verify"') == 14  # Rita owns both post-mortems, Tom the measures
    report_figures("queries /postmortems/actions/", rows_5=five, rows_50=fifty)
    assert five == fifty


def _render_panel(name, signal, request, incident=None):
    extra = {"sender": Incident, "incident": incident} if incident is not None else {}
    found = [p for p in panels.collect(signal, request=request, **extra) if p.name == name]
    if not found:
        return ""
    [panel] = found
    return render_to_string(panel.template, panel.context, request=request)


def test_dashboard_panel_lists_overdue_milestones_and_actions(responder, postmortem, commander):
    late = action_item(postmortem, commander, title="Rotate the signer key")
    ActionItem.objects.filter(pk=late.pk).update(due_at=timezone.now() - timedelta(hours=2))  # test setup only
    Milestone.objects.filter(postmortem=postmortem, kind="meeting").update(due_at=timezone.now() - timedelta(hours=1))
    request = RequestFactory().get("/")
    request.user = responder

    html = _render_panel("postmortems-overdue", panels.dashboard_panels, request)

    assert "Initial post-mortem meeting overdue since" in html
    assert "action “Rotate the signer key” overdue since" in html


def test_incident_panel_offers_to_open_a_postmortem_or_links_to_it(responder, viewer, incident):
    request = RequestFactory().get("/")
    request.user = responder
    assert "Open a post-mortem" in _render_panel("postmortems-incident", panels.incident_panels, request, incident)
    request.user = viewer
    assert "Open a post-mortem" not in _render_panel("postmortems-incident", panels.incident_panels, request, incident)

    from postmortems.services import postmortem_open

    postmortem, _ = postmortem_open(incident=incident, actor=responder)
    html = _render_panel("postmortems-incident", panels.incident_panels, request, incident)
    assert postmortem.get_absolute_url() in html and "Initial post-mortem meeting" in html


@pytest.mark.parametrize("model", ["postmortem", "milestone", "actionitem", "reminder"])
def test_seeded_groups_let_responders_write_and_viewers_read(runbook, model):
    from django.contrib.auth.models import Group

    responders = set(Group.objects.get(name="Responders").permissions.values_list("codename", flat=True))
    viewers = set(Group.objects.get(name="Viewers").permissions.values_list("codename", flat=True))
    assert {f"add_{model}", f"change_{model}", f"view_{model}"} <= responders
    assert f"view_{model}" in viewers
    assert not {f"add_{model}", f"change_{model}", f"delete_{model}"} & viewers


def test_panels_are_connected_once(responder, incident):
    request = RequestFactory().get("/")
    request.user = responder
    names = [p.name for p in panels.collect(panels.dashboard_panels, request=request)]
    names += [
        p.name for p in panels.collect(panels.incident_panels, sender=Incident, request=request, incident=incident)
    ]
    assert names.count("postmortems-overdue") == 1 and names.count("postmortems-incident") == 1


def test_panel_queries_do_not_grow_with_overdue_rows(responder, incident):
    from postmortems.tests.factories import due_meetings

    request = RequestFactory().get("/")
    request.user = responder
    responder.has_perm("postmortems.view_postmortem")  # warm the permission cache, as a real request would

    def measure():
        with CaptureQueriesContext(connection) as ctx:
            _render_panel("postmortems-overdue", panels.dashboard_panels, request)
            _render_panel("postmortems-incident", panels.incident_panels, request, incident)
        return len(ctx.captured_queries)

    due_meetings(5, owner=responder, prefix="P")
    five = measure()
    due_meetings(45, owner=responder, prefix="Q")
    fifty = measure()
    report_figures("queries post-mortem panels", overdue_5=five, overdue_50=fifty)
    assert five == fifty


@pytest.mark.parametrize(
    ("due", "message"),
    [
        ("9999-12-31T23:59", "more than ten years ahead"),
        ("0001-01-01T00:00", "before 2000"),
        ("1999-12-31T23:59", "before 2000"),
    ],
)
def test_due_dates_at_the_calendars_ends_are_refused_with_a_message(
    client, responder, postmortem, commander, due, message
):
    client.force_login(responder)
    fields = {"title": "Rotate keys", "category": "preventive", "owner": commander.pk, "due_at": due}

    created = client.post(reverse("postmortems:action_create", args=[postmortem.incident.reference]), fields)

    assert created.status_code == 200 and message in created.content.decode()
    assert f'value="{due}"' in created.content.decode()  # what was typed is kept
    assert not ActionItem.objects.filter(title="Rotate keys").exists()

    item = action_item(postmortem, commander, title="Existing")
    edited = client.post(reverse("postmortems:action_edit", args=[item.pk]), {**fields, "title": "Existing"})
    assert edited.status_code == 200 and message in edited.content.decode()
    item.refresh_from_db()
    assert item.due_at.year not in (1, 1999, 9999)


def test_the_service_refuses_an_absurd_due_date_too(postmortem, commander):
    from datetime import UTC, datetime

    from django.core.exceptions import ValidationError

    from postmortems import services

    with pytest.raises(ValidationError):
        services.action_item_create(
            postmortem=postmortem,
            actor=commander,
            title="x",
            owner=commander,
            due_at=datetime(9999, 12, 31, 23, 59, tzinfo=UTC),
        )
    assert not ActionItem.objects.filter(title="x").exists()


def test_every_page_renders_a_postmortem_nobody_owns_and_says_so(client, responder, postmortem):
    """Ownerless post-mortems (owner cleared in the form, or demo data seeded before any login) answered 500."""
    from postmortems import services

    services.postmortem_update(postmortem=postmortem, actor=responder, owner=None)
    Milestone.objects.filter(postmortem=postmortem, kind="meeting").update(due_at=timezone.now() - timedelta(hours=1))
    client.force_login(responder)
    reference = postmortem.incident.reference

    for url in ["/postmortems/", postmortem.get_absolute_url(), "/"]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert '<span class="no-owner">no owner</span>' in response.content.decode(), url
    export = client.get(reverse("postmortems:export", args=[reference]))
    assert export.status_code == 200 and "- Owner: no owner" in export.content.decode()


def test_the_demo_seeded_before_any_login_exists_renders(client, db):
    from django.core.management import call_command

    from conftest import make_user

    call_command("seed_runbook", "--demo")  # acts as the system user: its post-mortems have no owner
    assert PostMortem.objects.filter(owner__isnull=True).exists()
    client.force_login(make_user("late", "Responders"))

    for url in ["/", "/postmortems/", *[p.get_absolute_url() for p in PostMortem.objects.all()]]:
        assert client.get(url).status_code == 200, url
