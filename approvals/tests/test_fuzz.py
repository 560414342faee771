"""The comment forms, fuzzed: whatever is sent, the answer is a redirect after a change
that fits what was sent, or a 400 that changes nothing; never a server error."""

import os

import pytest
from django.db import transaction
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from approvals import services
from approvals.models import ApprovalRequest
from incidents.models import Incident

A = ApprovalRequest.Action
S = ApprovalRequest.State

EXAMPLES = 1500 if os.environ.get("HYPOTHESIS_PROFILE") == "slow" else 90
EDGES = ["", " ", "\n", "0", "-1", "approve", "reject", "\x00", "a\x00b", "<script>alert(1)</script>", "Ω" * 300]
value = st.one_of(st.sampled_from(EDGES), st.text(max_size=60), st.integers(-(10**20), 10**20).map(str))
field_value = value | st.lists(value, max_size=3)  # a field sent several times: the form reads the last
text = st.one_of(field_value, st.text(max_size=3000), st.just("x" * 2000), st.just("x" * 2001))
fields = st.fixed_dictionaries(
    {},
    optional={
        "comment": text,
        "decision": st.one_of(st.sampled_from(["approve", "reject", "APPROVE", ""]), field_value),
        "next": st.one_of(st.sampled_from(["/", "//evil.example", "http://[", "/x\x00y", "/a\nb"]), field_value),
    },
)


def _seen(data, name):
    """The value a form reads of `name`: the last of several, None when absent."""
    value = data.get(name)
    if isinstance(value, list):
        return value[-1] if value else None
    return value


def _good_comment(data) -> bool:
    comment = _seen(data, "comment")
    return isinstance(comment, str) and 0 < len(comment.strip()) <= 2000 and "\x00" not in comment


def _answer(client, url, data):
    """POST `data` and roll back what it did, so every example starts from the same request."""
    with transaction.atomic():
        response = client.post(url, data)
        assert response.status_code in {302, 400}, (url, data, response.status_code)
        outcome = response.status_code, list(ApprovalRequest.objects.order_by("pk").values_list("state", flat=True))
        incident_status = Incident.objects.values_list("status", flat=True).get()
        transaction.set_rollback(True)
    return (*outcome, incident_status)


@pytest.mark.fuzz
def test_asking_with_any_input(client, resolved, responder):
    client.force_login(responder)
    url = reverse("approvals:request", args=[resolved.reference, A.CLOSE_INCIDENT])

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    @given(data=fields)
    def check(data):
        status, states, _ = _answer(client, url, data)
        if _good_comment(data):
            assert (status, states) == (302, [S.PENDING])
        else:
            assert (status, states) == (400, [])

    check()


@pytest.mark.fuzz
def test_deciding_with_any_input(client, resolved, responder, other_responder):
    approval = services.approval_request(
        incident=resolved, action=A.CLOSE_INCIDENT, actor=responder, comment="Verified."
    )
    client.force_login(other_responder)
    url = reverse("approvals:decide", args=[approval.pk])

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    @given(data=fields)
    def check(data):
        status, states, incident_status = _answer(client, url, data)
        decision = _seen(data, "decision")
        if _good_comment(data) and decision in ("approve", "reject"):
            expected = (S.USED, Incident.Status.CLOSED) if decision == "approve" else (S.REJECTED, "resolved")
            assert (status, states[0], incident_status) == (302, *expected)
        else:
            assert (status, states, incident_status) == (400, [S.PENDING], Incident.Status.RESOLVED)

    check()


@pytest.mark.fuzz
def test_withdrawing_with_any_input(client, resolved, responder):
    approval = services.approval_request(
        incident=resolved, action=A.CLOSE_INCIDENT, actor=responder, comment="Verified."
    )
    client.force_login(responder)
    url = reverse("approvals:withdraw", args=[approval.pk])

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    @given(data=fields)
    def check(data):
        status, states, _ = _answer(client, url, data)
        comment = _seen(data, "comment")
        fits = comment is None or (isinstance(comment, str) and len(comment.strip()) <= 2000 and "\x00" not in comment)
        assert (status, states) == ((302, [S.WITHDRAWN]) if fits else (400, [S.PENDING]))

    check()
