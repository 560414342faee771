"""The post-mortem admin writes only through the services: the lifecycle fields are
read-only, owner/deliverables/participants and action-item details are saved by
the services, and milestones and reminders are read-only."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from incidents.tests.test_admin import change_form_data, change_url
from postmortems import services
from postmortems.models import ActionItem, PostMortem


@pytest.fixture
def item(postmortem, commander):
    return services.action_item_create(
        postmortem=postmortem,
        actor=commander,
        title="Pin the RPC endpoint",
        owner=commander,
        due_at=timezone.now() + timedelta(days=3),
    )


LIFECYCLE = {"incident", "clock_started_at", "awaiting_resolution", "completed_at", "opened_by"}


def test_postmortem_lifecycle_fields_are_read_only(portal_admin_client, postmortem):
    response = portal_admin_client.get(change_url(postmortem))

    assert LIFECYCLE.isdisjoint(response.context["adminform"].form.fields)
    assert set(response.context["adminform"].readonly_fields) >= LIFECYCLE


def test_posting_postmortem_lifecycle_fields_changes_nothing(portal_admin_client, postmortem):
    started = postmortem.clock_started_at
    data = change_form_data(portal_admin_client, change_url(postmortem))
    data.update(clock_started_at_0="2020-01-01", clock_started_at_1="00:00", completed_at_0="2020-01-02")
    rows = postmortem.history.count()

    response = portal_admin_client.post(change_url(postmortem), data)

    assert response.status_code == 302
    postmortem.refresh_from_db()
    assert (postmortem.clock_started_at, postmortem.completed_at) == (started, None)
    assert postmortem.history.count() == rows


def test_owner_change_goes_through_the_service(portal_admin_client, postmortem, portal_admin, other_responder):
    data = change_form_data(portal_admin_client, change_url(postmortem))
    data["owner"] = str(other_responder.pk)

    response = portal_admin_client.post(change_url(postmortem), data)

    assert response.status_code == 302
    latest = postmortem.history.first()
    assert latest.owner == other_responder
    assert (latest.history_user, latest.history_change_reason) == (portal_admin, "Post-mortem edited")


def test_participants_change_goes_through_the_service(portal_admin_client, postmortem, portal_admin, commander):
    data = change_form_data(portal_admin_client, change_url(postmortem))
    data["participants"] = [str(commander.pk)]
    data["primary_cause"] = "An expired RPC key."

    portal_admin_client.post(change_url(postmortem), data)

    postmortem.refresh_from_db()
    assert list(postmortem.participants.all()) == [commander]
    assert postmortem.primary_cause == "An expired RPC key."
    assert postmortem.history.first().history_change_reason == "Post-mortem edited"


def test_postmortems_cannot_be_added_or_deleted(client, staff, postmortem):
    client.force_login(staff)

    assert client.get(reverse("admin:postmortems_postmortem_add")).status_code == 403
    delete = reverse("admin:postmortems_postmortem_delete", args=[postmortem.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert PostMortem.objects.filter(pk=postmortem.pk).exists()


def test_reverting_a_postmortem_from_its_history_is_refused(portal_admin_client, postmortem):
    version = postmortem.history.last()
    url = reverse("admin:postmortems_postmortem_simple_history", args=[postmortem.pk, version.history_id])

    assert portal_admin_client.post(url, {"owner": ""}).status_code == 403
    postmortem.refresh_from_db()
    assert postmortem.owner is not None


@pytest.mark.parametrize("model_name", ["milestone", "reminder"])
def test_milestones_and_reminders_are_read_only(client, staff, postmortem, model_name):
    milestone = postmortem.milestones.get(kind="meeting")
    row = milestone if model_name == "milestone" else milestone.reminders.first()
    due = row.due_at
    client.force_login(staff)

    assert client.get(change_url(row)).status_code == 200  # viewable
    assert client.post(change_url(row), {"due_at_0": "2020-01-01", "due_at_1": "00:00"}).status_code == 403
    assert client.get(reverse(f"admin:postmortems_{model_name}_add")).status_code == 403
    delete = reverse(f"admin:postmortems_{model_name}_delete", args=[row.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    row.refresh_from_db()
    assert row.due_at == due


def test_action_item_edit_goes_through_the_service(portal_admin_client, item, portal_admin):
    later = item.due_at + timedelta(days=2)
    data = change_form_data(portal_admin_client, change_url(item))
    data.update(due_at_0=f"{later:%Y-%m-%d}", due_at_1=f"{later:%H:%M:%S.%f}", status="done")

    response = portal_admin_client.post(change_url(item), data)

    assert response.status_code == 302
    item.refresh_from_db()
    assert item.due_at == later
    assert (item.status, item.closed_at) == (ActionItem.Status.OPEN, None)  # status is read-only
    latest = item.history.first()
    assert (latest.history_user, latest.history_change_reason) == (portal_admin, "Action item edited")
    assert item.reminders.get(kind="overdue").due_at == later  # the service moved the reminders


def test_action_items_cannot_be_added_or_deleted(portal_admin_client, item):
    assert portal_admin_client.get(reverse("admin:postmortems_actionitem_add")).status_code == 403
    delete = reverse("admin:postmortems_actionitem_delete", args=[item.pk])
    assert portal_admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert ActionItem.objects.filter(pk=item.pk).exists()


VERIFICATION = {"evidence", "verified_by", "verified_at", "verification_note", "status"}


def test_evidence_and_verification_are_read_only_in_the_admin(portal_admin_client, postmortem, commander, responder):
    from postmortems.tests.factories import action_item, mark_done

    item = mark_done(action_item(postmortem, commander, title="Alert on oracle age"), commander)
    services.action_item_verify(item=item, actor=responder, note="Checked")
    response = portal_admin_client.get(change_url(item))
    assert VERIFICATION.isdisjoint(response.context["adminform"].form.fields)
    assert set(response.context["adminform"].readonly_fields) >= VERIFICATION

    data = change_form_data(portal_admin_client, change_url(item))
    data.update(evidence="forged", verification_note="forged", category="long_term")
    refused = portal_admin_client.post(change_url(item), data)

    assert refused.status_code == 200  # the form's error: a done item stays a preventive measure
    assert "reopen it first" in refused.content.decode()
    item.refresh_from_db()
    assert (item.category, item.evidence, item.verification_note) == ("preventive", item.evidence, "Checked")
    assert item.evidence != "forged"


def test_a_preventive_measures_verify_by_is_corrected_through_the_service(portal_admin_client, postmortem, commander):
    from postmortems.tests.factories import action_item

    item = action_item(postmortem, commander)
    later = item.verify_by + timedelta(days=3)
    data = change_form_data(portal_admin_client, change_url(item))
    data.update(verify_by_0=f"{later:%Y-%m-%d}", verify_by_1=f"{later:%H:%M:%S.%f}")
    early = dict(data, verify_by_0=f"{item.due_at - timedelta(days=1):%Y-%m-%d}")

    assert portal_admin_client.post(change_url(item), early).status_code == 200  # refused, shown on the form
    response = portal_admin_client.post(change_url(item), data)

    assert response.status_code == 302
    item.refresh_from_db()
    assert item.verify_by == later
    assert item.history.first().history_change_reason == "Action item edited"
