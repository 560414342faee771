"""Getting a second person's approval through the services, for tests that need a four-eyes
action done (closing a Sev1 or Sev2, completing its post-mortem's analysis) but are not about it."""

from approvals import services
from approvals.models import ApprovalRequest
from incidents import services as incident_services

A = ApprovalRequest.Action


def resolve(incident, actor):
    incident_services.incident_transition(incident=incident, action="acknowledge", actor=actor)
    return incident_services.incident_transition(
        incident=incident, action="resolve", actor=actor, note="Failure rate back to baseline."
    )


def approved(incident, action, *, requester, approver, comment="Checked it.") -> ApprovalRequest:
    """`action` on `incident` asked for by `requester` and approved by `approver`. For a close, approving
    closes the incident; for the analysis, the approval waits to be used by the milestone's completion."""
    approval = services.approval_request(incident=incident, action=action, actor=requester, comment="Please approve.")
    return services.approval_decide(approval=approval, actor=approver, approve=True, comment=comment)
