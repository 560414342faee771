"""Four eyes on the post-mortem's detailed analysis: completing it (postmortems'
service, reached here through its pages: approvals may not import postmortems)
is refused until a second person approves, and uses the approval up."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from approvals import services
from approvals.models import ApprovalRequest
from incidents.tests.factories import declare

from .helpers import approved, resolve

A = ApprovalRequest.Action
S = ApprovalRequest.State
ANALYSIS_FIELDS = [
    "timeline_summary",
    "impact_assessment",
    "response_effectiveness",
    "primary_cause",
    "contributing_factors",
    "system_vulnerabilities",
]
REFUSAL = (
    "Completing the detailed analysis of a Sev1 needs a second person's approval: request it on the post-mortem page."
)


def flashes(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def written_postmortem(incident):
    """The incident's post-mortem (reached by its reverse relation) with its analysis written."""
    postmortem = incident.postmortems.get()
    for name in ANALYSIS_FIELDS:
        setattr(postmortem, name, "Written.")
    postmortem.save()
    return postmortem


def complete_analysis(client, incident):
    return client.post(reverse("postmortems:milestone_complete", args=[incident.reference, "analysis"]), {"notes": ""})


def analysis(incident):
    return incident.postmortems.get().milestones.get(kind="analysis")


@pytest.fixture
def analysed(responder):
    """A resolved Sev1 (its post-mortem opened on resolution) whose analysis is written."""
    incident = resolve(declare(responder, title="Trades reverting"), responder)
    written_postmortem(incident)
    return incident


def test_completing_the_analysis_is_refused_without_an_approval(client, analysed, responder):
    client.force_login(responder)

    response = complete_analysis(client, analysed)

    assert flashes(response) == [REFUSAL]
    assert analysis(analysed).completed_at is None


def test_the_post_mortem_page_asks_and_a_second_person_approves(client, analysed, responder, other_responder):
    page = reverse("postmortems:detail", args=[analysed.reference])
    client.force_login(responder)
    body = client.get(page).content.decode()
    assert "Request approval of the analysis" in body

    response = client.post(
        reverse("approvals:request", args=[analysed.reference, A.COMPLETE_ANALYSIS]),
        {"comment": "Root cause confirmed with the vendor.", "next": page + "#milestone-analysis"},
    )
    assert response.status_code == 302 and response["Location"] == page + "#milestone-analysis"
    assert flashes(complete_analysis(client, analysed))[-1:] == [
        "Completing the detailed analysis of a Sev1 needs a second person's approval: "
        "Rita Responder's request is waiting for someone else to approve it."
    ]

    client.force_login(other_responder)
    body = client.get(page).content.decode()
    assert "Root cause confirmed with the vendor." in body and "Approve the analysis" in body
    approval = analysed.approval_requests.get()
    response = client.post(
        reverse("approvals:decide", args=[approval.pk]), {"comment": "Read it all.", "decision": "approve"}
    )
    assert flashes(response) == ["Approved: the detailed analysis can now be marked complete."]
    approval.refresh_from_db()
    assert (approval.state, approval.decided_by) == (S.APPROVED, other_responder)

    client.force_login(responder)  # the requester, or anyone who may complete milestones
    assert "Approved: the analysis can now be marked complete." in client.get(page).content.decode()
    response = complete_analysis(client, analysed)

    assert flashes(response) == ["Detailed analysis completed."]
    milestone = analysis(analysed)
    assert (milestone.completed_by, milestone.completed_at is not None) == (responder, True)
    approval.refresh_from_db()
    assert approval.state == S.USED and approval.used_at >= approval.decided_at
    assert [h.history_user.username for h in approval.history.order_by("history_id")] == ["rita", "tom", "rita"]
    assert analysed.timeline.filter(
        text="Rita Responder went ahead with completing the post-mortem's detailed analysis, approved by Tom Tech."
    ).exists()
    body = client.get(page).content.decode()
    assert "Analysis marked complete with this approval." in body
    assert "Request approval of the analysis" not in body


def test_the_requester_cannot_approve_their_own_analysis(client, analysed, responder):
    approval = services.approval_request(
        incident=analysed, action=A.COMPLETE_ANALYSIS, actor=responder, comment="Done."
    )
    client.force_login(responder)

    response = client.post(reverse("approvals:decide", args=[approval.pk]), {"comment": "Me.", "decision": "approve"})

    assert response.status_code == 400
    approval.refresh_from_db()
    assert approval.state == S.PENDING
    assert flashes(complete_analysis(client, analysed))[0].startswith("Completing the detailed analysis of a Sev1")


def test_an_approval_is_used_once(client, analysed, responder, other_responder):
    approved(analysed, A.COMPLETE_ANALYSIS, requester=responder, approver=other_responder)
    with pytest.raises(Exception, match="already approved"):
        services.approval_request(incident=analysed, action=A.COMPLETE_ANALYSIS, actor=responder, comment="Again")
    client.force_login(responder)

    assert flashes(complete_analysis(client, analysed)) == ["Detailed analysis completed."]
    assert list(analysed.approval_requests.values_list("state", flat=True)) == [S.USED]


def test_without_four_eyes_the_analysis_completes_as_before(client, responder):
    incident = resolve(declare(responder, level=3, title="Risk service blocking pairs"), responder)
    client.force_login(responder)
    client.post(reverse("postmortems:open", args=[incident.reference]))
    written_postmortem(incident)

    body = client.get(reverse("postmortems:detail", args=[incident.reference])).content.decode()
    response = complete_analysis(client, incident)

    assert "Request approval of the analysis" not in body
    assert flashes(response) == ["Detailed analysis completed."]
    assert analysis(incident).completed_at is not None
    assert not ApprovalRequest.objects.exists()


def test_missing_analysis_is_reported_before_the_approval(client, responder):
    incident = resolve(declare(responder, title="Nothing written"), responder)
    client.force_login(responder)

    response = complete_analysis(client, incident)

    assert flashes(response)[0].startswith("Fill in the analysis first")
