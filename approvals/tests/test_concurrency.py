"""Two second persons deciding the same request at the same moment: one decision,
never two (the request's row lock, `select_for_update`, queues the second)."""

import contextlib
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from approvals import services
from approvals.models import ApprovalRequest
from incidents.tests.factories import declare

from .helpers import resolve

A = ApprovalRequest.Action
S = ApprovalRequest.State


def decide_together(approval, deciders, monkeypatch, approve=True) -> dict[str, str]:
    """Each of `deciders` decides `approval` in a thread of its own (its own connection).

    Each decision waits, after taking the request's row, until the other has got that far too (or 3 s have
    passed): without the lock both would read "pending" and both would decide; with it, the second cannot
    take the row until the first has committed, and then reads the first one's decision."""
    barrier = threading.Barrier(len(deciders))
    check = services._still_pending

    def meet_then_check(locked):
        # Broken after 3 s when the other is waiting for the row: this one goes first.
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=3)
        return check(locked)

    monkeypatch.setattr(services, "_still_pending", meet_then_check)
    outcomes = {}

    def decide(user):
        try:
            services.approval_decide(approval=approval, actor=user, approve=approve, comment=f"{user.username} agrees")
            outcomes[user.username] = "decided"
        except ValidationError as exc:
            outcomes[user.username] = exc.messages[0]
        finally:
            connection.close()

    threads = [threading.Thread(target=decide, args=(user,)) for user in deciders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_two_approvers_at_once_make_one_approval(responder, other_responder, approver, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.fail("Concurrency needs PostgreSQL (make test sets DATABASE_URL).")
    incident = declare(responder)
    approval = services.approval_request(
        incident=incident, action=A.COMPLETE_ANALYSIS, actor=responder, comment="Analysis written."
    )

    outcomes = decide_together(approval, [other_responder, approver], monkeypatch)

    assert list(outcomes.values()).count("decided") == 1
    [refused] = [message for message in outcomes.values() if message != "decided"]
    approval.refresh_from_db()
    winner = approval.decided_by
    assert refused == f"This request was already approved by {winner.get_full_name()}."
    assert approval.history.filter(state=S.APPROVED).count() == 1
    assert incident.timeline.filter(text__contains="approved completing").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_approvers_of_a_close_close_it_once(responder, other_responder, approver, monkeypatch):
    from incidents.models import Incident, Severity

    Severity.objects.filter(level=1).update(postmortem_required=False)  # reference data, no history needed in a test
    incident = resolve(declare(responder), responder)
    approval = services.approval_request(
        incident=incident, action=A.CLOSE_INCIDENT, actor=responder, comment="Verified."
    )

    outcomes = decide_together(approval, [other_responder, approver], monkeypatch)

    assert list(outcomes.values()).count("decided") == 1
    incident.refresh_from_db()
    assert incident.status == Incident.Status.CLOSED
    assert incident.timeline.filter(text="Status changed to closed.").count() == 1
    assert approval.history.filter(state=S.USED).count() == 1
