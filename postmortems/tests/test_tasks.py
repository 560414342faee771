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
