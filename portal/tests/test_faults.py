"""Fault tests of the outbox: real workers killed with SIGKILL in the middle of an SMTP
exchange, counted at a real SMTP server.

The guarantee measured: every message is delivered, at least once; a message is sent
twice only when its worker dies inside the SMTP exchange (the server has it, the worker
never learnt so), and then the copy carries the same X-Portal-Message header for
receivers to drop it. Figures are printed with the run."""

from collections import Counter

import pytest
from django.db import transaction

from audit.actors import system_user
from notifications.models import OutboxMessage
from notifications.services import message_id as outbox_message_id
from notifications.services import outbox_enqueue
from portal.testing import report_figures, wait_until
from portal.tests import processes as proc

pytestmark = [pytest.mark.fault, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

MESSAGES = 10
KILLS = 3
LEASE_SECONDS = 5


@pytest.fixture
def running(redis_broker_url):
    with proc.started(redis_broker_url) as processes:
        yield processes


def queue_emails(count) -> dict[str, str]:
    """`count` emails through the outbox, each published to the worker on commit. Key by subject."""
    keys = {}
    for n in range(count):
        subject = f"Outbox fault drill {n}"
        with transaction.atomic():
            message, _ = outbox_enqueue(
                key=f"drill:{n}",
                channel=OutboxMessage.Channel.EMAIL,
                subject=subject,
                body_text=f"Message {n} of the drill.",
                recipients=["oncall@example.com"],
            )
        keys[subject] = message.key
    return keys


def test_a_worker_killed_inside_the_smtp_exchange_sends_that_message_again_under_the_same_key(
    redis_broker_url, running, tmp_path
):
    system_user()  # created up front: the workers would otherwise race to create it
    with proc.slow_smtp_server(delay=2) as smtp_server:
        env = proc.environment(
            broker_url=redis_broker_url, smtp_port=smtp_server.port, OUTBOX_SENDING_LEASE_SECONDS=LEASE_SECONDS
        )
        # One process: one message in flight at a time, so a kill can interrupt one exchange only.
        worker = proc.worker("worker-0", env, tmp_path, concurrency=1)
        running.extend([worker, proc.beat("beat", env, tmp_path)])
        key_by_subject = queue_emails(MESSAGES)

        interrupted = []  # the key inside DATA at each kill
        for kill in range(1, KILLS + 1):
            seen = smtp_server.data_count
            # The server has taken a message from this worker and not yet answered 250.
            inside = wait_until(lambda seen=seen: smtp_server.data_count > seen and list(smtp_server.in_data), 60, 0.01)
            worker.kill()
            interrupted.append(inside[-1])
            worker = proc.worker(f"worker-{kill}", env, tmp_path, concurrency=1)
            running.append(worker)

        def all_sent():
            delivered = {m["X-Portal-Message"] for m in smtp_server.messages}
            return delivered >= set(key_by_subject.values()) and not OutboxMessage.objects.exclude(status="sent")

        wait_until(all_sent, 60, interval=0.5)
        proc.settle(smtp_server, LEASE_SECONDS + 2)  # past another lease: a late copy would show up
        received = list(smtp_server.messages)

    figures = proc.tally(smtp_server, set(key_by_subject.values()))
    copies = Counter(m["X-Portal-Message"] for m in received)
    report_figures(
        "outbox: worker killed inside DATA",
        messages=MESSAGES,
        kills=KILLS,
        delivered=figures["sent"],
        distinct=figures["distinct"],
        duplicates=figures["duplicates"],
        missing=figures["missing"],
        # Copies whose Message-ID is their original's: the only ones a receiver deduplicating on it would drop.
        copies_sharing_message_id=sum(
            len({m["Message-ID"] for m in received if m["X-Portal-Message"] == key}) == 1
            for key, count in copies.items()
            if count > 1
        ),
    )
    assert figures["missing"] == 0
    assert figures["distinct"] == MESSAGES
    # A copy is the message it copies (subject, body, recipients) under the same key.
    for subject, key in key_by_subject.items():
        sent = [m for m in received if m["Subject"] == subject]
        assert {m["X-Portal-Message"] for m in sent} == {key}
        assert len({(m.get_content(), m["To"]) for m in sent}) == 1
        assert {m["Message-ID"] for m in sent} == {outbox_message_id(key)}  # receivers can drop the copy
    # Only an exchange a kill interrupted is sent again, once per interruption.
    assert figures["duplicates"] <= KILLS
    for key, count in copies.items():
        assert count - 1 <= interrupted.count(key), key
    assert not OutboxMessage.objects.filter(status__in=["pending", "sending"]).exists()
    assert OutboxMessage.objects.filter(status="sent").count() == MESSAGES
