"""The deadline sweep as Celery runs it: a real worker over Redis, a real SMTP server."""

from datetime import timedelta

import pytest

from notifications.models import OutboxMessage
from portal.testing import wait_until
from postmortems.tasks import enforce_deadlines
from postmortems.tests.factories import resolve


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_sends_the_overdue_notice_to_the_smtp_server(
    celery_worker, smtp_server, settings, incident, responder
):
    settings.POSTMORTEM_MEETING_WITHIN = timedelta(0)  # the meeting is due the moment the incident resolves
    resolve(incident, responder)
    postmortem = incident.postmortems.get()

    enforce_deadlines.delay()

    received = smtp_server.wait_for(1)
    assert len(received) == 1
    message = received[0]
    assert message["To"] == "rita@example.com"
    assert message["Subject"] == f"[{incident.reference}] Overdue: Initial post-mortem meeting"
    text = message.get_body(("plain",)).get_content()
    assert f"{settings.SITE_URL}/postmortems/{incident.reference}/#milestone-meeting" in text
    assert "<strong>Initial post-mortem meeting</strong>" in message.get_body(("html",)).get_content()
    reminder = postmortem.milestones.get(kind="meeting").reminders.get(kind="overdue")
    assert reminder.status == "queued"
    assert message["X-Portal-Message"] == reminder.outbox_key
    sent = wait_until(lambda: OutboxMessage.objects.filter(key=reminder.outbox_key, status="sent").first())
    assert sent.history.filter(status="sent").get().history_user.username == "system"
    assert reminder.history.first().history_user.username == "system"


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_sends_the_verification_reminder_once(
    celery_worker, smtp_server, settings, resolved_incident, responder
):
    """A preventive measure marked done whose verification reminder is due: the worker's sweep puts one
    email in the SMTP server, to the verifier and not the measure's owner; a second sweep (a second beat,
    a redelivery), seen to have run by the next measure's reminder, does not send it again."""
    from django.utils import timezone

    from postmortems import services
    from postmortems.tests.factories import mark_done

    postmortem = resolved_incident.postmortems.get()

    def measure_due_for_verification(title):
        item = services.action_item_create(
            postmortem=postmortem,
            actor=responder,
            title=title,
            owner=responder,
            category="preventive",
            due_at=timezone.now() + timedelta(hours=1),
            verify_by=timezone.now() + timedelta(hours=2),  # its reminder (a day before) is due now
            success_metric="Paged within 5 minutes",
        )
        mark_done(item, responder, evidence="https://grafana.example.com/d/oracle")
        return item.reminders.get(kind="verify").outbox_key

    def received(key):
        return [m for m in smtp_server.messages if m["X-Portal-Message"] == key]

    first = measure_due_for_verification("Alert on oracle age")
    enforce_deadlines.delay()
    wait_until(lambda: received(first), timeout=20)
    second = measure_due_for_verification("Pin the RPC endpoint")
    enforce_deadlines.delay()
    wait_until(lambda: received(second), timeout=20)
    wait_until(lambda: OutboxMessage.objects.filter(key__in=[first, second], status="sent").count() == 2)

    [message] = received(first)
    assert message["To"] == "cora@example.com"  # the post-mortem's owner and IC; Rita owns the measure
    subject = str(message["Subject"]).strip()  # folded for its non-ASCII quotes
    assert subject.startswith(f"[{resolved_incident.reference}] Verify by ")
    assert subject.endswith("“Alert on oracle age”")
    assert "https://grafana.example.com/d/oracle" in message.get_body(("plain",)).get_content()
    assert len(received(second)) == 1
