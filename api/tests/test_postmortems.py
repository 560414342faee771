"""Post-mortems, action items and contacts through the API, written through the
post-mortem services as the token's owner."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from approvals.models import ApprovalRequest
from approvals.tests.helpers import approved
from postmortems.models import ActionItem, Milestone, PostMortem, Reminder
from postmortems.tests.factories import action_item, mark_done

from .conftest import Api, make_token

pytestmark = pytest.mark.usefixtures("postmortem")
COMPLETE_ANALYSIS = ApprovalRequest.Action.COMPLETE_ANALYSIS


def test_the_list_and_one_post_mortem(rita, postmortem):
    ref = postmortem.incident.reference

    listed = rita.get("/api/v1/postmortems/")
    one = rita.get(f"/api/v1/postmortems/{ref}/")

    assert listed.status_code == one.status_code == 200
    [row] = listed.json()["results"]
    assert row["reference"] == ref and row["owner"]["username"] == "cora"
    assert [m["kind"] for m in row["milestones"]] == ["meeting", "analysis", "preventive"]
    body = one.json()
    assert body["url"] == row["url"] and body["title"] == postmortem.incident.title
    assert {p["username"] for p in body["participants"]} >= {"cora", "tom"}
    assert set(PostMortem.DELIVERABLE_FIELDS) <= set(body)


def test_the_list_filters_as_the_page_does(rita, postmortem, commander):
    def count(query):
        response = rita.get(f"/api/v1/postmortems/?{query}")
        assert response.status_code == 200, response.json()
        return len(response.json()["results"])

    assert count("owner=cora") == 1
    assert count("owner=me") == 0  # Rita owns none
    assert count("milestone=meeting") == 1
    assert count("overdue=1") == 0
    assert rita.get("/api/v1/postmortems/?owner=nobody").status_code == 400
    assert rita.get("/api/v1/postmortems/?milestone=party").status_code == 400


def test_editing_the_deliverables_changes_only_what_was_sent(rita, responder, postmortem):
    ref = postmortem.incident.reference
    impact = PostMortem.objects.get(pk=postmortem.pk).impact_assessment

    response = rita.patch(f"/api/v1/postmortems/{ref}/", {"primary_cause": "Nonce reuse", "owner": "tom"})

    assert response.status_code == 200, response.json()
    postmortem.refresh_from_db()
    assert postmortem.primary_cause == "Nonce reuse" and postmortem.owner.username == "tom"
    assert postmortem.impact_assessment == impact
    latest = postmortem.history.first()
    assert latest.history_user == responder and latest.history_change_reason == "Post-mortem edited"


def test_participants_are_named_by_username(rita, postmortem):
    ref = postmortem.incident.reference

    ok = rita.patch(f"/api/v1/postmortems/{ref}/", {"participants": ["rita", "rita"]})
    unknown = rita.patch(f"/api/v1/postmortems/{ref}/", {"participants": ["rita", "ghost"]})

    assert ok.status_code == 200 and [p["username"] for p in ok.json()["participants"]] == ["rita"]
    assert unknown.status_code == 400 and "ghost" in unknown.json()["error"]["fields"]["participants"][0]


def test_completing_the_meeting_needs_when_and_who(rita, responder, postmortem):
    url = f"/api/v1/postmortems/{postmortem.incident.reference}/milestones/meeting/complete/"
    held = (timezone.now() - timedelta(hours=1)).isoformat()

    missing = rita.post(url, {"notes": "x"})
    future = rita.post(
        url, {"meeting_held_at": (timezone.now() + timedelta(days=1)).isoformat(), "attendees": ["rita"]}
    )
    done = rita.post(url, {"meeting_held_at": held, "attendees": ["rita", "tom"], "notes": "Agreed"})

    assert missing.status_code == 400 and {"meeting_held_at", "attendees"} <= set(missing.json()["error"]["fields"])
    assert future.status_code == 400 and future.json()["error"]["code"] == "refused"
    assert done.status_code == 200, done.json()
    meeting = Milestone.objects.get(postmortem=postmortem, kind="meeting")
    assert meeting.completed_by == responder and meeting.history.first().history_user == responder
    assert rita.post(url, {"meeting_held_at": held, "attendees": ["rita"]}).json()["error"]["code"] == "refused"


def test_the_analysis_completes_only_once_filled_in(rita, postmortem, commander, other_responder):
    ref = postmortem.incident.reference
    url = f"/api/v1/postmortems/{ref}/milestones/analysis/complete/"

    refused = rita.post(url, {})
    extra = rita.post(url, {"attendees": ["rita"]})
    fields = dict.fromkeys(PostMortem.DELIVERABLE_FIELDS[:6], "Written")
    rita.patch(f"/api/v1/postmortems/{ref}/", fields)
    # A Sev1: its analysis also needs a second person's approval (approvals has its own tests).
    approved(postmortem.incident, COMPLETE_ANALYSIS, requester=commander, approver=other_responder)
    done = rita.post(url, {"notes": "Reviewed"})

    assert refused.status_code == 400 and "Fill in the analysis" in refused.json()["error"]["message"]
    assert extra.status_code == 400 and extra.json()["error"]["fields"] == {"attendees": ["Unknown field."]}
    assert done.status_code == 200
    assert Milestone.objects.get(postmortem=postmortem, kind="analysis").completed_at is not None


def test_an_unknown_milestone_kind_is_a_404(rita, postmortem):
    url = f"/api/v1/postmortems/{postmortem.incident.reference}/milestones/party/complete/"

    assert rita.post(url, {}).status_code == 404


def test_an_action_item_is_added_listed_edited_and_closed(rita, responder, postmortem):
    ref = postmortem.incident.reference
    due = (timezone.now() + timedelta(days=5)).isoformat()

    created = rita.post(
        f"/api/v1/postmortems/{ref}/action-items/", {"title": "Add a circuit breaker", "owner": "tom", "due_at": due}
    )
    assert created.status_code == 201, created.json()
    pk = created.json()["id"]
    # Sent without a kind, it is a plain item (the service's default), which needs no verification.
    assert created.json()["category"] == "long_term" and created.json()["verify_by"] is None
    item = ActionItem.objects.get(pk=pk)
    assert item.owner.username == "tom" and item.reminders.count() == 3
    assert item.history.get().history_user == responder

    listed = rita.get("/api/v1/action-items/").json()["results"]
    edited = rita.patch(f"/api/v1/action-items/{pk}/", {"title": "Add two circuit breakers"})
    deferred_without_reason = rita.post(f"/api/v1/action-items/{pk}/status/", {"status": "deferred"})
    done = rita.post(f"/api/v1/action-items/{pk}/status/", {"status": "done"})

    assert [row["id"] for row in listed] == [pk] and listed[0]["postmortem"] == ref
    assert edited.status_code == 200 and edited.json()["title"] == "Add two circuit breakers"
    assert deferred_without_reason.status_code == 400
    assert done.status_code == 200 and done.json()["status"] == "done"
    assert done.json()["closed_by"]["username"] == "rita" and done.json()["verified_by"] is None
    item.refresh_from_db()
    assert item.closed_by == responder and item.history.first().history_user == responder
    assert not item.reminders.filter(status="pending").exists()


@pytest.mark.parametrize(
    "due_at", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "9999-12-31T23:59:59-05:00", "1999-12-31T00:00:00Z"]
)
def test_due_times_at_the_calendars_ends_are_refused(rita, postmortem, due_at):
    response = rita.post(
        f"/api/v1/postmortems/{postmortem.incident.reference}/action-items/",
        {"title": "x", "owner": "rita", "due_at": due_at},
    )

    assert response.status_code == 400
    assert not ActionItem.objects.exists()


def test_action_item_views_filter_mine_and_overdue(rita, responder, other_responder, postmortem):
    mine = action_item(postmortem, responder, title="Mine")
    action_item(postmortem, other_responder, title="Toms")

    def titles(view):
        return [row["title"] for row in rita.get(f"/api/v1/action-items/?view={view}").json()["results"]]

    assert titles("mine") == ["Mine"] and titles("overdue") == [] and len(titles("all")) == 2
    assert rita.get(f"/api/v1/action-items/{mine.pk}/").json()["owner"]["username"] == "rita"
    assert rita.get("/api/v1/action-items/?view=theirs").status_code == 400


def test_unknown_action_items_are_404s_even_past_bigint(rita):
    for pk in ("424242", str(2**63), "9" * 40):
        assert rita.get(f"/api/v1/action-items/{pk}/").status_code == 404
        assert rita.post(f"/api/v1/action-items/{pk}/status/", {"status": "done"}).status_code == 404
        assert rita.post(f"/api/v1/action-items/{pk}/verify/", {"note": "x"}).status_code == 404
        assert rita.post(f"/api/v1/action-items/{pk}/send-back/", {"reason": "x"}).status_code == 404


def test_a_viewer_reads_post_mortems_but_cannot_edit_them(api, viewer, postmortem):
    _, text = make_token(viewer, "write")
    api.as_token(text)
    ref = postmortem.incident.reference

    assert api.get(f"/api/v1/postmortems/{ref}/").status_code == 200
    assert api.patch(f"/api/v1/postmortems/{ref}/", {"primary_cause": "x"}).status_code == 403
    assert PostMortem.objects.get(pk=postmortem.pk).primary_cause == ""


# Preventive measures: verified, not just ticked ------------------------------------------------------------------


def client_of(user, scope="write"):
    """The API as `user`, with a new token of theirs."""
    _, text = make_token(user, scope)
    return Api().as_token(text)


def ahead(days) -> str:
    return (timezone.now() + timedelta(days=days)).isoformat()


PREVENTIVE = {"title": "Alert on nonce reuse", "owner": "tom", "category": "preventive"}
EVIDENCE = "https://grafana.example.com/d/executor: no reverts for a week"


def test_a_preventive_measure_needs_a_metric_and_a_verify_by_time(rita, postmortem):
    url = f"/api/v1/postmortems/{postmortem.incident.reference}/action-items/"
    due, verify_by = ahead(5), ahead(12)

    bare = rita.post(url, {**PREVENTIVE, "due_at": due})
    early = rita.post(url, {**PREVENTIVE, "due_at": due, "success_metric": "No repeat", "verify_by": ahead(1)})
    absurd = rita.post(
        url, {**PREVENTIVE, "due_at": due, "success_metric": "No repeat", "verify_by": "9999-12-31T23:59:59Z"}
    )
    assert not ActionItem.objects.exists()
    created = rita.post(url, {**PREVENTIVE, "due_at": due, "success_metric": "No repeat", "verify_by": verify_by})

    assert bare.status_code == 400 and bare.json()["error"]["code"] == "refused"
    assert set(bare.json()["error"]["fields"]) == {"success_metric", "verify_by"}
    assert early.status_code == 400 and "before the due time" in early.json()["error"]["fields"]["verify_by"][0]
    assert absurd.status_code == 400
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["category"] == "preventive" and body["success_metric"] == "No repeat"
    assert datetime.fromisoformat(body["verify_by"]) == datetime.fromisoformat(verify_by)
    assert body["evidence"] == body["verification_note"] == "" and body["verified_by"] is body["verified_at"] is None


def test_editing_moves_an_item_into_the_preventive_measures_and_keeps_its_kind(rita, responder, postmortem):
    item = action_item(postmortem, responder, category=ActionItem.Category.LONG_TERM, due_in=timedelta(days=3))
    url = f"/api/v1/action-items/{item.pk}/"

    refused = rita.patch(url, {"category": "preventive"})
    assert ActionItem.objects.get(pk=item.pk).category == "long_term"
    moved = rita.patch(url, {"category": "preventive", "success_metric": "No repeat", "verify_by": ahead(10)})
    retitled = rita.patch(url, {"title": "Alert on nonce reuse"})  # a partial edit: no default kind applies
    cleared = rita.patch(url, {"verify_by": None})

    assert refused.status_code == 400 and set(refused.json()["error"]["fields"]) == {"success_metric", "verify_by"}
    assert moved.status_code == 200, moved.json()
    assert retitled.status_code == 200 and retitled.json()["category"] == "preventive"
    assert cleared.status_code == 400 and "verify_by" in cleared.json()["error"]["fields"]
    item.refresh_from_db()
    assert item.category == "preventive" and item.verify_by is not None and item.title == "Alert on nonce reuse"


def test_marking_a_preventive_measure_done_needs_evidence_and_awaits_verification(rita, responder, postmortem):
    item = action_item(postmortem, responder)
    url = f"/api/v1/action-items/{item.pk}/status/"

    without = rita.post(url, {"status": "done"})
    chosen = rita.post(url, {"status": "to_verify", "evidence": EVIDENCE})
    assert ActionItem.objects.get(pk=item.pk).status == "open"
    done = rita.post(url, {"status": "done", "evidence": EVIDENCE})

    assert without.status_code == 400 and "evidence" in without.json()["error"]["fields"]
    assert chosen.status_code == 400 and "status" in chosen.json()["error"]["fields"]
    assert done.status_code == 200, done.json()
    assert done.json()["status"] == "to_verify" and done.json()["evidence"] == EVIDENCE
    item.refresh_from_db()
    assert item.status == "to_verify" and item.closed_by == responder
    assert item.history.first().history_user == responder


def test_neither_the_owner_nor_whoever_marked_it_done_may_verify_it(rita, responder, other_responder, postmortem):
    own = mark_done(action_item(postmortem, responder, title="Rita's"), responder)
    marked = mark_done(action_item(postmortem, other_responder, title="Tom's"), responder)
    history = {item.pk: item.history.count() for item in (own, marked)}

    for item, refusal in ((own, "You own “Rita's”"), (marked, "You marked “Tom's” done")):
        for step, body in (("verify", {"note": "Checked"}), ("send-back", {"reason": "Not enough"})):
            response = rita.post(f"/api/v1/action-items/{item.pk}/{step}/", body)
            assert response.status_code == 403, (step, response.json())
            error = response.json()["error"]
            assert error["code"] == "permission_denied" and error["message"].startswith(refusal)
            assert "someone else must check the evidence" in error["message"]

    for item in (own, marked):
        item.refresh_from_db()
        assert item.status == "to_verify" and item.verified_by is None and item.verification_note == ""
        assert item.history.count() == history[item.pk]


def test_another_responder_verifies_it_and_history_names_them(responder, other_responder, postmortem):
    item = mark_done(action_item(postmortem, responder), responder)
    tom = client_of(other_responder)
    url = f"/api/v1/action-items/{item.pk}/verify/"

    blank = tom.post(url, {"note": "   "})
    unknown = tom.post(url, {"note": "Checked", "reason": "x"})
    assert ActionItem.objects.get(pk=item.pk).status == "to_verify"
    verified = tom.post(url, {"note": "No reverts for a week on the production dashboard"})
    again = tom.post(url, {"note": "Twice"})

    assert blank.status_code == 400 and "note" in blank.json()["error"]["fields"]
    assert unknown.status_code == 400 and unknown.json()["error"]["fields"] == {"reason": ["Unknown field."]}
    assert verified.status_code == 200, verified.json()
    body = verified.json()
    assert body["status"] == "done" and body["verified_by"] == {"username": "tom", "name": "Tom Tech"}
    assert body["verification_note"] == "No reverts for a week on the production dashboard"
    assert body["verified_at"] is not None and body["evidence"] == item.evidence
    assert body["closed_by"]["username"] == "rita"
    assert again.status_code == 400 and again.json()["error"]["code"] == "refused"
    assert "awaiting verification" in again.json()["error"]["message"]
    item.refresh_from_db()
    assert item.verified_by == other_responder and item.status == "done"
    latest = item.history.first()
    assert latest.history_user == other_responder and latest.history_change_reason == "Action item verified"
    assert not item.reminders.filter(kind__in=Reminder.VERIFICATION_KINDS, status="pending").exists()


def test_sending_it_back_keeps_the_evidence_for_the_next_try(responder, other_responder, postmortem):
    item = mark_done(action_item(postmortem, responder), responder)
    plain = action_item(postmortem, responder, category=ActionItem.Category.LONG_TERM)
    tom, rita = client_of(other_responder), client_of(responder)
    url = f"/api/v1/action-items/{item.pk}/send-back/"

    missing = tom.post(url, {})
    not_awaiting = tom.post(f"/api/v1/action-items/{plain.pk}/send-back/", {"reason": "x"})
    sent = tom.post(url, {"reason": "The link shows staging, not production"})

    assert missing.status_code == 400 and "reason" in missing.json()["error"]["fields"]
    assert not_awaiting.status_code == 400 and not_awaiting.json()["error"]["code"] == "refused"
    assert sent.status_code == 200, sent.json()
    body = sent.json()
    assert body["status"] == "in_progress" and body["evidence"] == item.evidence
    assert body["verification_note"] == "The link shows staging, not production"
    assert body["verified_by"] is None and body["closed_by"] is None
    latest = ActionItem.objects.get(pk=item.pk).history.first()
    assert latest.history_user == other_responder and latest.history_change_reason == "Action item sent back"
    # Its owner marks it done again: the evidence kept is enough.
    again = rita.post(f"/api/v1/action-items/{item.pk}/status/", {"status": "done"})
    assert again.status_code == 200 and again.json()["status"] == "to_verify"
    assert again.json()["evidence"] == item.evidence


def test_verifying_needs_a_write_token_and_the_right_to_change_post_mortems(
    responder, other_responder, viewer, postmortem
):
    item = mark_done(action_item(postmortem, responder), responder)
    history = item.history.count()

    for client in (client_of(viewer), client_of(other_responder, "read")):
        assert client.post(f"/api/v1/action-items/{item.pk}/verify/", {"note": "x"}).status_code == 403
        assert client.post(f"/api/v1/action-items/{item.pk}/send-back/", {"reason": "x"}).status_code == 403

    item.refresh_from_db()
    assert item.status == "to_verify" and item.history.count() == history


def test_the_list_shows_what_awaits_verification_and_whose_to_verify(responder, other_responder, commander, postmortem):
    waiting = mark_done(action_item(postmortem, responder, title="Waiting"), responder)
    action_item(postmortem, other_responder, title="Open")

    def titles(user, view):
        response = client_of(user).get(f"/api/v1/action-items/?view={view}")
        assert response.status_code == 200, response.json()
        return [row["title"] for row in response.json()["results"]]

    assert titles(other_responder, "to_verify") == ["Waiting"]
    assert titles(commander, "mine_to_verify") == [waiting.title]  # Cora owns the post-mortem
    assert titles(responder, "mine_to_verify") == []  # Rita owns the item


def test_contacts_are_listed_in_escalation_order_and_searchable(rita):
    everyone = rita.get("/api/v1/contacts/").json()["results"]
    found = rita.get("/api/v1/contacts/?q=support").json()["results"]

    categories = [c["category"] for c in everyone]
    assert categories == sorted(categories, key=["support", "team", "vendor", "emergency"].index)
    assert found and all(c in everyone for c in found) and len(found) < len(everyone)
    assert rita.post("/api/v1/contacts/", {}).status_code == 405
    assert rita.get("/api/v1/contacts/?q=" + "x" * 101).status_code == 400
