"""The outbox queues each notice once, retries failures with backoff, and loses nothing
when the broker or the mail server is down."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.utils import timezone

from conftest import free_port
from notifications import services as outbox
from notifications.models import OutboxMessage
from portal.celery import publish
from portal.testing import broker_at

M = OutboxMessage


def queue(key="k1", recipients=("ops@example.com",)):
    return outbox.outbox_enqueue(
        key=key, channel=M.Channel.EMAIL, subject="Subject", body_text="Body", recipients=recipients
    )


def test_same_key_is_queued_once(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        first, created = queue()
        again, created_again = queue()

    assert created and not created_again
    assert first.pk == again.pk
    assert M.objects.count() == 1
    assert len(callbacks) == 1  # one delivery published, on commit


def test_email_without_recipients_is_not_queued(db):
    assert outbox.email_enqueue(key="x", template="role_assigned", context={}, recipients=["", None]) is None
    assert not M.objects.exists()


def test_delivery_sends_and_marks_sent_once(db, smtp_server):
    message, _ = queue()

    assert outbox.outbox_deliver(message_id=message.pk) == "sent"
    assert outbox.outbox_deliver(message_id=message.pk) == "skipped"

    assert len(smtp_server.wait_for(1)) == 1
    message.refresh_from_db()
    assert message.status == M.Status.SENT and message.attempts == 1 and message.sent_at


def test_smtp_down_retries_with_backoff_then_fails_for_good(db, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    settings.OUTBOX_MAX_ATTEMPTS = 3
    message, _ = queue()
    start = timezone.now()

    with time_machine.travel(start, tick=False):
        assert outbox.outbox_deliver(message_id=message.pk) == "retry"
        message.refresh_from_db()
        assert message.status == M.Status.PENDING
        assert message.next_attempt_at == start + timedelta(minutes=1)
        assert "SMTP" in message.last_error
        # Not due yet: a second delivery (a duplicate task, the sweep) leaves it alone.
        assert outbox.outbox_deliver(message_id=message.pk) == "skipped"
    with time_machine.travel(start + timedelta(minutes=1), tick=False):
        assert outbox.outbox_deliver(message_id=message.pk) == "retry"
        message.refresh_from_db()
        assert message.next_attempt_at == start + timedelta(minutes=3)
    with time_machine.travel(start + timedelta(minutes=3), tick=False):
        assert outbox.outbox_deliver(message_id=message.pk) == "retry"

    message.refresh_from_db()
    assert message.status == M.Status.FAILED and message.attempts == 3


def test_backoff_is_capped_at_an_hour():
    assert [outbox.backoff(n).total_seconds() / 60 for n in (1, 2, 3, 7, 8, 20)] == [1, 2, 4, 60, 60, 60]


def test_slack_unset_is_a_retryable_failure_not_a_crash(db, settings):
    settings.SLACK_WEBHOOK_URL = ""
    message, _ = outbox.outbox_enqueue(key="s", channel=M.Channel.SLACK, body_text="hello")

    assert outbox.outbox_deliver(message_id=message.pk) == "retry"
    message.refresh_from_db()
    assert "SLACK_WEBHOOK_URL" in message.last_error


@pytest.mark.django_db(transaction=True)
def test_broker_down_keeps_the_message_and_the_sweep_delivers_it(smtp_server):
    with broker_at(f"redis://127.0.0.1:{free_port()}/0"):
        with transaction.atomic():
            message, _ = queue()  # its publish on commit fails quietly
        assert publish("notifications.tasks.deliver_outbox_message", message.pk) is False

    message.refresh_from_db()
    assert message.status == M.Status.PENDING

    assert outbox.outbox_sweep() == {"sent": 1}
    assert [m["To"] for m in smtp_server.wait_for(1)] == ["ops@example.com"]


@pytest.mark.django_db(transaction=True)
def test_two_deliveries_at_once_send_once(smtp_server):
    if connection.vendor != "postgresql":
        pytest.fail("Row locks need PostgreSQL (make test sets DATABASE_URL).")
    message, _ = queue()
    barrier = threading.Barrier(2)
    outcomes = []

    def deliver():
        barrier.wait()
        try:
            outcomes.append(outbox.outbox_deliver(message_id=message.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["sent", "skipped"]
    assert len(smtp_server.wait_for(1)) == 1
    assert M.objects.get().attempts == 1


@pytest.mark.parametrize("address", ["a@。.com", "fan@" + "ü" * 60 + ".example"])
def test_an_address_smtp_cannot_encode_fails_that_message_and_the_sweep_goes_on(db, smtp_server, settings, address):
    settings.OUTBOX_MAX_ATTEMPTS = 2
    bad, _ = queue(key="bad", recipients=[address])
    good, _ = queue(key="good")

    assert outbox.outbox_sweep() == {"retry": 1, "sent": 1}
    bad.refresh_from_db()
    assert bad.status == M.Status.PENDING and bad.attempts == 1
    assert "Address cannot be sent to" in bad.last_error
    assert [m["To"] for m in smtp_server.wait_for(1)] == ["ops@example.com"]

    with time_machine.travel(timezone.now() + timedelta(minutes=5)):
        outbox.outbox_sweep()
    bad.refresh_from_db()
    assert bad.status == M.Status.FAILED and bad.attempts == 2


def test_any_exception_while_sending_is_the_message_failure_not_the_sweeps(db, smtp_server, monkeypatch):
    first, _ = queue(key="first")
    queue(key="second")
    sent = []

    def flaky(message, smtp):
        if message.key == "first":
            raise RuntimeError("template bug")
        sent.append(message.key)

    monkeypatch.setitem(outbox.SENDERS, M.Channel.EMAIL, flaky)

    assert outbox.outbox_sweep() == {"retry": 1, "sent": 1}
    first.refresh_from_db()
    assert first.status == M.Status.PENDING and first.last_error == "RuntimeError: template bug"
    assert sent == ["second"]


@pytest.mark.django_db(transaction=True)
def test_a_message_is_marked_sending_and_committed_before_the_exchange(monkeypatch):
    from django.db import connections

    message, _ = queue()
    seen = []

    def look(message, smtp):
        # A second connection sees the claim: it was committed before the send began.
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute("SELECT status FROM notifications_outboxmessage WHERE id = %s", [message.pk])
                seen.append(cursor.fetchone()[0])
        finally:
            other.close()

    monkeypatch.setitem(outbox.SENDERS, M.Channel.EMAIL, look)
    outbox.outbox_deliver(message_id=message.pk)

    assert seen == [M.Status.SENDING]
    message.refresh_from_db()
    assert message.status == M.Status.SENT and message.sending_since is None
    reasons = list(message.history.order_by("history_id").values_list("status", "history_change_reason"))
    assert reasons[-2:] == [("sending", "Outbox delivery: sending"), ("sent", "Outbox delivery")]


def test_a_message_left_sending_by_a_dead_worker_is_sent_again_after_its_lease(db, smtp_server, settings):
    settings.OUTBOX_SENDING_LEASE = timedelta(minutes=10)
    message, _ = queue()
    M.objects.filter(pk=message.pk).update(status=M.Status.SENDING, sending_since=timezone.now(), attempts=1)

    assert outbox.outbox_sweep() == {}  # within the lease: perhaps still being sent
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        assert outbox.outbox_sweep() == {"released": 1, "sent": 1}

    message.refresh_from_db()
    assert message.status == M.Status.SENT and message.attempts == 2
    assert [m["X-Portal-Message"] for m in smtp_server.wait_for(1)] == ["k1"]


def test_a_slow_attempt_overtaken_by_a_later_one_records_nothing_over_it(db, settings):
    settings.OUTBOX_SENDING_LEASE = timedelta(minutes=10)
    message, _ = queue()
    start = timezone.now()
    slow = outbox._claim(message.pk, start)
    with time_machine.travel(start + timedelta(minutes=11)):
        assert outbox.outbox_release_stale(timezone.now()) == 1
        later = outbox._claim(message.pk, timezone.now())

    assert outbox._record(slow, RuntimeError("timed out at last")) == "skipped"
    message.refresh_from_db()
    assert message.status == M.Status.SENDING and message.attempts == 2  # still the later attempt's
    assert outbox._record(later, None) == "sent"
    message.refresh_from_db()
    assert message.status == M.Status.SENT


def test_a_message_that_kills_its_worker_every_time_stops_after_the_attempt_limit(db, settings):
    settings.OUTBOX_MAX_ATTEMPTS = 2
    message, _ = queue()
    M.objects.filter(pk=message.pk).update(status=M.Status.SENDING, sending_since=timezone.now(), attempts=2)

    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        assert outbox.outbox_sweep() == {"released": 1}

    message.refresh_from_db()
    assert message.status == M.Status.FAILED
    assert "every attempt" in message.last_error


def test_every_attempt_at_a_message_carries_the_same_message_id(db, smtp_server, settings):
    settings.DEFAULT_FROM_EMAIL = "Incident portal <incidents@firm.example>"
    first, _ = queue(key="a")
    second, _ = queue(key="b")
    outbox.outbox_sweep()

    received = {m["X-Portal-Message"]: m["Message-ID"] for m in smtp_server.wait_for(2)}

    assert received["a"] == outbox.message_id("a") and received["b"] == outbox.message_id("b")
    assert received["a"] != received["b"]
    assert received["a"].endswith("@firm.example>")
