"""Notices on declare, severity change and resolution: outbox rows, Slack delivery, and Redis being down."""

import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer

from conftest import SEV1_LIST, SEV2_LIST, free_port
from incidents import services
from incidents.models import Incident, IncidentType, Severity
from notifications import services as outbox
from notifications.models import OutboxMessage


def declare(actor, level=1, title="Executor failing to land trades"):
    return services.incident_declare(
        actor=actor,
        title=title,
        severity=Severity.objects.get(level=level),
        incident_type=IncidentType.objects.get(slug="trade-execution-failure"),
        detection_source=Incident.DetectionSource.USER_REPORT,
    )


def test_declaring_queues_an_email_to_the_severity_list_on_commit(
    responder, distribution_lists, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        incident = declare(responder)

    message = OutboxMessage.objects.get(key=f"incident-declared:{incident.pk}:email")
    assert message.recipients == sorted(SEV1_LIST)
    assert message.subject == f"[{incident.reference}] Sev1 declared: Executor failing to land trades"
    assert "every 30 min" in message.body_text
    assert message.status == OutboxMessage.Status.PENDING
    assert len(callbacks) == 1  # the delivery is published only once the transaction commits
    assert not OutboxMessage.objects.filter(channel=OutboxMessage.Channel.SLACK).exists()  # Slack unset: off


def test_no_list_for_the_severity_queues_no_email(responder, distribution_lists):
    declare(responder, level=3)

    assert not OutboxMessage.objects.exists()


def test_slack_message_is_queued_when_the_webhook_is_set(responder, distribution_lists, settings):
    settings.SLACK_WEBHOOK_URL = "https://hooks.slack.example/services/T/B/X"

    incident = declare(responder)

    slack = OutboxMessage.objects.get(channel=OutboxMessage.Channel.SLACK)
    assert slack.key == f"incident-declared:{incident.pk}:slack"
    assert incident.reference in slack.body_text and "Sev1" in slack.body_text


def test_severity_change_notifies_both_levels_lists_once_per_change(responder, distribution_lists):
    incident = declare(responder, level=2)
    sev1, sev2 = Severity.objects.get(level=1), Severity.objects.get(level=2)

    services.incident_change_severity(incident=incident, severity=sev1, actor=responder, reason="Wider impact")
    services.incident_change_severity(incident=incident, severity=sev2, actor=responder, reason="Contained")

    changes = OutboxMessage.objects.filter(key__startswith=f"incident-severity:{incident.pk}:").order_by("id")
    assert [m.subject.split(":")[0] for m in changes] == [
        f"[{incident.reference}] Severity Sev2 → Sev1",
        f"[{incident.reference}] Severity Sev1 → Sev2",
    ]
    assert changes[0].recipients == sorted(SEV1_LIST + SEV2_LIST)
    assert "Wider impact" in changes[0].body_text


def test_resolution_is_notified_and_again_after_a_reopen(responder, distribution_lists):
    incident = declare(responder)
    services.incident_transition(incident=incident, action="acknowledge", actor=responder)
    services.incident_transition(incident=incident, action="resolve", actor=responder, note="Error rate at 0 for 1h")
    services.incident_transition(incident=incident, action="reopen", actor=responder, note="Errors are back")
    services.incident_transition(incident=incident, action="resolve", actor=responder, note="Fixed for real")

    resolved = OutboxMessage.objects.filter(key__startswith=f"incident-resolved:{incident.pk}:")
    assert resolved.count() == 2
    assert any("Fixed for real" in m.body_text for m in resolved)


def test_text_emails_are_not_html_escaped(responder, distribution_lists):
    declare(responder, title="Fees & gas <spike>")

    message = OutboxMessage.objects.get()
    assert "Fees & gas <spike>" in message.body_text
    assert "Fees &amp; gas &lt;spike&gt;" in message.body_html


class _SlackStandIn(BaseHTTPRequestHandler):
    received: list
    answer: int

    def do_POST(self):  # noqa: N802 (http.server's naming)
        length = int(self.headers["Content-Length"])
        self.received.append((self.headers["Content-Type"], json.loads(self.rfile.read(length))))
        self.send_response(self.answer)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@contextmanager
def slack_stand_in(answer=200):
    handler = type("Handler", (_SlackStandIn,), {"received": [], "answer": answer})
    server = HTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/services/T000/B000/XXXX", handler.received
    finally:
        server.shutdown()
        server.server_close()


def test_slack_delivery_posts_the_message_as_json(responder, distribution_lists, settings):
    with slack_stand_in() as (url, received):
        settings.SLACK_WEBHOOK_URL = url
        incident = declare(responder, level=3)

        counts = outbox.outbox_sweep()

    assert counts == {"sent": 1}
    [(content_type, body)] = received
    assert content_type == "application/json"
    assert set(body) == {"text"}
    assert incident.reference in body["text"] and "Sev3 incident declared" in body["text"]
    assert OutboxMessage.objects.get().status == OutboxMessage.Status.SENT


def test_slack_failure_leaves_the_message_pending_for_a_retry(responder, distribution_lists, settings):
    with slack_stand_in(answer=500) as (url, received):
        settings.SLACK_WEBHOOK_URL = url
        declare(responder, level=3)

        counts = outbox.outbox_sweep()

    assert counts == {"retry": 1}
    assert len(received) == 1
    message = OutboxMessage.objects.get()
    assert message.status == OutboxMessage.Status.PENDING
    assert "500" in message.last_error
    assert message.next_attempt_at > message.created_at


def test_every_email_subject_and_text_body_is_plain_text(responder, other_responder):
    """Text parts were HTML-escaped in some emails (role assigned: "Binance&#x27;s")."""
    from incidents.models import Role

    other_responder.first_name = "Seán O'Brien <b>"
    other_responder.save()
    incident = declare(responder, level=3, title="Binance's <script> fees & gas")
    services.role_assign(
        incident=incident, role=Role.objects.get(slug="technical-lead"), user=other_responder, actor=responder
    )

    message = OutboxMessage.objects.get(key__startswith="role-assigned:")
    assert message.subject == f"[{incident.reference}] You are Technical Lead: Binance's <script> fees & gas"
    assert "Binance's <script> fees & gas" in message.body_text
    assert "&#x27;" not in message.body_text + message.subject and "&lt;" not in message.body_text
    assert "Binance&#x27;s &lt;script&gt; fees &amp; gas" in message.body_html
