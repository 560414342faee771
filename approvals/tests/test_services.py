"""Four eyes on closing: asking, approving, rejecting, withdrawing; the second person
rule in the service and in the database; severities without four eyes unchanged."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from approvals import services
from approvals.models import ApprovalRequest
from incidents.models import Incident, Severity
from incidents.services import TransitionNotAllowed
from incidents.tests.factories import declare

from .conftest import transition
from .helpers import approved, resolve

A = ApprovalRequest.Action
S = ApprovalRequest.State
CLOSE_REFUSAL = "Closing a Sev1 needs a second person's approval: request it on the incident page."


def ask(incident, actor, comment="Verified for an hour, post-mortem not needed."):
    return services.approval_request(incident=incident, action=A.CLOSE_INCIDENT, actor=actor, comment=comment)


def snapshot(approval):
    approval.refresh_from_db()
    return (
        approval.state,
        approval.decided_by_id,
        approval.decided_at,
        approval.decision_comment,
        approval.used_at,
        approval.history.count(),
        approval.incident.timeline.count(),
        Incident.objects.get(pk=approval.incident_id).status,
    )


def test_closing_a_four_eyes_incident_is_refused_without_an_approval(resolved, responder):
    with pytest.raises(TransitionNotAllowed) as refused:
        transition(resolved, "close", responder)

    assert refused.value.messages == [CLOSE_REFUSAL]
    resolved.refresh_from_db()
    assert resolved.status == Incident.Status.RESOLVED


def test_a_second_persons_approval_closes_the_incident(resolved, responder, other_responder):
    approval = ask(resolved, responder)
    assert approval.state == S.PENDING and approval.requested_by == responder and approval.requested_at

    approval = services.approval_decide(
        approval=approval, actor=other_responder, approve=True, comment="Dashboards agree."
    )

    resolved.refresh_from_db()
    assert resolved.status == Incident.Status.CLOSED
    approval.refresh_from_db()
    assert approval.state == S.USED
    assert (approval.decided_by, approval.decision_comment) == (other_responder, "Dashboards agree.")
    assert approval.requested_at <= approval.decided_at <= approval.used_at
    # Every step in the history, each under its actor, and on the incident's timeline.
    steps = list(approval.history.order_by("history_id").values_list("state", "history_user__username"))
    assert steps == [("pending", "rita"), ("approved", "tom"), ("used", "tom")]
    assert resolved.history.latest("history_id").history_user == other_responder  # the approver closed it
    texts = list(resolved.timeline.order_by("occurred_at", "id").values_list("text", flat=True))
    assert texts[-3:] == [
        "Rita Responder asked for a second person's approval of closing the incident: "
        "Verified for an hour, post-mortem not needed.",
        "Tom Tech approved closing the incident, as the second person after Rita Responder: Dashboards agree.",
        "Status changed to closed.",
    ]


def test_the_refusal_says_who_is_waiting(resolved, responder):
    ask(resolved, responder)

    with pytest.raises(TransitionNotAllowed) as refused:
        transition(resolved, "close", responder)

    assert refused.value.messages == [
        "Closing a Sev1 needs a second person's approval: "
        "Rita Responder's request is waiting for someone else to approve it."
    ]


@pytest.mark.parametrize("approve", [True, False])
def test_deciding_your_own_request_is_refused_and_changes_nothing(resolved, responder, approve):
    approval = ask(resolved, responder)
    before = snapshot(approval)

    with pytest.raises(ValidationError) as refused:
        services.approval_decide(approval=approval, actor=responder, approve=approve, comment="Looks fine to me.")

    assert refused.value.messages == [
        "You asked for this approval, so you cannot decide it: a second person must approve or reject it."
    ]
    assert snapshot(approval) == before


def test_a_superuser_cannot_approve_their_own_request_either(resolved, superuser):
    approval = ask(resolved, superuser)

    with pytest.raises(ValidationError, match="You asked for this approval"):
        services.approval_decide(approval=approval, actor=superuser, approve=True, comment="Mine.")


def test_the_database_refuses_a_decision_by_the_requester(resolved, responder):
    approval = ask(resolved, responder)

    with pytest.raises(IntegrityError, match="approvals_approvalrequest_second_person"), transaction.atomic():
        ApprovalRequest.objects.filter(pk=approval.pk).update(  # past the service on purpose
            state=S.APPROVED, decided_by=responder, decided_at=timezone.now()
        )


def test_one_request_waits_per_action(resolved, responder, other_responder):
    ask(resolved, responder)

    with pytest.raises(ValidationError) as refused:
        ask(resolved, other_responder)
    assert refused.value.messages == [
        "Rita Responder's request for closing the incident is already waiting for approval."
    ]
    with pytest.raises(IntegrityError, match="one_open_per_action"), transaction.atomic():
        ApprovalRequest.objects.create(
            incident=resolved,
            action=A.CLOSE_INCIDENT,
            requested_by=other_responder,
            requested_at=timezone.now(),
            request_comment="Again",
        )


def test_a_request_needs_a_comment(resolved, responder):
    with pytest.raises(ValidationError, match="A request for approval needs a comment."):
        ask(resolved, responder, comment="   ")
    assert not ApprovalRequest.objects.exists()


def test_an_approval_needs_a_comment(resolved, responder, other_responder):
    approval = ask(resolved, responder)
    before = snapshot(approval)

    with pytest.raises(ValidationError, match="Approving needs a comment."):
        services.approval_decide(approval=approval, actor=other_responder, approve=True, comment="")
    assert snapshot(approval) == before


def test_a_rejection_keeps_the_incident_open_and_a_new_request_can_follow(resolved, responder, other_responder):
    approval = ask(resolved, responder)

    services.approval_decide(approval=approval, actor=other_responder, approve=False, comment="Failure rate still up.")

    approval.refresh_from_db()
    assert (approval.state, approval.decided_by, approval.used_at) == (S.REJECTED, other_responder, None)
    resolved.refresh_from_db()
    assert resolved.status == Incident.Status.RESOLVED
    assert resolved.timeline.filter(
        text="Tom Tech rejected Rita Responder's request for closing the incident: Failure rate still up."
    ).exists()
    with pytest.raises(TransitionNotAllowed, match="request it on the incident page"):
        transition(resolved, "close", responder)
    assert ask(resolved, responder, comment="Now it is down.").state == S.PENDING


def test_the_requester_withdraws_and_no_one_else_can(resolved, responder, other_responder):
    approval = ask(resolved, responder)

    with pytest.raises(ValidationError, match="Only Rita Responder, who asked, can withdraw this request"):
        services.approval_withdraw(approval=approval, actor=other_responder)
    services.approval_withdraw(approval=approval, actor=responder, comment="Reopening instead.")

    approval.refresh_from_db()
    assert (approval.state, approval.decided_by, approval.decision_comment) == (S.WITHDRAWN, None, "Reopening instead.")
    assert approval.history.latest("history_id").history_user == responder
    with pytest.raises(ValidationError, match="Rita Responder withdrew this request."):
        services.approval_decide(approval=approval, actor=other_responder, approve=True, comment="Too late.")


def test_a_decided_request_cannot_be_decided_again(resolved, responder, other_responder, portal_admin):
    approval = approved(resolved, A.CLOSE_INCIDENT, requester=responder, approver=other_responder)
    before = snapshot(approval)

    with pytest.raises(ValidationError, match="already approved and done by Tom Tech"):
        services.approval_decide(approval=approval, actor=portal_admin, approve=False, comment="No.")
    assert snapshot(approval) == before


def test_approving_is_refused_when_the_incident_can_no_longer_close(resolved, responder, other_responder):
    approval = ask(resolved, responder)
    transition(resolved, "reopen", responder, note="Failures are back.")
    before = snapshot(approval)

    with pytest.raises(ValidationError) as refused:
        services.approval_decide(approval=approval, actor=other_responder, approve=True, comment="Fine.")

    assert refused.value.messages == ["Cannot close an incident that is investigating."]
    assert snapshot(approval) == before  # still pending: the approval, its timeline entry and the close rolled back


def test_a_close_is_requested_only_when_nothing_else_holds_it(incident, responder):
    # A Sev1 whose post-mortem is required and not written.
    with pytest.raises(ValidationError) as refused:
        ask(incident, responder)
    assert "Cannot close yet: Only a resolved incident can be closed." in refused.value.messages

    resolve(incident, responder)
    with pytest.raises(ValidationError) as refused:
        ask(incident, responder)
    [reason] = refused.value.messages
    assert reason.startswith("Cannot close yet: The post-mortem is not complete")
    assert not ApprovalRequest.objects.exists()


def test_an_approval_needs_the_permission(resolved, responder, no_approve_permission):
    approval = ask(resolved, responder)
    before = snapshot(approval)

    with pytest.raises(ValidationError, match="You do not hold the permission to approve closing the incident"):
        services.approval_decide(approval=approval, actor=no_approve_permission, approve=True, comment="Sure.")
    assert snapshot(approval) == before


def test_a_closed_incident_reopened_needs_a_new_approval(resolved, responder, other_responder):
    approved(resolved, A.CLOSE_INCIDENT, requester=responder, approver=other_responder)
    transition(resolved, "reopen", responder, note="Failures are back.")
    transition(resolved, "resolve", responder, note="Really fixed now.")

    with pytest.raises(TransitionNotAllowed, match="request it on the incident page"):
        transition(resolved, "close", responder)
    approved(resolved, A.CLOSE_INCIDENT, requester=other_responder, approver=responder)
    resolved.refresh_from_db()
    assert resolved.status == Incident.Status.CLOSED
    assert list(resolved.approval_requests.values_list("state", flat=True)) == [S.USED, S.USED]


# Severities without four eyes: exactly as before.


@pytest.mark.usefixtures("postmortems_not_required")  # closing held by neither a post-mortem nor four eyes
def test_a_severity_without_four_eyes_closes_as_before(responder):
    incident = resolve(declare(responder, level=3, title="Risk service blocking pairs"), responder)

    transition(incident, "close", responder)

    incident.refresh_from_db()
    assert incident.status == Incident.Status.CLOSED
    with pytest.raises(ValidationError, match="Sev3 incidents need no second person for closing the incident"):
        ask(incident, responder)
    assert not ApprovalRequest.objects.exists()


def test_switching_four_eyes_off_lets_a_sev1_close_alone(resolved, responder):
    sev1 = Severity.objects.get(level=1)
    sev1.four_eyes = False
    sev1.save()

    transition(resolved, "close", responder)

    resolved.refresh_from_db()
    assert resolved.status == Incident.Status.CLOSED


def test_sev2_has_four_eyes_too(responder):
    sev2 = Severity.objects.get(level=2)
    sev2.postmortem_required = False
    sev2.save()
    incident = resolve(declare(responder, level=2), responder)

    with pytest.raises(TransitionNotAllowed, match="Closing a Sev2 needs a second person's approval"):
        transition(incident, "close", responder)


def test_unknown_actions_are_refused(resolved, responder):
    with pytest.raises(ValidationError, match="Unknown action"):
        services.approval_request(incident=resolved, action="delete_everything", actor=responder, comment="x")
