"""The deadline sweep, with the clock moved: every reminder kind, either side of each boundary."""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from incidents.models import Contact
from notifications.models import OutboxMessage
from notifications.services import outbox_deliver
from postmortems import services
from postmortems.models import Reminder
from postmortems.tests.factories import action_item

ONE_SECOND = timedelta(seconds=1)
LEADS = {"meeting": timedelta(hours=4), "analysis": timedelta(days=1), "preventive": timedelta(days=3)}
GRACE = timedelta(days=1)


def sweep_at(moment):
    with time_machine.travel(moment, tick=False):
        return services.deadlines_sweep()


def sent(target):
    """{kind: recipients} of the reminders about `target` that were queued, with their outbox rows."""
    rows = target.reminders.filter(status="queued").select_related("outbox_message")
    return {r.kind: r.outbox_message.recipients for r in rows}


@pytest.mark.parametrize("kind", ["meeting", "analysis", "preventive"])
def test_each_milestone_reminder_goes_out_at_its_time_and_not_a_second_earlier(postmortem, kind):
    milestone = postmortem.milestones.get(kind=kind)
    due = milestone.due_at
    owner = ["cora@example.com"]
    escalated = ["cora@example.com", "tom@example.com"]  # owner (the IC) and the Technical Lead

    sweep_at(due - LEADS[kind] - ONE_SECOND)
    assert sent(milestone) == {}
    sweep_at(due - LEADS[kind])
    assert sent(milestone) == {"before": owner}
    sweep_at(due - ONE_SECOND)
    assert sent(milestone) == {"before": owner}
    sweep_at(due)
    assert sent(milestone) == {"before": owner, "overdue": owner}
    sweep_at(due + GRACE - ONE_SECOND)
    assert "escalation" not in sent(milestone)
    sweep_at(due + GRACE)
    assert sent(milestone) == {"before": owner, "overdue": owner, "escalation": escalated}
    sweep_at(due + GRACE + timedelta(days=40))
    assert OutboxMessage.objects.filter(postmortem_reminder__milestone=milestone).count() == 3


def test_reminder_emails_name_the_milestone_and_link_to_the_postmortem(postmortem, settings):
    settings.SITE_URL = "https://incidents.example.com"
    meeting = postmortem.milestones.get(kind="meeting")

    sweep_at(meeting.due_at)

    message = OutboxMessage.objects.get(postmortem_reminder__milestone=meeting, postmortem_reminder__kind="overdue")
    reference = postmortem.incident.reference
    assert message.subject == f"[{reference}] Overdue: Initial post-mortem meeting"
    assert f"https://incidents.example.com/postmortems/{reference}/#milestone-meeting" in message.body_text
    assert f'href="https://incidents.example.com/postmortems/{reference}/"' in message.body_html
    assert message.key == f"postmortems:reminder:{meeting.reminders.get(kind='overdue').pk}"


def test_action_item_reminders_follow_the_same_boundaries(postmortem, other_responder):
    item = action_item(postmortem, other_responder, due_in=timedelta(days=5))
    due = item.due_at
    owner = ["tom@example.com"]

    sweep_at(due - timedelta(days=1) - ONE_SECOND)
    assert sent(item) == {}
    sweep_at(due - timedelta(days=1))
    assert sent(item) == {"before": owner}
    sweep_at(due - ONE_SECOND)
    assert "overdue" not in sent(item)
    sweep_at(due)
    assert sent(item)["overdue"] == owner
    sweep_at(due + GRACE - ONE_SECOND)
    assert "escalation" not in sent(item)
    sweep_at(due + GRACE)
    assert sent(item)["escalation"] == ["cora@example.com", "tom@example.com"]
    escalation = item.reminders.get(kind="escalation").outbox_message
    assert escalation.subject.startswith(f"[{postmortem.incident.reference}] Escalation: Action item “{item.title}”")
    assert f"/postmortems/{postmortem.incident.reference}/#action-item-{item.pk}" in escalation.body_text


def test_completing_a_milestone_stops_its_reminders(postmortem, commander):
    meeting = postmortem.milestones.get(kind="meeting")
    sweep_at(meeting.due_at - LEADS["meeting"])
    assert sent(meeting) == {"before": ["cora@example.com"]}

    with time_machine.travel(meeting.due_at - timedelta(hours=1), tick=False):
        services.postmortem_complete_milestone(
            milestone=meeting, actor=commander, meeting_held_at=timezone.now(), attendees=[commander]
        )
    sweep_at(meeting.due_at + GRACE + timedelta(days=1))

    assert sent(meeting) == {"before": ["cora@example.com"]}
    assert set(meeting.reminders.exclude(kind="before").values_list("status", flat=True)) == {"cancelled"}


def test_done_action_item_gets_no_more_reminders(postmortem, other_responder):
    item = action_item(postmortem, other_responder, due_in=timedelta(days=2))
    services.action_item_set_status(item=item, actor=other_responder, status="done")

    sweep_at(item.due_at + GRACE)

    assert sent(item) == {}


def test_a_late_sweep_skips_the_stale_reminder_but_sends_the_overdue_notice(postmortem):
    meeting = postmortem.milestones.get(kind="meeting")

    counts = sweep_at(meeting.due_at + timedelta(minutes=5))

    assert sent(meeting) == {"overdue": ["cora@example.com"]}
    assert meeting.reminders.get(kind="before").note == "Deadline already passed"
    assert counts == {"skipped": 1, "queued": 1}


def test_sweeping_twice_queues_nothing_twice(postmortem):
    meeting = postmortem.milestones.get(kind="meeting")
    first = sweep_at(meeting.due_at)
    second = sweep_at(meeting.due_at)

    assert first == {"skipped": 1, "queued": 1}  # the 4-hours-ahead reminder is stale by now
    assert second == {}
    assert OutboxMessage.objects.filter(key__startswith="postmortems:").count() == 1


def test_sev1_escalations_reach_emergency_contacts_with_an_email(postmortem, settings):
    Contact.objects.filter(name="CTO").update(email="cto@example.com")
    meeting = postmortem.milestones.get(kind="meeting")

    sweep_at(meeting.due_at + GRACE)

    assert sent(meeting)["escalation"] == ["cora@example.com", "cto@example.com", "tom@example.com"]
    body = meeting.reminders.get(kind="escalation").outbox_message.body_text
    assert "Emergency contacts for Sev1:\n- CEO +1-555-0110\n- CTO +1-555-0111 cto@example.com\n" in body


def test_emergency_contacts_can_be_left_out_of_escalations(postmortem, settings):
    settings.POSTMORTEM_ESCALATE_TO_EMERGENCY_CONTACTS = []
    Contact.objects.filter(name="CTO").update(email="cto@example.com")
    meeting = postmortem.milestones.get(kind="meeting")

    sweep_at(meeting.due_at + GRACE)

    assert sent(meeting)["escalation"] == ["cora@example.com", "tom@example.com"]
    assert "Emergency contacts" not in meeting.reminders.get(kind="escalation").outbox_message.body_text


def test_a_reminder_with_nobody_to_tell_is_recorded_as_skipped(postmortem):
    postmortem.owner.email = ""
    postmortem.owner.save()
    meeting = postmortem.milestones.get(kind="meeting")

    sweep_at(meeting.due_at)

    overdue = meeting.reminders.get(kind="overdue")
    assert (overdue.status, overdue.note) == ("skipped", "Nobody with an email address to tell")


def test_sweep_writes_are_recorded_as_the_system_user(postmortem):
    meeting = postmortem.milestones.get(kind="meeting")
    sweep_at(meeting.due_at)

    latest = meeting.reminders.get(kind="overdue").history.first()
    assert latest.history_user.username == "system"
    assert latest.history_change_reason == "Deadline sweep"


def test_durations_and_leads_are_settings(settings, incident, responder):
    settings.POSTMORTEM_MEETING_WITHIN = timedelta(hours=2)
    settings.POSTMORTEM_MEETING_REMINDER_LEAD = timedelta(minutes=30)
    from postmortems.tests.factories import resolve

    resolve(incident, responder)
    meeting = incident.postmortems.get().milestones.get(kind="meeting")

    assert meeting.due_at == incident.postmortems.get().clock_started_at + timedelta(hours=2)
    assert meeting.reminders.get(kind="before").due_at == meeting.due_at - timedelta(minutes=30)


def test_a_failed_send_is_retried_with_backoff_and_then_delivered(postmortem, settings, smtp_server):
    meeting = postmortem.milestones.get(kind="meeting")
    sweep_at(meeting.due_at)
    message = OutboxMessage.objects.get(postmortem_reminder__milestone=meeting, postmortem_reminder__kind="overdue")
    from conftest import free_port

    settings.EMAIL_PORT = free_port()  # nothing listens there
    with time_machine.travel(meeting.due_at + timedelta(minutes=1), tick=False):
        assert outbox_deliver(message_id=message.pk) == "retry"
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("pending", 1)
    assert message.next_attempt_at == meeting.due_at + timedelta(minutes=2)

    settings.EMAIL_PORT = smtp_server.port
    with time_machine.travel(meeting.due_at + timedelta(minutes=2) - ONE_SECOND, tick=False):
        assert outbox_deliver(message_id=message.pk) == "skipped"  # not due again yet
    with time_machine.travel(meeting.due_at + timedelta(minutes=2), tick=False):
        assert outbox_deliver(message_id=message.pk) == "sent"
    assert smtp_server.wait_for(1)[0]["Subject"].endswith("Overdue: Initial post-mortem meeting")


def test_enforce_deadlines_command_runs_the_sweep_once_and_can_deliver(postmortem):
    meeting = postmortem.milestones.get(kind="meeting")
    mail.outbox.clear()

    with time_machine.travel(meeting.due_at, tick=False):
        call_command("enforce_deadlines", "--deliver")

    assert [r.kind for r in Reminder.objects.filter(status="queued")] == ["overdue"]
    subjects = [m.subject for m in mail.outbox if "post-mortem" in m.subject]
    assert subjects == [f"[{postmortem.incident.reference}] Overdue: Initial post-mortem meeting"]
    assert OutboxMessage.objects.filter(status="pending").count() == 0


def test_a_postmortem_nobody_owns_reminds_the_incident_commander_and_technical_lead(postmortem, responder):
    services.postmortem_update(postmortem=postmortem, actor=responder, owner=None)
    meeting = postmortem.milestones.get(kind="meeting")

    sweep_at(meeting.due_at - LEADS["meeting"])
    sweep_at(meeting.due_at)

    leads = ["cora@example.com", "tom@example.com"]
    assert sent(meeting) == {"before": leads, "overdue": leads}
    message = meeting.reminders.get(kind="overdue").outbox_message
    assert "Owner: nobody" in message.body_text
