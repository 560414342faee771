import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from incidents.models import CommunicationChannel, Contact, IncidentType, Role, RunbookStep, Service, Severity
from incidents.runbook_data import GENERAL_STEPS

SEEDED = [Severity, IncidentType, RunbookStep, Role, Contact, CommunicationChannel, Service]


@pytest.fixture(autouse=True)
def empty_runbook(db):
    """Start from a database without the runbook (the suite seeds it once per session)."""
    for model in SEEDED[::-1]:
        model.objects.all().delete()
    for model in SEEDED:
        model.history.all().delete()
    Group.objects.all().delete()
    assert all(count == (0, 0) for count in _counts().values())


def _counts():
    return {model.__name__: (model.objects.count(), model.history.count()) for model in SEEDED}


def test_seed_loads_the_whole_runbook(db):
    call_command("seed_runbook")

    assert list(Severity.objects.values_list("level", "name")) == [
        (1, "Critical"),
        (2, "High"),
        (3, "Medium"),
        (4, "Low"),
    ]
    sev1 = Severity.objects.get(level=1)
    assert sev1.criteria_list() == [
        "Complete system outage",
        "Security breach",
        "Financial loss",
        "Data corruption",
        "Compliance violation",
    ]
    assert [s.update_interval.total_seconds() if s.update_interval else None for s in Severity.objects.all()] == [
        1800,
        3600,
        7200,
        None,
    ]
    # The runbook: post-mortem analysis is part of every incident's post-incident activities.
    assert list(Severity.objects.filter(postmortem_required=True).values_list("level", flat=True)) == [1, 2, 3, 4]
    assert [s.stall_after.total_seconds() / 3600 for s in Severity.objects.all()] == [1, 2, 8, 24]
    general = RunbookStep.objects.filter(incident_type__isnull=True)
    assert general.count() == len(GENERAL_STEPS) == 41
    assert set(general.values_list("kind", flat=True)) == {
        "initial_response",
        "investigation",
        "resolution",
        "post_incident",
    }
    assert set(general.exclude(performed_by_portal="").values_list("performed_by_portal", flat=True)) == set(
        RunbookStep.Performs.values
    )
    assert set(IncidentType.objects.values_list("slug", flat=True)) == {
        "trade-execution-failure",
        "signal-processing-delay",
        "risk-control-block",
        "security-incident",
        "other",
    }
    security = IncidentType.objects.get(slug="security-incident")
    assert security.steps.filter(kind="symptom").count() == 4
    assert list(security.steps.filter(kind="resolution").values_list("text", flat=True))[-1] == (
        "Report to authorities (if required)"
    )
    assert RunbookStep.objects.filter(incident_type__slug="trade-execution-failure").count() == 13
    assert list(Role.objects.values_list("name", flat=True)) == [
        "Incident Commander",
        "Technical Lead",
        "Communications Lead",
        "Support Lead",
    ]
    assert Role.objects.get(slug="support-lead").responsibility_list()[0] == "User impact assessment"
    assert Contact.objects.get(name="CTO").phone == "+1-555-0111"
    assert Contact.objects.get(role__slug="incident-commander").email == "ic@snippingbot.com"
    assert Contact.objects.filter(category="vendor").count() == 3
    assert CommunicationChannel.objects.get(name="Slack #incidents").purpose == "Primary channel"


def test_seed_twice_changes_nothing_and_writes_no_history(db):
    call_command("seed_runbook")
    first = _counts()

    call_command("seed_runbook")

    assert _counts() == first
    assert all(rows > 0 for rows, _ in first.values())


def test_seed_restores_an_edited_row_and_records_why(db):
    call_command("seed_runbook")
    cto = Contact.objects.get(name="CTO")
    cto.phone = "+1-555-9999"
    cto.save()

    call_command("seed_runbook")

    cto.refresh_from_db()
    assert cto.phone == "+1-555-0111"
    latest = cto.history.first()
    assert latest.history_change_reason == "seed_runbook"
    assert latest.history_user.username == "system"


def test_seed_keeps_staffs_post_mortem_switch_stall_period_and_edited_general_steps(db):
    from datetime import timedelta

    call_command("seed_runbook")
    sev4 = Severity.objects.get(level=4)
    sev4.postmortem_required, sev4.stall_after = False, timedelta(hours=48)
    sev4.save()
    step = RunbookStep.objects.get(incident_type__isnull=True, kind="post_incident", position=3)
    step.text = "Review response effectiveness with the desk"
    step.save()
    RunbookStep.objects.get(incident_type__isnull=True, kind="post_incident", position=8).delete()

    call_command("seed_runbook")

    sev4.refresh_from_db()
    assert (sev4.postmortem_required, sev4.stall_after) == (False, timedelta(hours=48))
    assert RunbookStep.objects.get(pk=step.pk).text == "Review response effectiveness with the desk"
    assert RunbookStep.objects.filter(incident_type__isnull=True).count() == len(GENERAL_STEPS) - 1


def test_seed_demo_creates_incidents_in_different_phases_once(db):
    call_command("seed_runbook", "--demo")
    from incidents.models import Incident

    statuses = set(Incident.objects.values_list("status", flat=True))
    assert {"detected", "investigating", "resolved"} <= statuses
    count = Incident.objects.count()

    call_command("seed_runbook", "--demo")

    assert Incident.objects.count() == count == 5


def test_seed_creates_permission_groups(db):
    call_command("seed_runbook")

    responders = Group.objects.get(name="Responders")
    viewers = Group.objects.get(name="Viewers")
    assert responders.permissions.filter(codename="add_incident").exists()
    assert responders.permissions.filter(codename="change_checklistitem").exists()
    assert not responders.permissions.filter(codename="change_contact").exists()
    assert viewers.permissions.filter(codename="view_incident").exists()
    assert not viewers.permissions.filter(codename__startswith="add_").exists()
    assert Group.objects.get(name="Admins").permissions.filter(codename="change_runbookstep").exists()
