"""Every write to an approval goes through here: one function per action,
keyword-only arguments, an actor, one transaction, history attributed, and an
entry on the incident's timeline.

The rule, for incidents whose severity has `four_eyes`:

- Closing: `closure_objections` (a receiver of `incidents.events.incident_closing`)
  holds the close until a second person approves it. Approving performs the close
  at once, as the approver, in the same transaction that records the approval, and
  marks the approval used: an approval is never left lying around for a later close.
- The post-mortem's detailed analysis: approving records the approval; completing
  the milestone (`postmortems.services.postmortem_complete_milestone`, by anyone who
  may complete it) calls `approval_use`, which refuses without an approval and
  marks it used.

The second person is anyone other than the requester holding the action's approve
permission (`ApprovalRequest.PERMISSIONS`). Asking and deciding by the same person
is refused here and by a database constraint.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.actors import acting_as
from incidents.models import Incident, Severity
from incidents.services import incident_close_blockers, incident_transition, timeline_record
from portal.display import person_name

from .models import ApprovalRequest

A = ApprovalRequest.Action
S = ApprovalRequest.State

# What each action is, inside a sentence.
DOING = {
    A.CLOSE_INCIDENT: "closing the incident",
    A.COMPLETE_ANALYSIS: "completing the post-mortem's detailed analysis",
}
# Where the person who meets the refusal asks for an approval.
WHERE = {A.CLOSE_INCIDENT: "the incident page", A.COMPLETE_ANALYSIS: "the post-mortem page"}
COMMENT_MAX = 2000


def four_eyes_required(incident: Incident) -> bool:
    """Whether the incident's severity needs a second person (read afresh: staff may switch it at any time)."""
    return Severity.objects.filter(pk=incident.severity_id, four_eyes=True).exists()


def _refusal(incident: Incident, action: str, pending: ApprovalRequest | None) -> str:
    what = {A.CLOSE_INCIDENT: "Closing", A.COMPLETE_ANALYSIS: "Completing the detailed analysis of"}[action]
    head = f"{what} a {incident.severity.code} needs a second person's approval"
    if pending is not None:
        return f"{head}: {person_name(pending.requested_by)}'s request is waiting for someone else to approve it."
    return f"{head}: request it on {WHERE[action]}."


def _open_request(incident: Incident, action: str) -> ApprovalRequest | None:
    """The request waiting or approved for `action` on `incident` (at most one: a constraint holds it)."""
    return (
        ApprovalRequest.objects.filter(incident=incident, action=action, state__in=[S.PENDING, S.APPROVED])
        .select_related("requested_by")
        .first()
    )


def approval_objections(incident: Incident, action: str) -> list[str]:
    """Why `action` cannot be done on `incident` yet for want of a second person ([] when it can)."""
    if not four_eyes_required(incident):
        return []
    current = _open_request(incident, action)
    if current is not None and current.state == S.APPROVED:
        return []
    return [_refusal(incident, action, current)]


def closure_objections(sender, *, incident: Incident, **kwargs) -> list[str]:
    """Receiver of `incidents.events.incident_closing`: a four-eyes incident closes only with an approval."""
    return approval_objections(incident, A.CLOSE_INCIDENT)


def _comment(comment: str, *, required: bool, what: str) -> str:
    comment = (comment or "").strip()
    if required and not comment:
        raise ValidationError(f"{what} needs a comment.")
    if len(comment) > COMMENT_MAX:
        raise ValidationError(f"A comment can be at most {COMMENT_MAX} characters.")
    return comment


def approval_request(*, incident: Incident, action: str, actor, comment: str) -> ApprovalRequest:
    """Ask a second person to approve `action` on `incident`, saying why.

    Refused when the severity needs no second person, when a request for the action is
    already waiting or approved, and for a close, when anything else holds the close:
    approving performs the close, so there must be nothing else in its way.
    """
    if action not in A.values:
        raise ValidationError(f"Unknown action “{action}”.")
    comment = _comment(comment, required=True, what="A request for approval")
    label = A(action).label
    with transaction.atomic(), acting_as(actor, f"Approval requested: {label}: {comment}"):
        # The incident's lock queues two requests for it; the partial unique constraint backs it.
        incident = Incident.objects.select_for_update(of=("self",)).select_related("severity").get(pk=incident.pk)
        if not incident.severity.four_eyes:
            raise ValidationError(
                f"{incident.severity.code} incidents need no second person for {DOING[action]}: go ahead."
            )
        current = _open_request(incident, action)
        if current is not None:
            who = person_name(current.requested_by)
            if current.state == S.PENDING:
                raise ValidationError(f"{who}'s request for {DOING[action]} is already waiting for approval.")
            raise ValidationError(f"{DOING[action].capitalize()} is already approved.")
        if action == A.CLOSE_INCIDENT:
            mine = set(approval_objections(incident, action))
            others = [reason for reason in incident_close_blockers(incident) if reason not in mine]
            if others:
                raise ValidationError([f"Cannot close yet: {reason}" for reason in others])
        approval = ApprovalRequest.objects.create(
            incident=incident,
            action=action,
            requested_by=actor,
            requested_at=timezone.now(),
            request_comment=comment,
        )
        timeline_record(
            incident=incident,
            actor=actor,
            text=f"{person_name(actor)} asked for a second person's approval of {DOING[action]}: {comment}",
            occurred_at=approval.requested_at,
        )
    return approval


def _locked(approval: ApprovalRequest) -> ApprovalRequest:
    """The request's row, locked, as the last decision left it.

    Locked alone, then read with its people: a row locked through a join comes back as it is after the
    wait, but the joined rows as they were before it (a decider read as nobody)."""
    ApprovalRequest.objects.select_for_update().filter(pk=approval.pk).values_list("pk").get()
    return ApprovalRequest.objects.select_related("incident__severity", "requested_by", "decided_by").get(
        pk=approval.pk
    )


def _still_pending(approval: ApprovalRequest) -> None:
    if approval.state == S.PENDING:
        return
    if approval.state == S.WITHDRAWN:
        raise ValidationError(f"{person_name(approval.requested_by)} withdrew this request.")
    raise ValidationError(
        f"This request was already {approval.get_state_display().lower()} by {person_name(approval.decided_by)}."
    )


def approval_decide(*, approval: ApprovalRequest, actor, approve: bool, comment: str) -> ApprovalRequest:
    """Approve or reject a waiting request, as the second person, with a comment.

    Approving a close closes the incident now, as `actor`, and marks the approval used,
    or, if the incident cannot close (reopened, post-mortem not complete), is refused
    with the reasons and changes nothing. Two people deciding at once queue on the
    request's lock: the second is told it was already decided.
    """
    verb = "approved" if approve else "rejected"
    comment = _comment(comment, required=True, what="Approving" if approve else "Rejecting")
    with transaction.atomic(), acting_as(actor, f"Request for approval {verb}: {comment}"):
        approval = _locked(approval)
        _still_pending(approval)
        if actor.pk == approval.requested_by_id:
            raise ValidationError(
                "You asked for this approval, so you cannot decide it: a second person must approve or reject it."
            )
        if not actor.has_perm(approval.permission):
            raise ValidationError(
                f"You do not hold the permission to approve {DOING[approval.action]}; "
                "ask someone in the Responders or Admins group."
            )
        now = timezone.now()
        approval.state = S.APPROVED if approve else S.REJECTED
        approval.decided_by = actor
        approval.decided_at = now
        approval.decision_comment = comment
        approval.save()
        incident = approval.incident
        requester = person_name(approval.requested_by)
        if approve:
            text = f"{person_name(actor)} approved {DOING[approval.action]}, as the second person after {requester}"
        else:
            text = f"{person_name(actor)} rejected {requester}'s request for {DOING[approval.action]}"
        timeline_record(incident=incident, actor=actor, text=f"{text}: {comment}", occurred_at=now)
        if approve and approval.action == A.CLOSE_INCIDENT:
            # Sees the approval saved above (closure_objections), and refuses with the other reasons, if any.
            incident_transition(incident=incident, action="close", actor=actor)
            _mark_used(approval, now)
    return approval


def _mark_used(approval: ApprovalRequest, now) -> None:
    approval.state = S.USED
    approval.used_at = now
    approval.save()


def approval_withdraw(*, approval: ApprovalRequest, actor, comment: str = "") -> ApprovalRequest:
    """The requester takes back a request still waiting (a comment is optional)."""
    comment = _comment(comment, required=False, what="Withdrawing")
    reason = f"Request for approval withdrawn: {comment}" if comment else "Request for approval withdrawn"
    with transaction.atomic(), acting_as(actor, reason):
        approval = _locked(approval)
        _still_pending(approval)
        if actor.pk != approval.requested_by_id:
            raise ValidationError(
                f"Only {person_name(approval.requested_by)}, who asked, can withdraw this request; "
                "a second person approves or rejects it."
            )
        now = timezone.now()
        approval.state = S.WITHDRAWN
        approval.decided_at = now
        approval.decision_comment = comment
        approval.save()
        text = f"{person_name(actor)} withdrew the request for approval of {DOING[approval.action]}"
        timeline_record(
            incident=approval.incident,
            actor=actor,
            text=f"{text}: {comment}" if comment else f"{text}.",
            occurred_at=now,
        )
    return approval


def approval_use(*, incident: Incident, action: str, actor) -> ApprovalRequest | None:
    """Inside the transaction of the action it allows: use the incident's approval for `action`,
    or refuse (ValidationError) when its severity needs one and there is none. Returns the
    approval used, or None when no second person is needed."""
    if not four_eyes_required(incident):
        return None
    with transaction.atomic(), acting_as(actor, f"Approval used: {A(action).label}"):
        approval = (
            ApprovalRequest.objects.select_for_update(of=("self",))
            .filter(incident=incident, action=action, state=S.APPROVED)
            .select_related("decided_by")  # set once approved, never changed after
            .first()
        )
        if approval is None:
            raise ValidationError(approval_objections(incident, action) or [_refusal(incident, action, None)])
        now = timezone.now()
        _mark_used(approval, now)
        timeline_record(
            incident=incident,
            actor=actor,
            text=f"{person_name(actor)} went ahead with {DOING[action]}, "
            f"approved by {person_name(approval.decided_by)}.",
            occurred_at=now,
        )
    return approval
