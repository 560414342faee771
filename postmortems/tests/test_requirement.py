"""The post-mortem requirement follows the runbook: every severity by default, switchable per
severity, and sticky on an incident once any of its severities has required one."""

import pytest

from conftest import verify_second_factor
from incidents.models import Incident, IncidentType, Severity
from incidents.services import (
    TransitionNotAllowed,
    incident_change_severity,
    incident_close_blockers,
    incident_declare,
    incident_transition,
)
from postmortems.models import PostMortem
from postmortems.tests.factories import resolve


@pytest.fixture(autouse=True)
def _one_pair_of_eyes(four_eyes_off):
    """Closing without a second person's approval: approvals tests that."""


def declare(actor, level):
    return incident_declare(
        actor=actor,
        title="Executor failing",
        severity=Severity.objects.get(level=level),
        incident_type=IncidentType.objects.get(slug="other"),
        detection_source=Incident.DetectionSource.ALERT,
    )


def fresh(incident):
    return Incident.objects.select_related("severity").get(pk=incident.pk)


def test_every_severity_requires_a_post_mortem_by_default(responder):
    assert set(Severity.objects.values_list("postmortem_required", flat=True)) == {True}
    incident = declare(responder, level=4)

    resolve(incident, responder)

    assert PostMortem.objects.filter(incident=incident).exists()
    assert fresh(incident).postmortem_required
    with pytest.raises(TransitionNotAllowed, match="The post-mortem is not complete"):
        incident_transition(incident=incident, action="close", actor=responder)


def test_a_sev1_downgraded_to_sev3_after_resolution_cannot_close_while_its_post_mortem_is_open(responder):
    Severity.objects.filter(level=3).update(postmortem_required=False)  # test setup: switched off in the admin
    incident = declare(responder, level=1)
    resolve(incident, responder)
    assert PostMortem.objects.filter(incident=incident).exists()

    incident = incident_change_severity(
        incident=incident, severity=Severity.objects.get(level=3), actor=responder, reason="Fewer traders than feared"
    )

    assert incident.severity.level == 3 and incident.postmortem_required
    assert incident_close_blockers(fresh(incident))[0].startswith("The post-mortem is not complete")
    with pytest.raises(TransitionNotAllowed):
        incident_transition(incident=incident, action="close", actor=responder)
    assert fresh(incident).status == Incident.Status.RESOLVED
    latest = incident.history.first()
    assert (latest.history_user, latest.postmortem_required) == (responder, True)


def test_downgraded_before_resolution_it_still_gets_its_post_mortem(responder):
    Severity.objects.filter(level=3).update(postmortem_required=False)  # test setup
    incident = declare(responder, level=1)
    incident_change_severity(incident=incident, severity=Severity.objects.get(level=3), actor=responder, reason="x")

    resolve(incident, responder)

    assert PostMortem.objects.filter(incident=incident).exists()


def test_raising_the_severity_makes_it_required_and_lowering_it_again_does_not_release_it(responder):
    Severity.objects.filter(level__in=[3, 4]).update(postmortem_required=False)  # test setup
    incident = declare(responder, level=4)
    assert not incident.postmortem_required

    incident = incident_change_severity(
        incident=incident, severity=Severity.objects.get(level=2), actor=responder, reason="Spreading"
    )
    assert incident.postmortem_required
    incident = incident_change_severity(
        incident=incident, severity=Severity.objects.get(level=4), actor=responder, reason="Contained"
    )
    assert fresh(incident).postmortem_required
    resolve(incident, responder)
    assert PostMortem.objects.filter(incident=incident).exists()


def test_a_severity_switched_off_closes_without_one(responder):
    Severity.objects.filter(level=3).update(postmortem_required=False)  # test setup
    incident = declare(responder, level=3)

    resolve(incident, responder)

    assert not PostMortem.objects.filter(incident=incident).exists()
    assert incident_close_blockers(fresh(incident)) == []
    incident_transition(incident=incident, action="close", actor=responder)


def test_closing_a_downgraded_incident_on_the_page_says_why_and_changes_nothing(client, responder):
    Severity.objects.filter(level=3).update(postmortem_required=False)  # test setup
    incident = declare(responder, level=1)
    resolve(incident, responder)
    incident_change_severity(incident=incident, severity=Severity.objects.get(level=3), actor=responder, reason="x")
    client.force_login(responder)
    verify_second_factor(client, responder)

    response = client.post(f"/incidents/{incident.reference}/transition/close/", {"note": ""}, follow=True)

    assert response.status_code == 200
    assert "The post-mortem is not complete" in response.content.decode()
    assert fresh(incident).status == Incident.Status.RESOLVED
