import pytest

from approvals.models import ApprovalRequest
from conftest import make_user
from incidents import services as incident_services
from incidents.models import Severity
from incidents.tests.factories import declare

from .helpers import resolve

A = ApprovalRequest.Action


@pytest.fixture
def sev1_no_postmortem(runbook):
    """Sev1 keeps its four eyes but needs no post-mortem, so only the approval holds its close."""
    sev1 = Severity.objects.get(level=1)
    sev1.postmortem_required = False
    sev1.save()
    return sev1


@pytest.fixture
def resolved(sev1_no_postmortem, responder):
    """A resolved Sev1 that nothing but the second person holds open."""
    return resolve(declare(responder, title="Trades reverting on mainnet"), responder)


@pytest.fixture
def no_approve_permission(runbook):
    """A responder in all but the approve permissions: works incidents, asks for approvals, decides none."""
    from django.contrib.auth.models import Group, Permission

    group = Group.objects.create(name="Responders without approval")
    group.permissions.set(
        Permission.objects.filter(group__name="Responders").exclude(codename__startswith="approve_").distinct()
    )
    return make_user("nora", "Responders without approval", first_name="Nora", last_name="Noapprove")


@pytest.fixture
def approver(runbook):
    """A third responder, for two approvers at once."""
    return make_user("una", "Responders", first_name="Una", last_name="Approver")


def transition(incident, action, actor, note=""):
    return incident_services.incident_transition(incident=incident, action=action, actor=actor, note=note)
