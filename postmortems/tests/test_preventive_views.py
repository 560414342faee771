"""Preventive measures on the pages: what the post-mortem page, the action-item list and the item's page
show, who gets the Verify and Send back buttons, the refusals, and the forms keeping what was typed."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from postmortems import services
from postmortems.models import ActionItem
from postmortems.tests.factories import action_item, make_user, mark_done

pytestmark = pytest.mark.django_db


@pytest.fixture
def awaiting(postmortem, other_responder):
    """Tom's preventive measure, marked done by him with a link and a javascript: address as evidence."""
    item = action_item(postmortem, other_responder, title="Alert on oracle age", success_metric="Paged in 5 min")
    return mark_done(
        item,
        other_responder,
        evidence="Dashboard https://grafana.example.com/d/oracle?a=1&b=2. Not this: javascript:alert(1) <b>x</b>",
    )


def verify_url(item):
    return reverse("postmortems:action_verify", args=[item.pk])


def send_back_url(item):
    return reverse("postmortems:action_send_back", args=[item.pk])


def page(client, user, url):
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_the_postmortem_page_shows_the_measure_and_offers_verification_to_someone_else(
    client, postmortem, awaiting, commander
):
    body = page(client, commander, postmortem.get_absolute_url())

    assert "<th>Kind</th>" in body and "Preventive measure" in body
    assert "Paged in 5 min" in body
    assert "<em>Verify by:</em>" in body
    assert "Done, awaiting verification" in body and "Awaiting verification</span> by someone other than Tom" in body
    # The evidence: its https address a link, nothing else.
    assert '<a href="https://grafana.example.com/d/oracle?a=1&amp;b=2" rel="noopener noreferrer nofollow"' in body
    assert 'href="javascript' not in body and "&lt;b&gt;x&lt;/b&gt;" in body
    assert f'action="{verify_url(awaiting)}"' in body and f'action="{send_back_url(awaiting)}"' in body
    assert f'id="id_verify_{awaiting.pk}_note"' in body


@pytest.mark.parametrize("who", ["owner", "viewer"])
def test_no_verify_buttons_for_the_owner_or_a_viewer(client, postmortem, awaiting, other_responder, viewer, who):
    body = page(client, other_responder if who == "owner" else viewer, postmortem.get_absolute_url())

    assert "Done, awaiting verification" in body
    assert verify_url(awaiting) not in body and send_back_url(awaiting) not in body


def test_another_responder_verifies_from_the_page(client, postmortem, awaiting, commander):
    client.force_login(commander)

    response = client.post(verify_url(awaiting), {"note": "Drill paged in 2 min"})

    assert response.status_code == 302 and response["Location"] == awaiting.get_absolute_url()
    awaiting.refresh_from_db()
    assert (awaiting.status, awaiting.verified_by, awaiting.verification_note) == (
        "done",
        commander,
        "Drill paged in 2 min",
    )
    body = client.get(postmortem.get_absolute_url()).content.decode()
    assert "Verified</span> by Cora Commander" in body and "Drill paged in 2 min" in body


def test_the_owner_trying_to_verify_is_refused_clearly_and_nothing_changes(client, awaiting, other_responder):
    client.force_login(other_responder)

    response = client.post(verify_url(awaiting), {"note": "Trust me"})

    assert response.status_code == 403
    body = response.content.decode()
    assert "You own “Alert on oracle age”: someone else must check the evidence." in body
    awaiting.refresh_from_db()
    assert (awaiting.status, awaiting.verified_by, awaiting.verification_note) == ("to_verify", None, "")
    assert client.post(send_back_url(awaiting), {"reason": "x"}).status_code == 403
    assert ActionItem.objects.get(pk=awaiting.pk).status == "to_verify"


def test_viewers_and_anonymous_visitors_cannot_verify(client, awaiting, viewer):
    for url, data in [(verify_url(awaiting), {"note": "ok"}), (send_back_url(awaiting), {"reason": "no"})]:
        assert client.post(url, data)["Location"].startswith(reverse("login"))
    client.force_login(viewer)
    for url, data in [(verify_url(awaiting), {"note": "ok"}), (send_back_url(awaiting), {"reason": "no"})]:
        assert client.post(url, data).status_code == 403
        assert client.get(url).status_code == 405 or client.get(url).status_code == 403
    assert ActionItem.objects.get(pk=awaiting.pk).status == "to_verify"


def test_sending_back_needs_a_reason_and_keeps_what_was_typed(client, awaiting, commander):
    client.force_login(commander)

    empty = client.post(send_back_url(awaiting), {"reason": "  "})
    too_long = client.post(send_back_url(awaiting), {"reason": "Missing the alert rule. " + "x" * 10_000})

    assert empty.status_code == too_long.status_code == 400
    assert "This field is required." in empty.content.decode()
    assert "Missing the alert rule." in too_long.content.decode()  # kept in the textarea
    assert "Ensure this value has at most 10000 characters" in too_long.content.decode()
    assert ActionItem.objects.get(pk=awaiting.pk).status == "to_verify"

    response = client.post(send_back_url(awaiting), {"reason": "No alert rule in staging"})

    assert response.status_code == 302
    awaiting.refresh_from_db()
    assert (awaiting.status, awaiting.verification_note) == ("in_progress", "No alert rule in staging")
    assert "https://grafana.example.com/d/oracle" in awaiting.evidence  # kept
    body = client.get(awaiting.postmortem.get_absolute_url()).content.decode()
    assert "Sent back</span>: No alert rule in staging" in body


def test_verifying_something_not_awaiting_verification_is_a_400_with_the_reason(client, postmortem, commander):
    item = action_item(postmortem, commander, title="Not done yet")
    client.force_login(make_user("olly", "Responders"))

    response = client.post(verify_url(item), {"note": "ok"})

    assert response.status_code == 400
    assert "Only an action item awaiting verification can be verified; “Not done yet” is open." in (
        response.content.decode()
    )
    assert client.post(reverse("postmortems:action_verify", args=[999_999]), {"note": "ok"}).status_code == 404


def test_marking_done_from_the_status_form_needs_evidence(client, postmortem, other_responder):
    item = action_item(postmortem, other_responder)
    client.force_login(other_responder)
    url = reverse("postmortems:action_status", args=[item.pk])

    refused = client.post(url, {"status": "done", "evidence": ""})
    assert refused.status_code == 400
    assert "Marking a preventive measure done needs evidence" in refused.content.decode()
    assert ActionItem.objects.get(pk=item.pk).status == "open"
    assert client.post(url, {"status": "to_verify"}).status_code == 400  # not chosen directly

    done = client.post(url, {"status": "done", "evidence": "Runbook step added: https://wiki.example.com/rb"})

    assert done.status_code == 302
    item.refresh_from_db()
    assert (item.status, item.closed_by) == ("to_verify", other_responder)
    edit_page = client.get(reverse("postmortems:action_edit", args=[item.pk])).content.decode()
    assert "Done, awaiting verification" in edit_page
    assert reverse("postmortems:action_verify", args=[item.pk]) not in edit_page  # Tom owns it


def test_the_add_form_asks_a_preventive_measure_for_its_metric_and_verify_by_and_keeps_the_input(
    client, responder, postmortem, commander
):
    client.force_login(responder)
    due = (timezone.now() + timedelta(days=10)).strftime("%Y-%m-%dT%H:%M")
    early = (timezone.now() + timedelta(days=9)).strftime("%Y-%m-%dT%H:%M")
    url = reverse("postmortems:action_create", args=[postmortem.incident.reference])
    fields = {"title": "Canary deploys", "category": "preventive", "owner": commander.pk, "due_at": due}

    missing = client.post(url, fields)
    early_verify = client.post(url, {**fields, "verify_by": early, "success_metric": "Bad deploys caught"})

    body = missing.content.decode()
    assert missing.status_code == 200
    assert "A preventive measure needs a success metric" in body and "needs a verify-by time" in body
    assert 'value="Canary deploys"' in body and f'value="{due}"' in body
    body = early_verify.content.decode()
    assert "The verify-by time cannot be before the due time." in body and "Bad deploys caught" in body
    assert not ActionItem.objects.filter(title="Canary deploys").exists()

    later = (timezone.now() + timedelta(days=20)).strftime("%Y-%m-%dT%H:%M")
    client.post(url, {**fields, "verify_by": later, "success_metric": "Bad deploys caught"})
    item = ActionItem.objects.get(title="Canary deploys")
    assert item.verify_by.strftime("%Y-%m-%dT%H:%M") == later


def test_the_action_list_shows_and_filters_what_awaits_verification(client, postmortem, awaiting, commander, responder):
    open_item = action_item(postmortem, responder, title="Still open")
    body = page(client, commander, reverse("postmortems:actions") + "?view=to_verify")

    assert "Alert on oracle age" in body and "Still open" not in body
    assert "Paged in 5 min" in body and "<em>Verify by:</em>" in body
    assert 'href="https://grafana.example.com/d/oracle?a=1&amp;b=2"' in body
    assert f'action="{verify_url(awaiting)}"' in body
    assert 'name="next" value="/postmortems/actions/?view=to_verify"' in body
    assert 'aria-current="page">Awaiting verification</a>' in body

    mine = page(client, commander, reverse("postmortems:actions") + "?view=mine_to_verify")
    assert "Alert on oracle age" in mine  # Cora owns the post-mortem, Tom the measure
    theirs = page(client, make_user("olly", "Responders"), reverse("postmortems:actions") + "?view=mine_to_verify")
    assert "Alert on oracle age" not in theirs and "No action items here." in theirs

    # Verified from the list, back to the list.
    client.force_login(commander)
    response = client.post(
        verify_url(awaiting), {"note": "ok", "next": reverse("postmortems:actions") + "?view=to_verify"}
    )
    assert response["Location"] == "/postmortems/actions/?view=to_verify"
    assert client.post(verify_url(open_item), {"note": "x", "next": "https://evil.example.com/"}).status_code == 400


def test_an_offsite_next_is_ignored(client, postmortem, awaiting, commander):
    client.force_login(commander)
    response = client.post(verify_url(awaiting), {"note": "ok", "next": "https://evil.example.com/"})
    assert response["Location"] == awaiting.get_absolute_url()


def test_print_and_export_include_the_verification(client, viewer, postmortem, awaiting, commander):
    services.action_item_verify(item=awaiting, actor=commander, note="Drill paged in 2 min")
    client.force_login(viewer)
    reference = postmortem.incident.reference

    printed = client.get(reverse("postmortems:print", args=[reference])).content.decode()
    exported = client.get(reverse("postmortems:export", args=[reference])).content.decode()

    assert "<h4>Evidence and verification</h4>" in printed and "Verified</span> by Cora Commander" in printed
    assert '<a href="https://grafana.example.com/d/oracle?a=1&amp;b=2"' in printed
    assert "- Verify by: " in exported
    assert "- Evidence: Dashboard https://grafana.example.com/d/oracle?a=1&b=2." in exported
    assert "- Verification: verified by Cora Commander" in exported and "(Drill paged in 2 min)" in exported


def test_the_browsers_milestone_refusal_names_what_awaits_verification(client, postmortem, awaiting, commander):
    client.force_login(commander)
    url = reverse("postmortems:milestone_complete", args=[postmortem.incident.reference, "preventive"])

    response = client.post(url, {}, follow=True)

    assert "awaiting verification: Alert on oracle age." in response.content.decode()
    assert not postmortem.milestones.get(kind="preventive").is_complete
