"""The runbook as data: the general steps in every checklist, editable in the admin, and the
steps the portal performs itself ticked by it."""

import pytest

from audit.actors import system_user
from conftest import verify_second_factor
from incidents import services
from incidents.models import ChecklistItem, Incident, IncidentType, Role, RunbookStep, Severity
from incidents.runbook_data import GENERAL_STEPS

P = RunbookStep.Performs


def declare(actor, level=1, slug="signal-processing-delay"):
    return services.incident_declare(
        actor=actor,
        title="Signal backlog",
        severity=Severity.objects.get(level=level),
        incident_type=IncidentType.objects.get(slug=slug),
        detection_source=Incident.DetectionSource.MANUAL_CHECK,
    )


def ticked(incident) -> dict[str, tuple[str, str]]:
    """{performs: (who ticked it, the history reason of that tick)} of the portal's steps that are done."""
    done = {}
    for item in incident.checklist.exclude(performed_by_portal="").filter(done_at__isnull=False):
        latest = item.history.first()
        done[item.performed_by_portal] = (item.done_by.username, latest.history_user.username)
    return done


def test_every_checklist_carries_the_general_steps_before_the_types_own(responder):
    incident = declare(responder)

    items = list(incident.checklist.order_by("section", "position").values_list("section", "position", "text"))
    general = [(kind, text) for kind, text, _ in GENERAL_STEPS]
    assert [(s, t) for s, _, t in items if (s, t) in set(general)] == sorted(
        general, key=lambda step: (step[0], general.index(step))
    )
    post_incident = [t for s, _, t in items if s == ChecklistItem.Section.POST_INCIDENT]
    assert "Post-mortem analysis: document root cause" in post_incident
    assert "Follow-up actions: train team members" in post_incident
    investigation = [t for s, _, t in items if s == "investigation"]
    assert investigation[:1] == ["Gather information: check service logs"]
    assert investigation[12:] == list(
        RunbookStep.objects.filter(incident_type__slug="signal-processing-delay", kind="investigation")
        .order_by("position")
        .values_list("text", flat=True)
    )


def test_declaring_ticks_what_the_portal_did_as_the_portal(responder, distribution_lists):
    incident = declare(responder, level=1)  # Sev1 has a distribution list: the team is notified

    assert ticked(incident) == {
        P.TICKET_CREATED: ("system", "system"),
        P.RESPONDER_ASSIGNED: ("system", "system"),
        P.TEAM_NOTIFIED: ("system", "system"),
    }
    item = incident.checklist.get(performed_by_portal=P.TEAM_NOTIFIED)
    assert item.history.get().history_change_reason == (
        "Incident declared; done by the portal: The response team is notified"
    )
    # Everything else is the responders' to tick.
    assert incident.checklist.filter(done_at__isnull=False).count() == 3


def test_nobody_told_nothing_ticked(responder, distribution_lists):
    incident = declare(responder, level=3)  # no list for Sev3 and Slack off: no notice went out

    assert set(ticked(incident)) == {P.TICKET_CREATED, P.RESPONDER_ASSIGNED}


def test_a_declaration_without_a_responder_is_ticked_when_a_role_is_assigned(responder, distribution_lists):
    incident = declare(system_user(), level=3)  # as an alert declares: nobody responding yet
    assert set(ticked(incident)) == {P.TICKET_CREATED}

    services.role_assign(
        incident=incident, role=Role.objects.get(slug=Role.INCIDENT_COMMANDER), user=responder, actor=responder
    )

    item = incident.checklist.get(performed_by_portal=P.RESPONDER_ASSIGNED)
    assert item.done_by.username == "system"
    latest = item.history.first()
    assert (latest.history_user.username, latest.history_change_reason) == (
        "system",
        "Done by the portal: A responder is assigned",
    )


def test_a_customer_update_ticks_the_status_page_step_and_an_internal_one_does_not(responder):
    incident = declare(responder)
    item = incident.checklist.get(performed_by_portal=P.STATUS_PAGE_UPDATED)

    services.status_update_post(incident=incident, actor=responder, audience="internal", body="Looking into it")
    item.refresh_from_db()
    assert not item.is_done

    services.status_update_post(incident=incident, actor=responder, audience="customers", body="Orders delayed")
    item.refresh_from_db()
    assert item.is_done and item.done_by.username == "system"
    assert item.history.first().history_change_reason == "Done by the portal: The status page is updated"


def test_a_general_step_edited_in_the_admin_is_in_the_next_checklist_with_its_history(
    portal_admin_client, portal_admin, responder
):
    step = RunbookStep.objects.get(incident_type__isnull=True, kind="post_incident", position=7)
    url = f"/admin/incidents/runbookstep/{step.pk}/change/"
    verify_second_factor(portal_admin_client, portal_admin)
    response = portal_admin_client.post(
        url,
        {
            "incident_type": "",
            "kind": "post_incident",
            "position": 7,
            "text": "Train the desk",
            "performed_by_portal": "",
        },
    )
    assert response.status_code == 302
    latest = RunbookStep.objects.get(pk=step.pk).history.first()
    assert (latest.history_user, latest.text) == (portal_admin, "Train the desk")

    incident = declare(responder)
    assert incident.checklist.filter(section="post_incident", text="Train the desk").exists()


def test_two_general_steps_cannot_share_a_position_and_nothing_changes(portal_admin_client, portal_admin):
    verify_second_factor(portal_admin_client, portal_admin)
    before = RunbookStep.objects.count()
    response = portal_admin_client.post(
        "/admin/incidents/runbookstep/add/",
        {"incident_type": "", "kind": "post_incident", "position": 1, "text": "Twice", "performed_by_portal": ""},
    )
    assert response.status_code == 200
    assert "Two general steps of one runbook section cannot share a position." in response.content.decode()
    assert RunbookStep.objects.count() == before


def test_the_admin_lists_general_steps_as_general(portal_admin_client, portal_admin):
    verify_second_factor(portal_admin_client, portal_admin)
    body = portal_admin_client.get("/admin/incidents/runbookstep/?runbook=general").content.decode()
    assert "General" in body and "Acknowledge the incident: create incident ticket" in body
    assert "Check executor service logs" not in body


def test_runbook_pages_show_the_general_runbook(client, responder):
    client.force_login(responder)
    verify_second_factor(client, responder)
    body = client.get("/runbooks/").content.decode()
    assert "General runbook" in body
    assert "Develop resolution plan: prepare rollback plan" in body
    assert "Post-incident activities" in body

    body = client.get("/runbooks/trade-execution-failure/").content.decode()
    assert body.index("Gather information: check service logs") < body.index("Check executor service logs")


def test_incident_page_shows_the_post_incident_section_and_who_ticked(client, responder, distribution_lists):
    incident = declare(responder)
    client.force_login(responder)
    verify_second_factor(client, responder)

    body = client.get(incident.get_absolute_url()).content.decode()

    assert "Post-incident activities" in body
    assert body.count("by the portal") == 3
    assert "(the portal ticks this when it does it)" in body  # the status page step, not done yet


@pytest.mark.parametrize("general", [0, 41])
def test_a_general_runbook_of_any_length_is_copied_whole(responder, general):
    RunbookStep.objects.filter(incident_type__isnull=True, position__gt=general).delete()  # test setup
    incident = declare(responder)
    own = RunbookStep.objects.filter(incident_type__slug="signal-processing-delay").count()
    assert incident.checklist.count() == (len(GENERAL_STEPS) if general else 0) + own
