"""Opening, completing and closing: the post-mortem's life, through its services."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from incidents.models import Incident, Service, Severity
from incidents.services import TransitionNotAllowed, incident_close_blockers, incident_transition
from postmortems import services
from postmortems.models import ActionItem, Milestone, PostMortem, Reminder
from postmortems.tests.factories import action_item, resolve


def test_resolving_a_sev1_opens_its_postmortem_owned_by_the_commander(
    postmortem, resolved_incident, commander, other_responder, responder
):
    assert postmortem.owner == commander
    assert postmortem.opened_by == responder
    assert postmortem.clock_started_at == resolved_incident.resolved_at
    due = {m.kind: m.due_at - resolved_incident.resolved_at for m in postmortem.milestones.all()}
    assert due == {"meeting": timedelta(hours=24), "analysis": timedelta(days=7), "preventive": timedelta(days=30)}
    assert set(postmortem.participants.all()) == {commander, other_responder}
    assert Reminder.objects.filter(milestone__postmortem=postmortem, status="pending").count() == 9
    assert "Incident declared as Sev1" in postmortem.timeline_summary
    assert postmortem.history.first().history_change_reason == "Post-mortem opened on resolution"
    assert postmortem.history.first().history_user == responder


def test_service_owners_join_the_participants(incident, responder, other_responder):
    Service.objects.filter(slug="executor").update(owner=other_responder)

    resolve(incident, responder)

    assert other_responder in incident.postmortems.get().participants.all()


def test_resolving_where_none_is_required_opens_no_postmortem_but_one_can_be_requested(responder):
    from incidents.models import IncidentType
    from incidents.services import incident_declare

    Severity.objects.filter(level=3).update(postmortem_required=False)  # test setup: switched off in the admin
    incident = incident_declare(
        actor=responder,
        title="Minor glitch",
        severity=Severity.objects.get(level=3),
        incident_type=IncidentType.objects.get(slug="other"),
        detection_source=Incident.DetectionSource.USER_REPORT,
    )
    resolve(incident, responder)
    assert not PostMortem.objects.exists()
    assert incident_close_blockers(Incident.objects.get(pk=incident.pk)) == []

    postmortem, created = services.postmortem_open(incident=incident, actor=responder)
    again, created_again = services.postmortem_open(incident=incident, actor=responder)

    assert created and not created_again and again == postmortem
    assert postmortem.owner == responder  # no Incident Commander: whoever asked for it
    assert incident_close_blockers(Incident.objects.get(pk=incident.pk)) == []  # not required: closure not held


def test_a_postmortem_opened_before_resolution_is_dated_from_the_resolution(incident, responder):
    import time_machine

    opened_at = timezone.now()
    with time_machine.travel(opened_at, tick=False):
        postmortem, _ = services.postmortem_open(incident=incident, actor=responder)
    assert postmortem.awaiting_resolution

    with time_machine.travel(opened_at + timedelta(hours=5), tick=False):
        resolve(incident, responder)

    postmortem.refresh_from_db()
    incident.refresh_from_db()
    meeting = postmortem.milestones.get(kind="meeting")
    assert postmortem.clock_started_at == incident.resolved_at == opened_at + timedelta(hours=5)
    assert meeting.due_at == incident.resolved_at + timedelta(hours=24)
    assert meeting.reminders.get(kind="before").due_at == meeting.due_at - timedelta(hours=4)
    assert not postmortem.awaiting_resolution
    assert PostMortem.objects.count() == 1


def test_reopening_and_resolving_again_keeps_the_postmortem_and_its_dates(postmortem, resolved_incident, responder):
    due = postmortem.milestones.get(kind="meeting").due_at
    incident_transition(incident=resolved_incident, action="reopen", actor=responder, note="Came back")
    resolve_again = incident_transition(incident=resolved_incident, action="resolve", actor=responder, note="ok")

    assert resolve_again.postmortems.get() == postmortem
    assert postmortem.milestones.get(kind="meeting").due_at == due


def test_a_failing_postmortem_rolls_back_the_resolution(incident, responder, monkeypatch):
    incident_transition(incident=incident, action="acknowledge", actor=responder)

    def broken(**kwargs):
        raise RuntimeError("database said no")

    monkeypatch.setattr(services, "postmortem_open", broken)
    with pytest.raises(RuntimeError):
        incident_transition(incident=incident, action="resolve", actor=responder, note="ok")

    incident.refresh_from_db()
    assert incident.status == Incident.Status.ACKNOWLEDGED
    assert incident.resolved_at is None


@pytest.mark.usefixtures("four_eyes_off")  # the post-mortem's own closure check (approvals tests its own)
def test_incident_cannot_close_until_every_milestone_is_complete(postmortem, resolved_incident, commander, responder):
    with pytest.raises(TransitionNotAllowed) as excinfo:
        incident_transition(incident=resolved_incident, action="close", actor=responder)
    assert "The post-mortem is not complete: initial post-mortem meeting, detailed analysis, " in str(excinfo.value)

    complete_all(postmortem, commander)

    incident_transition(incident=resolved_incident, action="close", actor=responder)
    postmortem.refresh_from_db()
    assert postmortem.is_complete


@pytest.mark.usefixtures("four_eyes_off")
def test_a_required_postmortem_that_was_never_opened_blocks_closure(resolved_incident):
    PostMortem.objects.all().delete()
    assert incident_close_blockers(resolved_incident) == [
        "A post-mortem is required for Sev1 incidents and none has been opened."
    ]


def complete_all(postmortem, actor):
    meeting = postmortem.milestones.get(kind="meeting")
    services.postmortem_complete_milestone(
        milestone=meeting, actor=actor, meeting_held_at=timezone.now(), attendees=[actor]
    )
    services.postmortem_update(
        postmortem=postmortem,
        actor=actor,
        **{name: "Written." for name in ["impact_assessment", "response_effectiveness", "primary_cause"]},
        **{name: "Written." for name in ["contributing_factors", "system_vulnerabilities", "timeline_summary"]},
    )
    services.postmortem_complete_milestone(milestone=postmortem.milestones.get(kind="analysis"), actor=actor)
    services.postmortem_complete_milestone(milestone=postmortem.milestones.get(kind="preventive"), actor=actor)


def test_the_meeting_needs_its_time_and_attendees(postmortem, commander):
    meeting = postmortem.milestones.get(kind="meeting")

    with pytest.raises(ValidationError, match="when the meeting was held"):
        services.postmortem_complete_milestone(milestone=meeting, actor=commander, attendees=[commander])
    with pytest.raises(ValidationError, match="who attended"):
        services.postmortem_complete_milestone(milestone=meeting, actor=commander, meeting_held_at=timezone.now())

    held = timezone.now() - timedelta(hours=1)
    services.postmortem_complete_milestone(
        milestone=meeting, actor=commander, meeting_held_at=held, attendees=[commander]
    )
    meeting.refresh_from_db()
    assert (meeting.completed_by, meeting.meeting_held_at) == (commander, held)
    assert list(meeting.attendees.all()) == [commander]
    assert list(meeting.history.first().attendees.values_list("user", flat=True)) == [commander.pk]


def test_the_analysis_needs_its_deliverables(postmortem, commander):
    analysis = postmortem.milestones.get(kind="analysis")

    with pytest.raises(ValidationError, match="Primary cause"):
        services.postmortem_complete_milestone(milestone=analysis, actor=commander)
    assert not Milestone.objects.get(pk=analysis.pk).is_complete


def test_preventive_measures_need_every_action_done_or_deferred_with_a_reason(postmortem, commander):
    preventive = postmortem.milestones.get(kind="preventive")
    fix = action_item(postmortem, commander, title="Pin the RPC endpoint", category="immediate_fix")
    later = action_item(postmortem, commander, title="Rewrite the signer")

    with pytest.raises(ValidationError, match="Pin the RPC endpoint, Rewrite the signer"):
        services.postmortem_complete_milestone(milestone=preventive, actor=commander)
    with pytest.raises(ValidationError, match="needs a reason"):
        services.action_item_set_status(item=later, actor=commander, status="deferred")

    services.action_item_set_status(item=fix, actor=commander, status="done")
    services.action_item_set_status(item=later, actor=commander, status="deferred", deferred_reason="Next quarter")
    services.postmortem_complete_milestone(milestone=preventive, actor=commander)

    assert Milestone.objects.get(pk=preventive.pk).completed_by == commander
    assert ActionItem.objects.get(pk=later.pk).deferred_reason == "Next quarter"


def test_completing_a_milestone_cancels_its_pending_reminders(postmortem, commander):
    meeting = postmortem.milestones.get(kind="meeting")

    services.postmortem_complete_milestone(
        milestone=meeting, actor=commander, meeting_held_at=timezone.now(), attendees=[commander]
    )

    assert set(meeting.reminders.values_list("status", flat=True)) == {"cancelled"}
    assert postmortem.milestones.get(kind="analysis").reminders.filter(status="pending").count() == 3


def test_a_new_due_time_moves_the_pending_reminders(postmortem, commander):
    item = action_item(postmortem, commander, due_in=timedelta(days=3))
    later = item.due_at + timedelta(days=2)

    services.action_item_update(item=item, actor=commander, due_at=later)

    assert item.reminders.get(kind="overdue").due_at == later
    assert item.reminders.get(kind="before").due_at == later - timedelta(days=1)


def test_every_model_write_records_the_actor_and_why(postmortem, commander):
    item = action_item(postmortem, commander)
    assert item.history.first().history_user == commander
    assert item.history.first().history_change_reason == "Action item added"
    reminder = item.reminders.get(kind="overdue")
    assert reminder.history.first().history_user == commander


def test_durations_in_the_environment_are_parsed_and_bad_ones_fail_loudly(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from portal import settings as portal_settings

    monkeypatch.setenv("POSTMORTEM_TEST_DURATION", "90m")
    assert portal_settings._duration("POSTMORTEM_TEST_DURATION", "1h") == timedelta(minutes=90)
    monkeypatch.delenv("POSTMORTEM_TEST_DURATION")
    assert portal_settings._duration("POSTMORTEM_TEST_DURATION", "7d") == timedelta(days=7)
    for bad in ["24", "a day", "-4h", ""]:
        monkeypatch.setenv("POSTMORTEM_TEST_DURATION", bad)
        with pytest.raises(ImproperlyConfigured):
            portal_settings._duration("POSTMORTEM_TEST_DURATION", "1h")
