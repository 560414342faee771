"""The approvals' boxes on other apps' pages (connected in ApprovalsConfig.ready):
"Waiting for your approval" on the dashboard, an incident's approvals on its page,
and the analysis milestone's approval on the post-mortem page (`approval_box`,
which postmortems' view puts in its context). Each runs a constant number of
bounded, indexed queries (see `selectors`)."""

from django.utils import timezone

from incidents.models import Incident
from incidents.panels import Panel

from . import selectors
from .forms import DecisionForm, RequestForm, WithdrawForm
from .models import ApprovalRequest

A = ApprovalRequest.Action
S = ApprovalRequest.State


def approval_box(*, request, incident: Incident, action: str, requests: list[ApprovalRequest], next_url=None) -> dict:
    """What a box shows `request.user` about `action` on `incident`: the requests, and the forms they may use.

    `requests` are the incident's requests to list (selectors.incident_requests); `next_url` is where the
    forms return to (this page). A refused form is shown again by the page it lands on (approvals.views)."""
    user = request.user
    current = next((r for r in requests if r.action == action and r.state in (S.PENDING, S.APPROVED)), None)
    four_eyes = incident.severity.four_eyes
    pending = current is not None and current.is_pending
    may_request = (
        four_eyes
        and current is None
        and user.has_perm("approvals.add_approvalrequest")
        and (action != A.CLOSE_INCIDENT or incident.status == Incident.Status.RESOLVED)
    )
    return {
        "incident": incident,
        "action": action,
        "action_label": A(action).label,
        "four_eyes": four_eyes,
        "requests": requests,
        "current": current,
        "may_request": may_request,
        "may_decide": pending and current.may_be_decided_by(user),
        "is_requester": pending and current.requested_by_id == user.pk,
        "request_form": RequestForm(auto_id=f"id_{action}_request_%s"),
        "decision_form": DecisionForm(auto_id=f"id_{action}_decision_%s"),
        "withdraw_form": WithdrawForm(auto_id=f"id_{action}_withdraw_%s"),
        "next_url": next_url or request.get_full_path(),
        "now": timezone.now(),
    }


def incident_panel(sender, *, request, incident: Incident, **kwargs) -> Panel | None:
    """The incident's approvals (every action's, as its record) with the close's forms: one query."""
    if not request.user.has_perm("approvals.view_approvalrequest"):
        return None
    requests = selectors.incident_requests(incident)
    if not requests and not incident.severity.four_eyes:
        return None
    context = approval_box(request=request, incident=incident, action=A.CLOSE_INCIDENT, requests=requests)
    return Panel(name="approvals", template="approvals/panels/incident.html", context=context, order=40)


def analysis_box(request, incident: Incident) -> dict | None:
    """The analysis milestone's approval box on the post-mortem page (None when there is nothing to show)."""
    if not request.user.has_perm("approvals.view_approvalrequest"):
        return None
    requests = selectors.incident_requests(incident, actions=[A.COMPLETE_ANALYSIS])
    if not requests and not incident.severity.four_eyes:
        return None
    return approval_box(request=request, incident=incident, action=A.COMPLETE_ANALYSIS, requests=requests)


def dashboard_panel(sender, *, request, **kwargs) -> Panel | None:
    """Waiting for your approval: the newest requests the user may decide and how many there are (two queries)."""
    if not ApprovalRequest.actions_approvable_by(request.user):
        return None
    rows, count = selectors.waiting_for(request.user)
    context = {"waiting": rows, "waiting_count": count, "capped": count >= selectors.COUNT_CAP, "now": timezone.now()}
    return Panel(name="approvals-waiting", template="approvals/panels/dashboard.html", context=context, order=20)
