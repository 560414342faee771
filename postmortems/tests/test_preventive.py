"""Preventive measures are verified, not just ticked: a success metric and a verify-by time, evidence to
mark one done, verification by someone other than its owner (and whoever marked it done), and the
preventive-measures milestone held until each is verified or deferred. Through the services, and the
rules the database holds whatever code writes."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from postmortems import services
from postmortems.models import ActionItem, Milestone, Reminder
from postmortems.tests.factories import action_item, make_user, mark_done

pytestmark = pytest.mark.django_db


@pytest.fixture
def item(postmortem, other_responder):
    """Tom's preventive measure, due in three days, to be verified a week after that."""
    return action_item(postmortem, other_responder, title="Alert on oracle age", success_metric="Paged within 5 min")


def reminders(item):
    return {r.kind: r.status for r in Reminder.objects.filter(action_item=item)}


# --- what a preventive measure needs ----------------------------------------------------------------


def test_a_preventive_measure_needs_a_metric_and_a_verify_by_time(postmortem, commander):
    due = timezone.now() + timedelta(days=3)
    base = {"postmortem": postmortem, "actor": commander, "title": "Pin it", "owner": commander, "due_at": due}

    with pytest.raises(ValidationError) as missing:
        services.action_item_create(**base, category="preventive")
    assert set(missing.value.message_dict) == {"success_metric", "verify_by"}
    with pytest.raises(ValidationError, match="cannot be before the due time"):
        services.action_item_create(
            **base, category="preventive", success_metric="No repeat", verify_by=due - timedelta(minutes=1)
        )
    assert not ActionItem.objects.filter(title="Pin it").exists()

    item = services.action_item_create(**base, category="preventive", success_metric="No repeat", verify_by=due)
    assert (item.verify_by, item.success_metric) == (due, "No repeat")
    other = services.action_item_create(**base)  # a long-term improvement by default: neither is needed
    assert (other.category, other.verify_by) == ("long_term", None)


def test_editing_keeps_a_preventive_measure_whole(item, commander):
    with pytest.raises(ValidationError, match="success metric"):
        services.action_item_update(item=item, actor=commander, success_metric="  ")
    with pytest.raises(ValidationError, match="cannot be before the due time"):
        services.action_item_update(item=item, actor=commander, due_at=item.verify_by + timedelta(hours=1))
    later = item.verify_by + timedelta(days=2)

    services.action_item_update(item=item, actor=commander, verify_by=later)

    item.refresh_from_db()
    assert item.verify_by == later and item.success_metric == "Paged within 5 min"
    assert item.history.first().history_change_reason == "Action item edited"


# --- marking done, verifying, sending back ----------------------------------------------------------


def test_marking_a_preventive_measure_done_needs_evidence_and_leaves_it_awaiting_verification(item, other_responder):
    with pytest.raises(ValidationError, match="needs evidence"):
        services.action_item_set_status(item=item, actor=other_responder, status="done", evidence="   ")
    assert ActionItem.objects.get(pk=item.pk).status == "open"

    done = mark_done(item, other_responder, evidence="https://grafana.example.com/d/oracle")

    assert done.status == "to_verify" and done.get_status_display() == "Done, awaiting verification"
    assert (done.closed_by, done.evidence) == (other_responder, "https://grafana.example.com/d/oracle")
    assert done.history.first().history_change_reason == "Action item done"
    # The owner's reminders stop; the verifiers' start.
    assert reminders(item) == {
        "before": "cancelled",
        "overdue": "cancelled",
        "escalation": "cancelled",
        "verify": "pending",
        "verify_escalation": "pending",
    }
    schedule = {r.kind: r.due_at for r in Reminder.objects.filter(action_item=item, kind__startswith="verify")}
    assert schedule == {
        "verify": item.verify_by - timedelta(days=1),
        "verify_escalation": item.verify_by + timedelta(days=1),
    }


def test_the_owner_cannot_verify_and_nothing_changes(item, other_responder):
    mark_done(item, other_responder)
    rows = item.history.count()

    with pytest.raises(ValidationError, match="You own “Alert on oracle age”: someone else must check"):
        services.action_item_verify(item=item, actor=other_responder, note="Looks good to me")

    item.refresh_from_db()
    assert (item.status, item.verified_by, item.verified_at, item.verification_note) == ("to_verify", None, None, "")
    assert item.history.count() == rows
    assert reminders(item)["verify"] == "pending"


def test_whoever_marked_it_done_cannot_verify_it_either(item, responder, commander):
    mark_done(item, responder)  # Rita marked Tom's item done

    with pytest.raises(ValidationError, match="You marked “Alert on oracle age” done"):
        services.action_item_verify(item=item, actor=responder, note="ok")

    services.action_item_verify(item=item, actor=commander, note="Checked the alert fired in the drill")
    assert ActionItem.objects.get(pk=item.pk).verified_by == commander


def test_someone_else_verifies_with_a_note(item, other_responder, commander):
    mark_done(item, other_responder)
    with pytest.raises(ValidationError, match="Say what you checked"):
        services.action_item_verify(item=item, actor=commander, note=" ")

    verified = services.action_item_verify(item=item, actor=commander, note="Drill on Tuesday paged in 2 min")

    assert (verified.status, verified.verified_by) == ("done", commander)
    assert verified.verified_at is not None and verified.verification_note == "Drill on Tuesday paged in 2 min"
    latest = verified.history.first()
    assert (latest.history_user, latest.history_change_reason) == (commander, "Action item verified")
    assert reminders(item)["verify"] == reminders(item)["verify_escalation"] == "cancelled"
    with pytest.raises(ValidationError, match="is done"):
        services.action_item_verify(item=item, actor=commander, note="again")


def test_sending_back_reopens_it_with_the_reason_and_keeps_the_evidence(item, other_responder, commander):
    mark_done(item, other_responder, evidence="Deployed in PR 4411")
    with pytest.raises(ValidationError, match="Say why"):
        services.action_item_send_back(item=item, actor=commander, reason="")
    with pytest.raises(ValidationError, match="You own"):
        services.action_item_send_back(item=item, actor=other_responder, reason="Never mind")

    back = services.action_item_send_back(item=item, actor=commander, reason="No alert in staging yet")

    assert (back.status, back.evidence) == ("in_progress", "Deployed in PR 4411")
    assert back.verification_note == "No alert in staging yet" and back.was_sent_back
    assert (back.closed_at, back.closed_by, back.verified_at) == (None, None, None)
    assert back.history.first().history_change_reason == "Action item sent back"
    # The verifiers' reminders stop; the owner's still ahead start again.
    assert reminders(item) == {
        "before": "pending",
        "overdue": "pending",
        "escalation": "pending",
        "verify": "cancelled",
        "verify_escalation": "cancelled",
    }

    # Done again, with the kept evidence: the same verification rows are armed again.
    again = services.action_item_set_status(item=item, actor=other_responder, status="done")
    assert again.status == "to_verify" and again.evidence == "Deployed in PR 4411"
    assert reminders(item)["verify"] == "pending"
    assert Reminder.objects.filter(action_item=item).count() == 5


def test_reopening_a_verified_measure_clears_its_verification(item, other_responder, commander):
    mark_done(item, other_responder)
    services.action_item_verify(item=item, actor=commander, note="ok")

    reopened = services.action_item_set_status(item=item, actor=commander, status="in_progress")

    assert (reopened.verified_by, reopened.verified_at, reopened.verification_note) == (None, None, "")


def test_a_done_item_cannot_change_into_or_out_of_the_preventive_measures(item, other_responder, commander):
    mark_done(item, other_responder)
    with pytest.raises(ValidationError, match="reopen it first"):
        services.action_item_update(item=item, actor=commander, category="long_term")
    assert ActionItem.objects.get(pk=item.pk).category == "preventive"


def test_other_kinds_keep_todays_behaviour(postmortem, commander):
    fix = action_item(postmortem, commander, category="immediate_fix")

    done = services.action_item_set_status(item=fix, actor=commander, status="done")

    assert (done.status, done.closed_by, done.evidence) == ("done", commander, "")
    assert set(reminders(fix).values()) == {"cancelled"} and "verify" not in reminders(fix)


# --- the preventive-measures milestone --------------------------------------------------------------


def test_the_milestone_completes_only_once_preventive_measures_are_verified(
    postmortem, item, commander, other_responder
):
    preventive = postmortem.milestones.get(kind="preventive")
    deferred = action_item(postmortem, commander, title="Second region")
    fix = action_item(postmortem, commander, title="Restart the executor", category="immediate_fix")
    services.action_item_set_status(item=fix, actor=commander, status="done")

    with pytest.raises(ValidationError) as still_open:
        services.postmortem_complete_milestone(milestone=preventive, actor=commander)
    assert "still open: Alert on oracle age, Second region." in str(still_open.value)

    mark_done(item, other_responder)
    services.action_item_set_status(item=deferred, actor=commander, status="deferred", deferred_reason="Next year")
    with pytest.raises(ValidationError) as awaiting:
        services.postmortem_complete_milestone(milestone=preventive, actor=commander)
    assert "awaiting verification: Alert on oracle age." in str(awaiting.value)
    assert not Milestone.objects.get(pk=preventive.pk).is_complete

    services.action_item_verify(item=item, actor=commander, note="Paged in the drill")
    services.postmortem_complete_milestone(milestone=preventive, actor=commander)

    assert Milestone.objects.get(pk=preventive.pk).completed_by == commander


def test_a_preventive_measure_done_before_verification_existed_holds_the_milestone(postmortem, item, commander):
    ActionItem.objects.filter(pk=item.pk).update(status="done", closed_at=timezone.now())  # as written before

    with pytest.raises(ValidationError, match="done but not verified: Alert on oracle age"):
        services.postmortem_complete_milestone(milestone=postmortem.milestones.get(kind="preventive"), actor=commander)


# --- the rules the database holds -------------------------------------------------------------------


def violates(constraint_name, change):
    with pytest.raises(IntegrityError, match=constraint_name), transaction.atomic():
        change()


def test_the_database_refuses_a_verification_by_the_owner_or_closer_or_of_an_unfinished_item(
    item, other_responder, commander, responder
):
    mark_done(item, responder)
    rows = ActionItem.objects.filter(pk=item.pk)
    now = timezone.now()

    violates(
        "postmortems_actionitem_verifier_not_owner",
        lambda: rows.update(status="done", verified_by=other_responder, verified_at=now),
    )
    violates(
        "postmortems_actionitem_verifier_not_closer",
        lambda: rows.update(status="done", verified_by=responder, verified_at=now),
    )
    violates(
        "postmortems_actionitem_verified_only_if_done",
        lambda: rows.update(verified_by=commander, verified_at=now),  # still awaiting verification
    )
    violates("postmortems_actionitem_verified_has_who", lambda: rows.update(status="done", verified_at=now))
    violates(
        "postmortems_actionitem_verify_not_before_due",
        lambda: rows.update(verify_by=item.due_at - timedelta(seconds=1)),
    )


def test_constraint_messages_reach_a_model_form(item, commander):
    from postmortems.forms import ActionItemForm

    form = ActionItemForm(
        {
            "title": item.title,
            "category": "preventive",
            "owner": commander.pk,
            "due_at": "2030-01-10T10:00",
            "verify_by": "2030-01-09T10:00",
            "success_metric": "x",
        },
        instance=item,
    )

    assert not form.is_valid()
    assert form.errors["verify_by"] == ["The verify-by time cannot be before the due time."]


def test_may_verify_needs_the_change_permission(item, other_responder, viewer, commander):
    mark_done(item, other_responder)
    item.refresh_from_db()
    outsider = make_user("olly", "Responders")

    assert item.may_verify(commander) and item.may_verify(outsider)
    assert not item.may_verify(other_responder)  # the owner
    assert not item.may_verify(viewer)  # may not change post-mortems
