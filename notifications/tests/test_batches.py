"""Delivery in batches: one SMTP connection per batch, one message's refusal or a dropped
connection costing nobody else an email, a crashed worker sending again only the message
in flight, and queries that do not grow with the batch (but for one mark per message sent)."""

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.actors import system_user
from conftest import _Mailbox, free_port
from notifications import services as outbox
from notifications.models import OutboxMessage
from notifications.tasks import deliver_outbox_batch

M = OutboxMessage


class Server(_Mailbox):
    """A real SMTP server that counts its sessions (one EHLO each), refuses every recipient at
    refused.example (550), and hangs up in the middle of a message whose subject says so."""

    def __init__(self):
        super().__init__()
        self.sessions = 0
        self.refused: list[str] = []

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.endswith("@refused.example"):
            self.refused.append(address)
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if b"Subject: hang up" in envelope.original_content:
            server.transport.abort()  # the message's data arrived, and no reply ever will
            return "451 never sent"
        return await super().handle_DATA(server, session, envelope)

    def keys(self) -> list[str]:
        return [message["X-Portal-Message"] for message in self.messages]


@pytest.fixture
def server(settings):
    from aiosmtpd.controller import Controller

    mailbox = Server()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 5
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    yield mailbox
    controller.stop()


def queue(count, *, prefix="m", subject="Notice", recipients=("ops@example.com",)):
    """`count` due emails, in the order a batch takes them."""
    messages = [
        outbox.outbox_enqueue(
            key=f"{prefix}{n}", channel=M.Channel.EMAIL, subject=subject, body_text="Body", recipients=recipients
        )[0]
        for n in range(count)
    ]
    return in_order(*messages)


def in_order(*messages):
    """Due a second apart, oldest first: the order a batch takes them in."""
    start = timezone.now() - timedelta(minutes=1)
    for n, message in enumerate(messages):
        message.next_attempt_at = start + timedelta(seconds=n)
        M.objects.filter(pk=message.pk).update(next_attempt_at=message.next_attempt_at)  # test setup, no history
    return list(messages)


def test_a_batch_goes_over_one_smtp_connection(db, server, monkeypatch):
    monkeypatch.setattr(outbox, "BATCH_SIZE", 4)
    queue(10)

    assert outbox.outbox_sweep() == {"sent": 10}

    assert sorted(server.keys()) == sorted(f"m{n}" for n in range(10))
    assert server.sessions == 3  # batches of 4, 4 and 2


def test_a_refused_recipient_fails_its_message_alone_and_only_it_is_tried_again(db, server):
    first, bad, last = in_order(
        *queue(1, prefix="first"),
        *queue(1, prefix="bad", recipients=["nobody@refused.example"]),
        *queue(1, prefix="last"),
    )

    assert outbox.outbox_sweep() == {"sent": 2, "retry": 1}
    assert server.keys() == ["first0", "last0"]
    bad.refresh_from_db()
    assert (bad.status, bad.attempts) == (M.Status.PENDING, 1)
    assert "550" in bad.last_error and "No such mailbox" in bad.last_error

    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        assert outbox.outbox_sweep() == {"retry": 1}

    assert server.refused == ["nobody@refused.example"] * 2
    assert server.keys() == ["first0", "last0"]  # the others were not sent again
    assert M.objects.filter(status=M.Status.SENT).count() == 2
    bad.refresh_from_db()
    assert bad.attempts == 2
    for message in (first, last):
        message.refresh_from_db()
        assert (message.status, message.attempts) == (M.Status.SENT, 1)


def test_a_connection_lost_mid_batch_records_what_was_sent_and_puts_the_rest_back(db, server):
    *before, in_flight, after_0, after_1 = in_order(
        *queue(2, prefix="before"), *queue(1, prefix="cut", subject="hang up"), *queue(2, prefix="after")
    )
    after = [after_0, after_1]
    due_at = {message.pk: message.next_attempt_at for message in after}

    assert outbox.outbox_sweep() == {"sent": 2, "retry": 1, "requeued": 2}

    assert server.keys() == ["before0", "before1"]
    for message in before:
        message.refresh_from_db()
        assert message.status == M.Status.SENT and message.sent_at
    in_flight.refresh_from_db()
    assert (in_flight.status, in_flight.attempts) == (M.Status.PENDING, 1)
    assert in_flight.next_attempt_at > timezone.now()  # its backoff
    assert in_flight.last_error.startswith("ConnectionLost: SMTP:")
    for message in after:
        message.refresh_from_db()
        # Not tried: as they were, due now, no attempt counted, nothing to report.
        assert (message.status, message.attempts, message.last_error) == (M.Status.PENDING, 0, "")
        assert message.next_attempt_at == due_at[message.pk]
        assert message.history.first().history_change_reason == "Outbox delivery: not tried, left for the next delivery"

    assert outbox.outbox_sweep() == {"sent": 2}
    assert server.keys() == ["before0", "before1", "after0", "after1"]


class WorkerKilled(BaseException):
    """What a SIGKILL amounts to for the code running: it stops, and nothing after it runs."""


def test_a_worker_killed_mid_batch_sends_again_only_the_message_in_flight(db, server, settings, monkeypatch):
    settings.OUTBOX_SENDING_LEASE = timedelta(minutes=10)
    messages = queue(4)
    send_email = outbox.SENDERS[M.Channel.EMAIL]

    def dies_on_the_third(message, smtp):
        if message.key == "m2":
            raise WorkerKilled
        send_email(message, smtp)

    monkeypatch.setitem(outbox.SENDERS, M.Channel.EMAIL, dies_on_the_third)
    with pytest.raises(WorkerKilled):
        outbox.outbox_sweep()
    monkeypatch.setitem(outbox.SENDERS, M.Channel.EMAIL, send_email)
    assert server.keys() == ["m0", "m1"]
    assert set(M.objects.values_list("status", flat=True)) == {M.Status.SENDING}

    assert outbox.outbox_sweep() == {}  # within the lease: perhaps still being sent
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        assert outbox.outbox_sweep() == {"released": 4, "sent": 2}

    assert server.keys() == ["m0", "m1", "m2", "m3"]  # none twice
    for message in messages:
        message.refresh_from_db()
        assert message.status == M.Status.SENT
    m0 = messages[0].history.first()
    assert (m0.status, m0.history_change_reason) == ("sent", "Outbox: accepted by the server before its worker stopped")
    assert messages[2].history.filter(last_error__startswith="Interrupted").exists()


def delivery_queries(count, prefix) -> int:
    messages = queue(count, prefix=prefix)
    with CaptureQueriesContext(connection) as queries:
        outcomes = outbox.outbox_deliver_batch(message_ids=[m.pk for m in messages], limit=count)
    assert list(outcomes.values()) == ["sent"] * count
    return len(queries)


def test_a_batch_costs_the_same_queries_whatever_its_size_but_one_mark_per_message_sent(db, server):
    system_user()
    small, large = delivery_queries(5, "small"), delivery_queries(50, "large")

    # The claim, its history, the record and its history are one statement each whatever the
    # size; what grows is the `_note_sent` UPDATE per accepted message, which keeps a crashed
    # worker from sending the batch's earlier messages again.
    assert large - small == 50 - 5
    assert small - 5 <= 15


def test_the_batch_task_sends_what_is_still_due_and_leaves_the_rest(db, server):
    messages = queue(3)
    outbox.outbox_deliver(message_id=messages[0].pk)

    assert deliver_outbox_batch([m.pk for m in messages]) == {"sent": 2}
    assert deliver_outbox_batch([m.pk for m in messages]) == {}  # redelivered: nothing left to do
    assert sorted(server.keys()) == ["m0", "m1", "m2"]


def test_outbox_enqueue_many_queues_each_key_once_with_history_and_one_task_per_batch(
    db, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(outbox, "BATCH_SIZE", 3)
    actor = system_user()
    existing, _ = outbox.outbox_enqueue(key="k0", channel=M.Channel.EMAIL, body_text="Already queued")
    unsaved = [
        M(key=f"k{n}", channel=M.Channel.EMAIL, body_text=f"Body {n}", recipients=["ops@example.com"]) for n in range(6)
    ]

    with django_capture_on_commit_callbacks() as callbacks:
        queued = outbox.outbox_enqueue_many([*unsaved, unsaved[1]], actor=actor, reason="Drill")

    assert {key: created for key, (_, created) in queued.items()} == {
        "k0": False,
        **{f"k{n}": True for n in range(1, 6)},
    }
    assert queued["k0"][0].pk == existing.pk
    assert M.objects.get(key="k0").body_text == "Already queued"
    assert len(callbacks) == 2  # five new messages, batches of three: two delivery tasks
    rows = M.history.filter(key__in=[f"k{n}" for n in range(1, 6)])
    assert sorted(rows.values_list("key", "history_type", "history_user__username", "history_change_reason")) == [
        (f"k{n}", "+", "system", "Drill") for n in range(1, 6)
    ]
    assert {row.body_text for row in rows} == {f"Body {n}" for n in range(1, 6)}


def test_every_bulk_write_of_a_delivery_leaves_a_history_row_with_actor_and_reason(db, server):
    message = queue(1)[0]

    outbox.outbox_sweep()

    rows = list(
        message.history.order_by("history_id").values_list(
            "history_type", "status", "attempts", "history_user__username", "history_change_reason"
        )
    )
    assert rows[1:] == [
        ("~", "sending", 1, "system", "Outbox delivery: sending"),
        ("~", "sent", 1, "system", "Outbox delivery"),
    ]
    message.refresh_from_db()
    last = message.history.first()
    assert (last.sent_at, last.updated_at) == (message.sent_at, message.updated_at)  # the row as saved
