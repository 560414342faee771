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
    item = action_item(postmortem, other_responder, due_in=timedelta(days=2), category="long_term")
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


# --- verification of preventive measures ----------------------------------------------------------


def test_verification_reminders_go_to_the_verifiers_at_their_times(postmortem, responder, settings):
    """Rita's measure, marked done by her: the reminder goes to Cora (post-mortem owner and IC), never to
    Rita; the escalation to Cora and Tom (the Technical Lead)."""
    from postmortems.tests.factories import mark_done

    settings.SITE_URL = "https://incidents.example.com"
    item = action_item(postmortem, responder, due_in=timedelta(days=2), success_metric="Paged within **5** min")
    verify_by = item.verify_by
    mark_done(item, responder, evidence="Drill: https://grafana.example.com/d/oracle?x=1&y=2 and javascript:alert(1)")

    sweep_at(verify_by - timedelta(days=1) - ONE_SECOND)
    assert sent(item) == {}
    sweep_at(verify_by - timedelta(days=1))
    assert sent(item) == {"verify": ["cora@example.com"]}
    sweep_at(verify_by + GRACE - ONE_SECOND)
    assert "verify_escalation" not in sent(item)
    sweep_at(verify_by + GRACE)
    assert sent(item) == {"verify": ["cora@example.com"], "verify_escalation": ["cora@example.com", "tom@example.com"]}
    sweep_at(verify_by + GRACE + timedelta(days=40))
    assert OutboxMessage.objects.filter(postmortem_reminder__action_item=item).count() == 2

    reminder = item.reminders.get(kind="verify").outbox_message
    reference = postmortem.incident.reference
    assert reminder.subject.startswith(f"[{reference}] Verify by ") and reminder.subject.endswith(f"“{item.title}”")
    assert "Success metric:\nPaged within **5** min" in reminder.body_text
    assert "Evidence:\nDrill: https://grafana.example.com/d/oracle?x=1&y=2" in reminder.body_text
    assert f"https://incidents.example.com/postmortems/{reference}/#action-item-{item.pk}" in reminder.body_text
    assert (
        '<a href="https://grafana.example.com/d/oracle?x=1&amp;y=2" rel="noopener noreferrer nofollow"'
        in reminder.body_html
    )
    assert 'href="javascript' not in reminder.body_html
    escalation = item.reminders.get(kind="verify_escalation").outbox_message
    assert escalation.subject.startswith(f"[{reference}] Escalation: “{item.title}” not verified since")


def test_verifying_stops_the_verification_reminders(postmortem, responder, commander):
    from postmortems.tests.factories import mark_done

    item = action_item(postmortem, responder)
    mark_done(item, responder)
    services.action_item_verify(item=item, actor=commander, note="Checked")

    sweep_at(item.verify_by + GRACE + timedelta(days=1))

    assert sent(item) == {}
    assert set(item.reminders.values_list("status", flat=True)) == {"cancelled"}


def test_a_measure_marked_done_after_its_verify_by_time_skips_the_reminder_and_escalates(postmortem, responder):
    from postmortems.tests.factories import mark_done

    item = action_item(postmortem, responder, due_in=timedelta(hours=1), verify_after=timedelta(hours=1))
    with time_machine.travel(item.verify_by + timedelta(hours=2), tick=False):
        mark_done(item, responder)

    counts = sweep_at(item.verify_by + GRACE)

    verify = item.reminders.get(kind="verify")
    assert (verify.status, verify.note) == ("skipped", "Verify-by time already passed")
    assert sent(item) == {"verify_escalation": ["cora@example.com", "tom@example.com"]}
    assert counts["skipped"] >= 1


def test_when_the_owner_is_the_only_verifier_the_technical_lead_is_asked(postmortem, commander):
    """Cora owns the post-mortem, is the IC and owns the measure: nobody else in the pool, so Tom (TL)."""
    from postmortems.tests.factories import mark_done

    item = action_item(postmortem, commander)
    mark_done(item, commander)

    sweep_at(item.verify_by - timedelta(days=1))

    assert sent(item) == {"verify": ["tom@example.com"]}


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_queue_each_verification_reminder_once(runbook):
    """Two sweeps in two threads, each with its own PostgreSQL connection, started together over the same
    60 due verification reminders in batches of 5: every reminder is claimed by one of them."""
    import threading

    from django.db import connection

    from audit.actors import system_user
    from postmortems.tests.factories import due_verifications, make_user

    system_user()  # made up front: the two sweeps would otherwise race to create it
    owner = make_user("olga", "Responders")
    verifier = make_user("vera", "Responders")
    expected = due_verifications(60, owner=owner, verifier=verifier)
    start = threading.Barrier(2)
    results = []

    def sweep():
        try:
            start.wait(timeout=10)
            results.append(services.deadlines_sweep(batch_size=5))
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert len(results) == 2
    assert sum(r.get("queued", 0) for r in results) == 60
    assert OutboxMessage.objects.filter(key__in=expected).count() == 60
    assert Reminder.objects.filter(kind="verify", status="queued").count() == 60
    recipients = OutboxMessage.objects.filter(key__in=expected).values_list("recipients", flat=True)
    assert all(r == ["vera@example.com"] for r in recipients)  # the verifier, never the measure's owner
