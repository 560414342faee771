"""The pages: the incident page's approvals, the request and decision forms, who may
use them, the dashboard's "Waiting for your approval" and /approvals/, and their
query budgets."""

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from approvals import services
from approvals.models import ApprovalRequest
from incidents.models import Incident, Severity
from incidents.tests.factories import declare
from portal.testing import report_figures

from .helpers import resolve

A = ApprovalRequest.Action
S = ApprovalRequest.State


def flashes(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def request_url(incident, action=A.CLOSE_INCIDENT):
    return reverse("approvals:request", args=[incident.reference, action])


def decide_url(approval):
    return reverse("approvals:decide", args=[approval.pk])


def ask(incident, actor, action=A.CLOSE_INCIDENT, comment="Verified for an hour."):
    return services.approval_request(incident=incident, action=action, actor=actor, comment=comment)


def state(approval):
    approval.refresh_from_db()
    return approval.state, approval.decided_by_id, approval.history.count()


def test_the_incident_page_offers_the_request_to_a_responder(client, resolved, responder):
    client.force_login(responder)

    body = client.get(resolved.get_absolute_url()).content.decode()

    assert "Second-person approval" in body
    assert "Closing a Sev1 needs a second person&#x27;s approval" in body
    assert "Request approval to close" in body
    # The close's refusal is also among the reasons the page gives for not closing yet.
    assert "request it on the incident page." in body


def test_asking_on_the_incident_page_then_approving_closes_it(client, resolved, responder, other_responder):
    client.force_login(responder)
    page = resolved.get_absolute_url()

    response = client.post(request_url(resolved), {"comment": "Failure rate flat for an hour.", "next": page})

    assert response.status_code == 302 and response["Location"] == page
    approval = resolved.approval_requests.get()
    assert (approval.state, approval.request_comment) == (S.PENDING, "Failure rate flat for an hour.")
    body = client.get(page).content.decode()
    assert "Waiting for someone other than you" in body and "Approve and close" not in body
    assert "Failure rate flat for an hour." in body

    client.force_login(other_responder)
    body = client.get(page).content.decode()
    assert "Approve and close" in body and "Reject" in body
    response = client.post(decide_url(approval), {"comment": "Agreed.", "decision": "approve", "next": page})

    assert response.status_code == 302 and response["Location"] == page
    assert flashes(response) == [f"Approved: {resolved.reference} is now closed."]
    resolved.refresh_from_db()
    assert resolved.status == Incident.Status.CLOSED
    body = client.get(page).content.decode()
    assert "Approved and done" in body and "Incident closed with this approval." in body and "Agreed." in body


def test_approving_your_own_request_is_refused_with_the_reason_and_keeps_the_comment(client, resolved, responder):
    approval = ask(resolved, responder)
    before = state(approval)
    client.force_login(responder)

    response = client.post(decide_url(approval), {"comment": "Typed with care.", "decision": "approve"})

    assert response.status_code == 400
    body = response.content.decode()
    assert "You asked for this approval, so you cannot decide it" in body
    assert "Typed with care." in body
    assert state(approval) == before
    resolved.refresh_from_db()
    assert resolved.status == Incident.Status.RESOLVED


def test_a_request_without_a_comment_is_shown_again_with_the_error(client, resolved, responder):
    client.force_login(responder)

    response = client.post(request_url(resolved), {"comment": "   "})

    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not ApprovalRequest.objects.exists()


def test_a_refused_request_keeps_what_was_typed(client, incident, responder):
    client.force_login(responder)  # the incident is not resolved yet

    response = client.post(request_url(incident), {"comment": "Please close it."})

    assert response.status_code == 400
    body = response.content.decode()
    assert "Cannot close yet: Only a resolved incident can be closed." in body
    assert "Please close it." in body


def test_a_decision_needs_a_button_and_a_comment(client, resolved, responder, other_responder):
    approval = ask(resolved, responder)
    before = state(approval)
    client.force_login(other_responder)

    no_button = client.post(decide_url(approval), {"comment": "Fine."})
    no_comment = client.post(decide_url(approval), {"comment": "", "decision": "reject"})

    assert no_button.status_code == no_comment.status_code == 400
    assert "Press Approve or Reject." in no_button.content.decode()
    assert "This field is required." in no_comment.content.decode()
    assert state(approval) == before


def test_rejecting_and_withdrawing_on_the_pages(client, resolved, responder, other_responder):
    approval = ask(resolved, responder)
    client.force_login(other_responder)
    response = client.post(decide_url(approval), {"comment": "Not yet.", "decision": "reject"})
    assert response.status_code == 302 and response["Location"] == approval.get_absolute_url()
    assert state(approval)[:2] == (S.REJECTED, other_responder.pk)

    second = ask(resolved, responder, comment="Now?")
    client.force_login(other_responder)
    refused = client.post(reverse("approvals:withdraw", args=[second.pk]), {"comment": "Not mine"})
    assert refused.status_code == 400 and "Only Rita Responder, who asked, can withdraw" in refused.content.decode()
    client.force_login(responder)
    response = client.post(reverse("approvals:withdraw", args=[second.pk]), {"comment": ""})
    assert response.status_code == 302
    assert state(second)[0] == S.WITHDRAWN


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/x\r\nSet-Cookie: a=b", "/x\x00"])
def test_next_never_leaves_the_site(client, resolved, responder, target):
    client.force_login(responder)

    response = client.post(request_url(resolved), {"comment": "Go.", "next": target})

    assert response.status_code == 302
    assert response["Location"] == resolved.approval_requests.get().get_absolute_url()


def test_unknown_actions_and_requests_are_404(client, resolved, responder, other_responder):
    client.force_login(other_responder)

    assert client.post(request_url(resolved, "delete_everything"), {"comment": "x"}).status_code == 404
    assert client.post(reverse("approvals:decide", args=[999999]), {"comment": "x"}).status_code == 404
    assert client.get(reverse("approvals:detail", args=[999999])).status_code == 404


# Who may do what.


def test_viewers_see_approvals_but_cannot_ask_or_decide(client, resolved, responder, viewer):
    approval = ask(resolved, responder)
    before = state(approval)
    client.force_login(viewer)

    assert client.get(resolved.get_absolute_url()).status_code == 200
    assert client.get(approval.get_absolute_url()).status_code == 200
    assert client.get(reverse("approvals:list")).status_code == 200
    body = client.get(resolved.get_absolute_url()).content.decode()
    assert "Verified for an hour." in body and "Approve and close" not in body
    assert client.post(request_url(resolved), {"comment": "x"}).status_code == 403
    assert client.post(decide_url(approval), {"comment": "x", "decision": "approve"}).status_code == 403
    assert client.post(reverse("approvals:withdraw", args=[approval.pk])).status_code == 403
    assert client.post(reverse("approvals:list")).status_code == 405
    assert state(approval) == before


def test_a_responder_without_the_approve_permission_cannot_approve(client, resolved, responder, no_approve_permission):
    approval = ask(resolved, responder)
    before = state(approval)
    client.force_login(no_approve_permission)

    body = client.get(resolved.get_absolute_url()).content.decode()
    response = client.post(decide_url(approval), {"comment": "Sure.", "decision": "approve"})

    assert "Approve and close" not in body
    assert response.status_code == 403
    assert state(approval) == before
    # They may still ask (they work incidents), and someone with the permission decides.
    assert client.post(reverse("approvals:withdraw", args=[approval.pk])).status_code == 400


def test_an_admin_may_approve(client, resolved, responder, portal_admin):
    approval = ask(resolved, responder)
    client.force_login(portal_admin)

    response = client.post(decide_url(approval), {"comment": "Checked.", "decision": "approve"})

    assert response.status_code == 302
    assert state(approval)[:2] == (S.USED, portal_admin.pk)


def test_anonymous_visitors_go_to_the_login_page(client, resolved, responder):
    approval = ask(resolved, responder)
    for response in [
        client.get(reverse("approvals:list")),
        client.get(approval.get_absolute_url()),
        client.post(decide_url(approval), {"comment": "x", "decision": "approve"}),
        client.post(request_url(resolved), {"comment": "x"}),
    ]:
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert state(approval)[0] == S.PENDING


# Four eyes off: no box, nothing to ask.


def test_a_severity_without_four_eyes_shows_no_approvals(client, responder):
    incident = resolve(declare(responder, level=3), responder)
    client.force_login(responder)

    body = client.get(incident.get_absolute_url()).content.decode()
    response = client.post(request_url(incident), {"comment": "Can I?"})

    assert "Second-person approval" not in body
    assert response.status_code == 400
    assert "Sev3 incidents need no second person for closing the incident: go ahead." in response.content.decode()


# The dashboard and /approvals/.


def test_the_dashboard_shows_what_waits_for_you_and_not_your_own(client, resolved, responder, other_responder):
    ask(resolved, responder)

    client.force_login(other_responder)
    theirs = client.get(reverse("incidents:dashboard")).content.decode()
    client.force_login(responder)
    mine = client.get(reverse("incidents:dashboard")).content.decode()

    assert "Waiting for your approval" in theirs
    assert f'data-reference="{resolved.reference}"' in theirs and "asked by Rita Responder" in theirs
    assert "Nothing waits for your approval." in mine
    assert f'class="waiting-approval" data-reference="{resolved.reference}"' not in mine


def test_viewers_get_no_approvals_panel(client, resolved, responder, viewer):
    ask(resolved, responder)
    client.force_login(viewer)

    assert "Waiting for your approval" not in client.get(reverse("incidents:dashboard")).content.decode()


def four_eyes_requests(count, requester, start=0):
    """`count` requests waiting (the analysis's: they need no resolved incident), newest last."""
    return [
        ask(declare(requester, title=f"Incident {start + i}"), requester, A.COMPLETE_ANALYSIS, comment=f"Analysis {i}")
        for i in range(count)
    ]


def test_the_approvals_list_pages_by_cursor_newest_first(client, responder, other_responder):
    made = four_eyes_requests(30, responder)
    client.force_login(other_responder)

    first = client.get(reverse("approvals:list"))
    page = first.context["page"]
    second = client.get(reverse("approvals:list"), {"after": page.next_cursor})
    bad_cursor = client.get(reverse("approvals:list"), {"after": "not-a-cursor"})

    newest_first = [a.pk for a in reversed(made)]
    assert [a.pk for a in first.context["approvals"]] == newest_first[:25]
    assert [a.pk for a in second.context["approvals"]] == newest_first[25:]
    assert page.has_next and not second.context["page"].has_next
    assert bad_cursor.status_code == 200 and [a.pk for a in bad_cursor.context["approvals"]] == newest_first[:25]
    # The requester's own are not theirs to decide: listed apart, as waiting for someone else.
    client.force_login(responder)
    own = client.get(reverse("approvals:list"))
    assert list(own.context["approvals"]) == [] and len(own.context["own"]) == 20


def test_the_dashboard_counts_past_the_shown_rows(client, responder, other_responder):
    four_eyes_requests(23, responder)
    client.force_login(other_responder)

    body = client.get(reverse("incidents:dashboard")).content.decode()

    assert body.count('class="waiting-approval"') == 20
    assert "23 waiting in all; the 20 newest are shown." in body


def count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("url", ["/", "/approvals/"])
def test_dashboard_and_list_queries_do_not_grow_with_requests(client, responder, other_responder, url):
    four_eyes_requests(5, responder)
    client.force_login(other_responder)
    with_5 = count_queries(client, url)
    four_eyes_requests(45, responder, start=5)
    with_50 = count_queries(client, url)

    assert ApprovalRequest.objects.decidable_by(other_responder).count() == 50
    assert with_5 == with_50
    report_figures(f"queries {url} (approvals)", requests_5=with_5, requests_50=with_50)


def test_the_incident_page_queries_do_not_grow_with_its_requests(client, resolved, responder, other_responder):
    other = resolve(declare(responder, title="Another"), responder)

    def churn(incident, n):
        for i in range(n):
            approval = ask(incident, responder, comment=f"Try {i}")
            services.approval_decide(approval=approval, actor=other_responder, approve=False, comment=f"No {i}")
        ask(incident, responder, comment="Last try")

    churn(resolved, 5)
    churn(other, 50)
    client.force_login(other_responder)

    with_5 = count_queries(client, resolved.get_absolute_url())
    with_50 = count_queries(client, other.get_absolute_url())
    body = client.get(other.get_absolute_url()).content.decode()

    assert with_5 == with_50
    assert "Last try" in body and "Approve and close" in body  # the waiting one is shown first, whatever came before
    report_figures("queries incident page (approvals)", requests_5=with_5, requests_50=with_50)


def test_the_seeded_groups_hold_the_approve_permissions(runbook):
    from django.contrib.auth.models import Group

    def approve_perms(name):
        return set(
            Group.objects.get(name=name)
            .permissions.filter(codename__startswith="approve_")
            .values_list("codename", flat=True)
        )

    both = {"approve_close_incident", "approve_complete_analysis"}
    assert approve_perms("Responders") == approve_perms("Admins") == both
    assert approve_perms("Viewers") == set()
    assert set(Severity.objects.filter(four_eyes=True).values_list("level", flat=True)) == {1, 2}


def test_the_admin_shows_requests_read_only(client, resolved, responder, portal_admin):
    approval = ask(resolved, responder)
    client.force_login(portal_admin)

    changelist = client.get("/admin/approvals/approvalrequest/")
    change = client.get(f"/admin/approvals/approvalrequest/{approval.pk}/change/")
    history = client.get(f"/admin/approvals/approvalrequest/{approval.pk}/history/")

    assert changelist.status_code == change.status_code == history.status_code == 200
    assert "Verified for an hour." in change.content.decode()
    assert client.get("/admin/approvals/approvalrequest/add/").status_code == 403
    assert client.post(f"/admin/approvals/approvalrequest/{approval.pk}/delete/").status_code == 403
    assert state(approval)[0] == S.PENDING
