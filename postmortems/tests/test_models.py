"""The rules the database holds, whatever code writes to it."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from postmortems.models import ActionItem, Milestone, PostMortem, Reminder
from postmortems.tests.factories import action_item


def violates(constraint_name, create):
    with pytest.raises(IntegrityError, match=constraint_name), transaction.atomic():
        create()


def test_one_reminder_per_milestone_and_kind(postmortem):
    meeting = postmortem.milestones.get(kind="meeting")
    violates(
        "postmortems_reminder_once_per_milestone_kind",
        lambda: Reminder.objects.create(milestone=meeting, kind="overdue", due_at=timezone.now()),
    )


def test_one_reminder_per_action_item_and_kind(postmortem, commander):
    item = action_item(postmortem, commander)
    violates(
        "postmortems_reminder_once_per_action_item_kind",
        lambda: Reminder.objects.create(action_item=item, kind="escalation", due_at=timezone.now()),
    )


def test_a_reminder_is_about_exactly_one_thing(postmortem, commander):
    item = action_item(postmortem, commander)
    meeting = postmortem.milestones.get(kind="meeting")
    violates("postmortems_reminder_one_target", lambda: Reminder.objects.create(kind="before", due_at=timezone.now()))
    violates(
        "postmortems_reminder_one_target",
        lambda: Reminder.objects.create(milestone=meeting, action_item=item, kind="before", due_at=timezone.now()),
    )


def test_one_postmortem_per_incident(postmortem, commander):
    violates(
        "postmortems_postmortem_one_per_incident",
        lambda: PostMortem.objects.create(incident=postmortem.incident, clock_started_at=timezone.now()),
    )


def test_a_completed_meeting_records_who_and_when_it_was_held(postmortem, commander):
    def complete(**fields):
        Milestone.objects.filter(postmortem=postmortem, kind="meeting").update(completed_at=timezone.now(), **fields)

    violates("postmortems_milestone_completed_has_who", lambda: complete(meeting_held_at=timezone.now()))
    violates("postmortems_milestone_meeting_has_time", lambda: complete(completed_by=commander))


def test_a_deferred_action_item_has_a_reason(postmortem, commander):
    item = action_item(postmortem, commander)
    violates(
        "postmortems_actionitem_deferred_has_reason",
        lambda: ActionItem.objects.filter(pk=item.pk).update(status="deferred", closed_at=timezone.now()),
    )


def test_overdue_querysets(postmortem, commander):
    now = timezone.now()
    meeting = postmortem.milestones.get(kind="meeting")
    item = action_item(postmortem, commander, due_in=timedelta(hours=1))

    assert list(PostMortem.objects.overdue(meeting.due_at - timedelta(seconds=1))) == []
    assert list(PostMortem.objects.overdue(meeting.due_at)) == [postmortem]
    assert list(Milestone.objects.overdue(meeting.due_at)) == [meeting]
    assert list(ActionItem.objects.overdue(now)) == []
    assert list(ActionItem.objects.overdue(item.due_at)) == [item]
    assert Reminder.objects.due(meeting.due_at).filter(milestone=meeting).count() == 2
