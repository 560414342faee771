"""With the broker down, pages and webhooks keep saving, and the outbox delivers
everything once it is back: the web, alert intake, services and a real worker together."""

import json
import logging
import time

import pytest

from alerts.tests.test_services import TOKEN, make_alert, make_payload
from conftest import free_port
from incidents import services
from incidents.models import Incident, Severity, StatusUpdate
from notifications.models import OutboxMessage
from portal.testing import broker_at, wait_until


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_with_redis_down_the_portal_keeps_saving_and_the_outbox_drains_once_it_is_back(
    client, runbook, responder, distribution_lists, settings, smtp_server, redis_broker_url, caplog
):
    from celery.contrib.testing.worker import start_worker

    from notifications import tasks
    from portal.celery import app, publish

    settings.ALERTMANAGER_WEBHOOK_TOKEN = TOKEN
    caplog.set_level(logging.WARNING, logger="portal.celery")
    started = time.monotonic()
    with broker_at(f"redis://127.0.0.1:{free_port()}/0"):
        response = client.post(
            "/api/alerts/alertmanager/",
            data=json.dumps(make_payload(make_alert())),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {TOKEN}",
        )
        incident = Incident.objects.get()
        services.incident_transition(incident=incident, action="acknowledge", actor=responder)
        services.status_update_post(
            incident=incident, actor=responder, audience=StatusUpdate.Audience.INTERNAL, body="Rolling back"
        )
        services.incident_change_severity(
            incident=incident, severity=Severity.objects.get(level=2), actor=responder, reason="Half the pairs only"
        )
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert elapsed < 5  # generous: proves no hang on the broker's retries, not a benchmark
    # The declaration, the internal update and the severity change: each publish failed, none raised.
    assert caplog.text.count("Broker unavailable") == 3
    pending = OutboxMessage.objects.filter(status=OutboxMessage.Status.PENDING, attempts=0)
    assert pending.count() == 3
    assert smtp_server.messages == []

    # Redis is back: a real worker runs the sweep, which sends what was left behind.
    app.loader.import_module("celery.contrib.testing.tasks")
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(app.conf.task_default_queue)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        assert publish(tasks.outbox_sweep)
        wait_until(lambda: not OutboxMessage.objects.filter(status=OutboxMessage.Status.PENDING).exists())

    received = smtp_server.wait_for(3)
    subjects = sorted(str(m["Subject"]).strip() for m in received)
    assert subjects == [
        f"[{incident.reference}] Sev1 declared: ExecutorErrors: Trade failure rate above 20%",
        f"[{incident.reference}] Sev1 internal update: ExecutorErrors: Trade failure rate above 20%",
        f"[{incident.reference}] Severity Sev1 → Sev2: ExecutorErrors: Trade failure rate above 20%",
    ]
    assert all(m["To"] for m in received)
