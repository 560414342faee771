"""Fault tests: real sweeps, workers, beats and Redis, killed and restarted, and
every due reminder still reaches the SMTP server exactly once.

Each prints its figures (sent, expected, duplicates). They run against the test
database, so the processes they start see the rows these `transaction=True`
tests commit."""

import time

import pytest

from audit.actors import system_user
from conftest import free_port
from notifications.models import OutboxMessage
from portal.testing import report_figures, wait_until
from portal.tests import processes as proc
from postmortems.models import Reminder
from postmortems.tasks import enforce_deadlines
from postmortems.tests.factories import due_meetings, due_verifications, make_user

pytestmark = [pytest.mark.fault, pytest.mark.django_db(transaction=True)]

EXACTLY_ONCE = {"duplicates": 0, "missing": 0}


@pytest.fixture
def owner(runbook):
    system_user()  # created up front: the processes below would otherwise race to create it
    return make_user("olga", "Responders", first_name="Olga", last_name="Owner")


@pytest.fixture
def running(redis_broker_url):
    """Processes a test starts; every one is ended by its own pid, whatever happens."""
    with proc.started(redis_broker_url) as processes:
        yield processes


def due_overdue_notices(count, owner, prefix):
    due_meetings(count, owner=owner, prefix=prefix)
    reminders = Reminder.objects.filter(kind="overdue", milestone__kind="meeting", status="pending")
    return {f"postmortems:reminder:{pk}" for pk in reminders.values_list("pk", flat=True)}


def report(test, figures, **extra):
    report_figures(test, **figures, **extra)


def assert_all_recorded(expected_keys, kinds=("overdue",)):
    assert Reminder.objects.filter(kind__in=kinds, status="queued").count() == len(expected_keys)
    assert OutboxMessage.objects.filter(key__in=expected_keys, status="sent").count() == len(expected_keys)


def wait_for_all(mailbox, expected_keys, timeout):
    wait_until(lambda: proc.tally(mailbox, expected_keys)["distinct"] == len(expected_keys), timeout, interval=0.5)
    proc.settle(mailbox)
    return proc.tally(mailbox, expected_keys)


def test_two_sweeps_at_once_over_1000_due_milestones_and_200_verifications_send_1200_emails(
    owner, smtp_server, redis_broker_url, running, tmp_path
):
    expected = due_overdue_notices(1000, owner, "S")
    # Preventive measures awaiting verification, their reminders due to the post-mortems' owner.
    verifier = make_user("vera", "Responders")
    expected |= due_verifications(200, owner=owner, verifier=verifier, prefix="W")
    env = proc.environment(broker_url=redis_broker_url, smtp_port=smtp_server.port)

    sweeps = [proc.enforce_deadlines(name, env, tmp_path) for name in ("sweep-a", "sweep-b")]
    running.extend(sweeps)
    for sweep in sweeps:
        assert sweep.wait(timeout=150) == 0, sweep.log()
    proc.settle(smtp_server, 1)

    figures = proc.tally(smtp_server, expected)
    outputs = [
        " / ".join(line for line in s.log().splitlines() if line.startswith(("Reminders", "Outbox"))) for s in sweeps
    ]
    report("two sweeps", figures, sweep_a=outputs[0], sweep_b=outputs[1])
    assert figures == {"sent": 1200, "expected": 1200, "distinct": 1200, **EXACTLY_ONCE}
    assert_all_recorded(expected, kinds=("overdue", "verify"))
    verifications = [
        m for m in smtp_server.messages if m["X-Portal-Message"] in expected and "Verify by" in m["Subject"]
    ]
    assert len(verifications) == 200 and {m["To"] for m in verifications} == {"vera@example.com"}


def test_a_worker_killed_mid_sweep_then_restarted_sends_every_reminder_once(
    owner, smtp_server, redis_broker_url, running, tmp_path
):
    expected = due_overdue_notices(300, owner, "K")
    # Small batches: many short transactions, so the kill lands between and inside them.
    env = proc.environment(broker_url=redis_broker_url, smtp_port=smtp_server.port, POSTMORTEM_SWEEP_BATCH=5)
    first = proc.worker("worker-1", env, tmp_path, pool="solo")
    running.append(first)

    enforce_deadlines.apply_async()
    wait_until(lambda: Reminder.objects.filter(kind="overdue", status="queued").count() >= 60, 90)
    first.kill()
    queued_at_kill = Reminder.objects.filter(kind="overdue", status="queued").count()
    received_at_kill = len(smtp_server.messages)
    assert queued_at_kill < len(expected), "the sweep finished before the kill; the test proved nothing"

    running.append(proc.worker("worker-2", env, tmp_path))
    running.append(proc.beat("beat", env, tmp_path))
    figures = wait_for_all(smtp_server, expected, timeout=120)

    report("SIGKILL mid-sweep", figures, queued_at_kill=queued_at_kill, received_at_kill=received_at_kill)
    assert figures == {"sent": 300, "expected": 300, "distinct": 300, **EXACTLY_ONCE}
    assert_all_recorded(expected)


def test_two_beats_running_together_cause_no_duplicate(owner, smtp_server, redis_broker_url, running, tmp_path):
    expected = due_overdue_notices(300, owner, "B")
    env = proc.environment(broker_url=redis_broker_url, smtp_port=smtp_server.port, POSTMORTEM_SWEEP_BATCH=20)
    running.append(proc.worker("worker", env, tmp_path, concurrency=2))
    beats = [proc.beat(name, env, tmp_path) for name in ("beat-a", "beat-b")]
    running.extend(beats)

    figures = wait_for_all(smtp_server, expected, timeout=120)

    ticks = [b.log().count("Sending due task enforce-postmortem-deadlines") for b in beats]
    report("two beats", figures, sweeps_sent_by_beat_a=ticks[0], sweeps_sent_by_beat_b=ticks[1])
    assert all(tick >= 2 for tick in ticks), ticks  # both beats really were scheduling the sweep
    assert figures == {"sent": 300, "expected": 300, "distinct": 300, **EXACTLY_ONCE}
    assert_all_recorded(expected)


@pytest.mark.worker
def test_redis_restarted_during_a_run_loses_nothing(owner, smtp_server, running, tmp_path):
    """Redis shuts down (nothing saved) with deliveries queued in it, and comes back on the same
    port: what was queued is gone, the sweeps send it from the database, and the worker that was
    running before is the one that does it: nobody restarts it."""
    port = free_port()
    broker_url = f"redis://127.0.0.1:{port}/0"  # a private Redis: the shared one is never touched
    redis_1 = proc.redis_server("redis-1", port, tmp_path)
    running.append(redis_1)
    expected = due_overdue_notices(300, owner, "R")
    env = proc.environment(broker_url=broker_url, smtp_port=smtp_server.port, POSTMORTEM_SWEEP_BATCH=10)
    worker = proc.worker("worker", env, tmp_path, concurrency=2)
    running.append(worker)
    running.append(proc.beat("beat", env, tmp_path))

    wait_until(lambda: proc.tally(smtp_server, expected)["distinct"] >= 30, 90, interval=0.1)
    redis_1.stop()  # SIGTERM: Redis's SHUTDOWN, and it has no save points, so everything queued is gone
    received_while_down = len(smtp_server.messages)
    pending_while_down = OutboxMessage.objects.filter(key__in=expected, status="pending").count()
    time.sleep(3)  # a few beat ticks fail to publish
    running.append(proc.redis_server("redis-2", port, tmp_path))
    wait_until(lambda: not worker.alive() or proc.tally(smtp_server, expected)["distinct"] == 300, 150, 0.5)
    assert worker.alive(), "the worker exited when Redis went away:\n" + worker.log()[-3000:]
    figures = wait_for_all(smtp_server, expected, timeout=10)

    report(
        "Redis restart",
        figures,
        received_when_redis_stopped=received_while_down,
        outbox_pending_when_redis_stopped=pending_while_down,
        worker_pid_same=worker.alive(),
    )
    assert figures == {"sent": 300, "expected": 300, "distinct": 300, **EXACTLY_ONCE}
    assert_all_recorded(expected)


@pytest.mark.worker
def test_redis_killed_and_restarted_under_a_busy_worker_loses_nothing_and_the_worker_carries_on(
    owner, running, tmp_path
):
    """Redis is killed (-9) while the worker has deliveries in flight and waits on the queue for
    more (the state kombu 5.7 could not close: the worker exited with "AttributeError … hostname"),
    and started again on the same port. The same worker process delivers everything, once."""
    port = free_port()
    broker_url = f"redis://127.0.0.1:{port}/0"  # a private Redis: the shared one is never touched
    redis_1 = proc.redis_server("redis-1", port, tmp_path)
    running.append(redis_1)
    with proc.slow_smtp_server(delay=3) as smtp_server:
        env = proc.environment(broker_url=broker_url, smtp_port=smtp_server.port, POSTMORTEM_SWEEP_BATCH=10)
        # More processes than deliveries in flight: the worker's consumer waits on the queue (a BRPOP).
        worker = proc.worker("worker", env, tmp_path, concurrency=4)
        running.append(worker)
        running.append(proc.beat("beat", env, tmp_path))

        in_flight = due_overdue_notices(2, owner, "F")

        def both_in_flight():
            # Both being sent (one batch: the first inside a 3 s DATA, the second behind it on its connection).
            sending = OutboxMessage.objects.filter(key__in=in_flight, status="sending").count()
            return smtp_server.in_data and sending == 2

        wait_until(both_in_flight, 60, interval=0.02)
        in_flight_at_kill = OutboxMessage.objects.filter(key__in=in_flight, status="sending").count()
        redis_1.kill()  # unacknowledged messages, a pending BRPOP, and nothing on disk
        smtp_server.delay = 0
        # The portal keeps saving while Redis is down: 300 more notices fall due meanwhile.
        later = due_overdue_notices(300, owner, "R") - in_flight
        time.sleep(3)  # a few beat ticks fail to publish
        running.append(proc.redis_server("redis-2", port, tmp_path))

        expected = in_flight | later
        wait_until(lambda: not worker.alive() or proc.tally(smtp_server, expected)["distinct"] == 302, 90, 0.5)
        assert worker.alive(), "the worker exited when Redis went away:\n" + worker.log()[-3000:]
        figures = wait_for_all(smtp_server, expected, timeout=10)

    log = worker.log()
    report(
        "Redis killed and restarted",
        figures,
        in_flight_at_kill=in_flight_at_kill,
        worker_pid_same=worker.alive(),
        reconnections=log.count("Connected to") - 1,
    )
    assert worker.alive()  # the one worker started above, so the same pid, and nobody restarted it
    assert "Unrecoverable error" not in log
    assert log.count("Connected to") >= 2  # it did lose Redis and reconnect by itself
    assert figures == {"sent": 302, "expected": 302, "distinct": 302, **EXACTLY_ONCE}
    assert_all_recorded(expected)
