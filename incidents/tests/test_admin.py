"""The admin writes incidents only through the services: lifecycle fields are
read-only, descriptive edits and the actions call the services, and the rows the
services write about an incident are read-only."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from incidents import services
from incidents.models import Incident, Service, Severity


def change_form_data(client, url) -> dict:
    """What the admin's change form at `url` would post back unchanged, inline management forms included."""
    response = client.get(url)
    assert response.status_code == 200
    data = {}
    form = response.context["adminform"].form
    for name, field in form.fields.items():
        value = form[name].value()
        if hasattr(field.widget, "decompress"):  # split date and time
            for i, part in enumerate(field.widget.decompress(value)):
                data[f"{name}_{i}"] = "" if part is None else str(part)
        elif isinstance(value, list | tuple):
            data[name] = [str(v) for v in value]
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        else:
            data[name] = "" if value is None else str(value)
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name in management.fields:
            data[f"{management.prefix}-{name}"] = management[name].value()
    return data


def change_url(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


CHANGELIST = reverse("admin:incidents_incident_changelist")


def run_action(client, action, *incidents, **fields):
    """Post the action with its confirmation form filled in (the second step of the action)."""
    data = {"action": action, "_selected_action": [i.pk for i in incidents], "apply": "1", **fields}
    return client.post(CHANGELIST, data)


def errors(response) -> list[str]:
    return [m.message for m in get_messages(response.wsgi_request) if m.level_tag == "error"]


# The change form


def test_change_form_shows_lifecycle_fields_read_only(portal_admin_client, incident):
    response = portal_admin_client.get(change_url(incident))

    fields = response.context["adminform"].form.fields
    assert {"status", "severity", "resolved_at", "detected_at", "resolution_note"}.isdisjoint(fields)
    assert {"title", "description", "user_impact", "incident_type", "detection_source", "services"} <= set(fields)
    assert {"status", "severity", "resolved_at"} <= set(response.context["adminform"].readonly_fields)
    page = response.content.decode()
    assert 'name="status"' not in page and 'name="severity"' not in page
    assert '<div class="readonly">Detected</div>' in page


def test_posting_lifecycle_fields_changes_nothing(portal_admin_client, incident):
    data = change_form_data(portal_admin_client, change_url(incident))
    data.update(
        status="closed",
        severity=str(Severity.objects.get(level=4).pk),
        resolved_at="2026-01-01 00:00",
        resolution_note="Edited in the admin",
    )
    rows = incident.history.count()

    response = portal_admin_client.post(change_url(incident), data)

    assert response.status_code == 302
    incident.refresh_from_db()
    assert (incident.status, incident.severity.level, incident.resolved_at) == ("detected", 1, None)
    assert incident.resolution_note == ""
    assert incident.history.count() == rows  # nothing was edited, so nothing was written


def test_editing_the_title_goes_through_the_service(portal_admin_client, incident, portal_admin):
    data = change_form_data(portal_admin_client, change_url(incident))
    data["title"] = "Executor rejects every trade"

    response = portal_admin_client.post(change_url(incident), data)

    assert response.status_code == 302
    latest = incident.history.first()
    assert latest.title == "Executor rejects every trade"
    assert latest.history_user == portal_admin
    assert latest.history_change_reason == "Incident details edited"
    assert incident.timeline.filter(text="Details edited.", author=portal_admin).exists()


def test_editing_services_goes_through_the_service(portal_admin_client, incident, portal_admin):
    data = change_form_data(portal_admin_client, change_url(incident))
    data["services"] = [str(Service.objects.get(slug="risk").pk)]

    portal_admin_client.post(change_url(incident), data)

    assert list(incident.services.values_list("slug", flat=True)) == ["risk"]
    assert incident.timeline.filter(text="Details edited.", author=portal_admin).exists()
    assert incident.history.first().history_change_reason == "Incident details edited"


def test_reverting_an_incident_from_its_history_is_refused(portal_admin_client, incident):
    version = incident.history.last()
    url = reverse("admin:incidents_incident_simple_history", args=[incident.pk, version.history_id])

    assert portal_admin_client.get(url).status_code == 200
    assert portal_admin_client.post(url, {"title": "Reverted"}).status_code == 403


# The actions


def test_an_action_first_asks_for_confirmation(portal_admin_client, incident):
    response = portal_admin_client.post(CHANGELIST, {"action": "transition_resolve", "_selected_action": [incident.pk]})

    assert response.status_code == 200
    assert "admin/incidents/incident/action_confirmation.html" in [t.name for t in response.templates]
    assert b'name="apply"' in response.content and incident.reference.encode() in response.content
    incident.refresh_from_db()
    assert incident.status == "detected"


def test_acknowledge_action_moves_a_detected_incident(portal_admin_client, incident, portal_admin):
    response = run_action(portal_admin_client, "transition_acknowledge", incident)

    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.status == Incident.Status.ACKNOWLEDGED
    assert incident.timeline.filter(author=portal_admin, text__startswith="Status changed to").exists()
    latest = incident.history.first()
    assert (latest.history_user, latest.history_change_reason) == (portal_admin, "Incident: acknowledge")


def test_resolve_without_a_note_is_refused_and_changes_nothing(portal_admin_client, incident, responder):
    services.incident_transition(incident=incident, action="acknowledge", actor=responder)
    rows = incident.history.count()

    response = run_action(portal_admin_client, "transition_resolve", incident, note="")

    assert errors(response) == [f"{incident.reference}: Resolving needs a note on how the resolution was verified."]
    incident.refresh_from_db()
    assert incident.status == Incident.Status.ACKNOWLEDGED
    assert incident.history.count() == rows
    assert not incident.postmortems.exists()


def test_resolve_with_a_note_resolves_and_opens_the_sev1_postmortem(
    portal_admin_client, incident, responder, portal_admin
):
    services.incident_transition(incident=incident, action="acknowledge", actor=responder)

    response = run_action(portal_admin_client, "transition_resolve", incident, note="Trades land again on mainnet.")

    assert errors(response) == []
    incident.refresh_from_db()
    assert incident.status == Incident.Status.RESOLVED
    assert incident.resolution_note == "Trades land again on mainnet."
    # The hand-off ran: the post-mortem (postmortems.models.PostMortem, reached by its reverse relation,
    # since incidents imports nothing of postmortems) was opened in the same transaction, by the admin.
    assert incident.postmortems.get().opened_by == portal_admin


def test_each_incident_is_handled_on_its_own(portal_admin_client, incident, responder):
    other = services.incident_declare(
        actor=responder,
        title="Second",
        severity=incident.severity,
        incident_type=incident.incident_type,
        detection_source=Incident.DetectionSource.USER_REPORT,
    )
    services.incident_transition(incident=other, action="acknowledge", actor=responder)

    response = run_action(portal_admin_client, "transition_acknowledge", incident, other)

    assert errors(response) == [f"{other.reference}: Cannot acknowledge an incident that is initial response."]
    successes = [m.message for m in get_messages(response.wsgi_request) if m.level_tag == "success"]
    assert successes == [f"Acknowledge: 1 incident done ({incident.reference})."]
    incident.refresh_from_db()
    assert incident.status == Incident.Status.ACKNOWLEDGED


def test_severity_change_action_writes_the_reason_on_the_timeline(portal_admin_client, incident, portal_admin):
    sev2 = Severity.objects.get(level=2)

    response = run_action(
        portal_admin_client, "change_severity", incident, severity=sev2.pk, reason="Only one desk affected"
    )

    assert errors(response) == []
    incident.refresh_from_db()
    assert incident.severity == sev2
    entry = incident.timeline.order_by("-id").first()
    assert entry.text == "Severity changed from Sev1 to Sev2: Only one desk affected"
    assert entry.author == portal_admin
    assert incident.history.first().history_change_reason == "Severity changed: Only one desk affected"


def test_severity_change_without_a_reason_is_refused(portal_admin_client, incident):
    entries = incident.timeline.count()

    response = run_action(portal_admin_client, "change_severity", incident, severity=Severity.objects.get(level=2).pk)

    assert errors(response) == [f"{incident.reference}: A severity change needs a reason."]
    incident.refresh_from_db()
    assert incident.severity.level == 1
    assert incident.timeline.count() == entries


def test_actions_are_offered_only_with_the_change_permission(client, viewer, incident):
    viewer.is_staff = True
    viewer.save()
    client.force_login(viewer)

    assert client.get(CHANGELIST).context["action_form"] is None
    run_action(client, "transition_acknowledge", incident)
    incident.refresh_from_db()
    assert incident.status == Incident.Status.DETECTED


def test_the_actions_are_offered_to_admins(portal_admin_client):
    choices = dict(portal_admin_client.get(CHANGELIST).context["action_form"].fields["action"].choices)

    assert {f"transition_{action}" for action in services.TRANSITIONS} | {"change_severity"} <= set(choices)
    assert "delete_selected" not in choices


# Adding and deleting


def test_incidents_cannot_be_added_in_the_admin(client, staff):
    client.force_login(staff)

    assert client.get(reverse("admin:incidents_incident_add")).status_code == 403
    page = client.get(CHANGELIST).content.decode()
    assert reverse("admin:incidents_incident_add") not in page
    assert reverse("incidents:declare") in page  # where to declare instead


def test_incidents_cannot_be_deleted_in_the_admin(client, staff, incident):
    client.force_login(staff)

    response = client.post(reverse("admin:incidents_incident_delete", args=[incident.pk]), {"post": "yes"})

    assert response.status_code == 403
    assert Incident.objects.filter(pk=incident.pk).exists()


# The rows the services write about an incident


def _role_assignment(incident, actor):
    from incidents.models import Role

    return services.role_assign(
        incident=incident, role=Role.objects.get(slug="incident-commander"), user=actor, actor=actor
    )


def _status_update(incident, actor):
    return services.status_update_post(incident=incident, actor=actor, audience="internal", body="Investigating.")


CHILD_ROWS = {
    "timelineentry": lambda incident, actor: incident.timeline.first(),
    "checklistitem": lambda incident, actor: incident.checklist.first(),
    "roleassignment": _role_assignment,
    "statusupdate": _status_update,
}


@pytest.mark.parametrize("model_name", CHILD_ROWS)
def test_child_rows_are_read_only_in_the_admin(client, staff, incident, responder, model_name):
    row = CHILD_ROWS[model_name](incident, responder)
    client.force_login(staff)
    url = change_url(row)
    rows = row.history.count()

    page = client.get(url)
    response = client.post(url, {"text": "Rewritten", "body": "Rewritten", "note": "Rewritten"})

    assert page.status_code == 200  # viewable
    assert response.status_code == 403
    assert row.history.count() == rows
    assert client.get(reverse(f"admin:incidents_{model_name}_add")).status_code == 403
    delete = reverse(f"admin:incidents_{model_name}_delete", args=[row.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert client.get(reverse(f"admin:incidents_{model_name}_history", args=[row.pk])).status_code == 200


def test_role_assignments_show_read_only_on_the_incident(portal_admin_client, incident, responder):
    _role_assignment(incident, responder)

    formset = portal_admin_client.get(change_url(incident)).context["inline_admin_formsets"][0]

    assert not formset.has_add_permission and not formset.has_change_permission
    assert not formset.has_delete_permission


def test_role_assignments_are_not_edited_through_the_incident(portal_admin_client, incident, responder):
    """The change form saves nothing but the descriptive fields, however the POST is made up."""
    assignment = _role_assignment(incident, responder)
    data = change_form_data(portal_admin_client, change_url(incident))
    data.update({"role_assignments-0-id": assignment.pk, "role_assignments-0-note": "Injected"})
    data["role_assignments-0-DELETE"] = "on"

    portal_admin_client.post(change_url(incident), data)

    assignment.refresh_from_db()
    assert assignment.note == ""
    assert assignment.history.count() == 1


# Reference data stays freely editable


def test_reference_data_is_still_edited_directly(portal_admin_client, portal_admin):
    response = portal_admin_client.post(
        reverse("admin:incidents_service_add"),
        {"name": "Price feed", "slug": "price-feed", "description": "", "owner": ""},
    )

    assert response.status_code == 302, response.content
    service = Service.objects.get(slug="price-feed")
    assert service.history.first().history_user == portal_admin
