"""Pages through the paging gateway: one POST per message to a real local HTTP server, with the
bearer token and an idempotency key; retried with backoff when the gateway is down; and announced
(`message_settled`) only once sent or failed for good."""

import json
import threading
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import time_machine
from django.utils import timezone

from conftest import free_port
from notifications import services as outbox
from notifications.events import message_settled
from notifications.models import OutboxMessage

M = OutboxMessage
TOKEN = "gateway-token-0123456789abcdef"


class _Gateway(BaseHTTPRequestHandler):
    received: list
    answers: list

    def do_POST(self):  # noqa: N802 (http.server's naming)
        length = int(self.headers["Content-Length"])
        self.received.append((dict(self.headers), json.loads(self.rfile.read(length))))
        status = self.answers.pop(0) if self.answers else 202
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@contextmanager
def gateway(*answers):
    """A paging gateway on a free port that answers each POST with the next of `answers` (then 202)."""
    handler = type("Gateway", (_Gateway,), {"received": [], "answers": list(answers)})
    server = HTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/v1/pages", handler.received
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def settled():
    """What `message_settled` announced, as (id, status, attempts)."""
    seen = []

    def receiver(sender, *, message, **kwargs):
        seen.append((message.pk, message.status, message.attempts))

    message_settled.connect(receiver, dispatch_uid="test-paging-settled")
    yield seen
    message_settled.disconnect(dispatch_uid="test-paging-settled")


def page(key="esc:1:page:+4930123", phone="+49 30 123", context=None):
    return outbox.page_enqueue(key=key, phone=phone, text="Sev1 INC-1 not acknowledged", context=context or {"a": 1})


def test_paging_off_queues_nothing(db, settings):
    settings.PAGING_WEBHOOK_URL = ""

    assert page() is None
    assert not M.objects.exists()


def test_a_page_without_a_number_is_not_queued(db, settings):
    settings.PAGING_WEBHOOK_URL = "http://127.0.0.1:9/"

    assert page(phone="  ") is None
    assert not M.objects.exists()


def test_page_is_posted_with_token_and_idempotency_key_and_announced_once(db, settings, settled):
    with gateway() as (url, received):
        settings.PAGING_WEBHOOK_URL, settings.PAGING_TOKEN = url, TOKEN
        message, created = page()
        again, created_again = page()

        assert outbox.outbox_sweep() == {"sent": 1}
        assert outbox.outbox_sweep() == {}

    assert created and not created_again and again.pk == message.pk
    [(headers, body)] = received
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["Content-Type"] == "application/json"
    assert body == {"id": f"portal-outbox-{message.pk}", "to": ["+49 30 123"], "text": "Sev1 INC-1 not acknowledged"}
    assert headers["Idempotency-Key"] == body["id"]
    message.refresh_from_db()
    assert message.status == M.Status.SENT and message.channel == M.Channel.PAGE
    assert settled == [(message.pk, M.Status.SENT, 1)]
    assert message.history.filter(history_change_reason="Outbox delivery", status=M.Status.SENT).exists()


def test_gateway_down_is_retried_and_nothing_is_announced_until_it_accepts(db, settings, settled):
    settings.PAGING_WEBHOOK_URL, settings.PAGING_TOKEN = f"http://127.0.0.1:{free_port()}/pages", TOKEN
    message, _ = page()
    start = timezone.now()

    with time_machine.travel(start, tick=False):
        assert outbox.outbox_sweep() == {"retry": 1}  # nothing listening: connection refused
    message.refresh_from_db()
    assert message.status == M.Status.PENDING and "Paging gateway" in message.last_error
    assert settled == []

    with gateway(503) as (url, received):
        settings.PAGING_WEBHOOK_URL = url
        with time_machine.travel(start + timedelta(minutes=1), tick=False):
            assert outbox.outbox_sweep() == {"retry": 1}  # up, but answering 503
        assert settled == []
        with time_machine.travel(start + timedelta(minutes=3), tick=False):
            assert outbox.outbox_sweep() == {"sent": 1}

    assert len(received) == 2
    assert received[0][1]["id"] == received[1][1]["id"]  # the same idempotency key on every attempt
    assert settled == [(message.pk, M.Status.SENT, 3)]


def test_a_page_that_fails_for_good_is_announced_as_failed(db, settings, settled):
    settings.OUTBOX_MAX_ATTEMPTS = 2
    with gateway(500, 500) as (url, received):
        settings.PAGING_WEBHOOK_URL, settings.PAGING_TOKEN = url, TOKEN
        message, _ = page()
        start = timezone.now()
        with time_machine.travel(start, tick=False):
            outbox.outbox_sweep()
        with time_machine.travel(start + timedelta(minutes=1), tick=False):
            outbox.outbox_sweep()

    message.refresh_from_db()
    assert message.status == M.Status.FAILED and "500" in message.last_error
    assert settled == [(message.pk, M.Status.FAILED, 2)]


def test_a_failing_receiver_does_not_undo_the_record(db, settings):
    def broken(sender, **kwargs):
        M.objects.create(key=None)  # an IntegrityError inside the receiver's savepoint

    message_settled.connect(broken, dispatch_uid="test-broken")
    try:
        with gateway() as (url, _):
            settings.PAGING_WEBHOOK_URL, settings.PAGING_TOKEN = url, TOKEN
            message, _ = page()
            assert outbox.outbox_sweep() == {"sent": 1}
    finally:
        message_settled.disconnect(dispatch_uid="test-broken")

    message.refresh_from_db()
    assert message.status == M.Status.SENT


def test_messages_without_context_are_not_announced(db, settings, settled):
    with gateway() as (url, _):
        settings.SLACK_WEBHOOK_URL = url
        outbox.outbox_enqueue(key="slack-1", channel=M.Channel.SLACK, body_text="hello")
        assert outbox.outbox_sweep() == {"sent": 1}

    assert settled == []
