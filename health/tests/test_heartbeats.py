"""Each sweep's heartbeat: written by a real worker at the end of a successful run, and only then."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from health import services
from health.checks import sweeps_are_scheduled
from health.models import Heartbeat
from health.sweeps import STALE_AFTER_INTERVALS, SWEEPS, sweep_intervals
from portal.testing import wait_until

from .conftest import T0


@pytest.mark.worker
def test_a_sweep_run_by_the_worker_writes_its_heartbeat_once_per_sweep(celery_worker):
    from incidents import tasks as incident_tasks
    from notifications import tasks as outbox_tasks

    before = timezone.now()
    outbox_tasks.outbox_sweep.delay()
    first = wait_until(lambda: Heartbeat.objects.filter(sweep="outbox").first())
    assert first.task == "notifications.tasks.outbox_sweep"
    assert first.last_success_at >= before

    outbox_tasks.outbox_sweep.delay()
    incident_tasks.escalate_unacknowledged.delay()
    wait_until(lambda: Heartbeat.objects.filter(sweep="acknowledgement").exists())  # after the second outbox run

    again = Heartbeat.objects.get(sweep="outbox")
    assert again.pk == first.pk  # the same row, moved on: one row per sweep
    assert again.last_success_at > first.last_success_at
    assert set(Heartbeat.objects.values_list("sweep", flat=True)) == {"outbox", "acknowledgement"}


@pytest.mark.worker
def test_a_failing_sweep_or_a_task_that_is_no_sweep_writes_no_heartbeat(celery_worker, monkeypatch):
    from incidents import tasks as incident_tasks
    from notifications import tasks as outbox_tasks

    def broken_sweep(**kwargs):
        raise RuntimeError("database went away mid-sweep")

    monkeypatch.setattr("notifications.services.outbox_sweep", broken_sweep)
    outbox_tasks.outbox_sweep.delay()
    outbox_tasks.deliver_outbox_message.delay(987654321)  # succeeds ("skipped"), but is not a sweep
    incident_tasks.remind_overdue_updates.delay()  # the worker runs one task at a time, in order
    wait_until(lambda: Heartbeat.objects.filter(sweep="cadence").exists())

    assert list(Heartbeat.objects.values_list("sweep", flat=True)) == ["cadence"]


def test_recording_a_heartbeat_is_one_upsert(db, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert services.heartbeat_record(task=SWEEPS["deadlines"], at=T0)
    with django_assert_num_queries(1):
        assert services.heartbeat_record(task=SWEEPS["deadlines"], at=T0 + timedelta(minutes=1))

    assert list(Heartbeat.objects.values_list("sweep", "last_success_at")) == [("deadlines", T0 + timedelta(minutes=1))]
    assert not services.heartbeat_record(task="notifications.tasks.deliver_outbox_message", at=T0)
    assert Heartbeat.objects.count() == 1


def test_the_intervals_come_from_the_beat_schedule(settings):
    settings.CELERY_BEAT_SCHEDULE = {
        **settings.CELERY_BEAT_SCHEDULE,
        "deliver-outbox": {"task": SWEEPS["outbox"], "schedule": timedelta(seconds=20)},
        "enforce-postmortem-deadlines": {"task": SWEEPS["deadlines"], "schedule": 300.0},
    }

    intervals = sweep_intervals()

    assert intervals["outbox"] == timedelta(seconds=20)
    assert intervals["deadlines"] == timedelta(minutes=5)
    assert intervals["cadence"] == timedelta(minutes=1)
    assert STALE_AFTER_INTERVALS == 3


def test_a_sweep_missing_from_the_beat_schedule_fails_the_system_check(settings):
    assert sweeps_are_scheduled() == []
    call_command("check")  # raises on an error

    settings.CELERY_BEAT_SCHEDULE = {
        name: entry for name, entry in settings.CELERY_BEAT_SCHEDULE.items() if entry["task"] != SWEEPS["broadcasts"]
    }

    errors = sweeps_are_scheduled()
    assert [error.id for error in errors] == ["health.E001"]
    assert "statuspage.tasks.broadcast_sweep" in errors[0].msg


def test_staff_can_read_the_heartbeats_in_the_admin_but_not_change_them(client, superuser):
    services.heartbeat_record(task=SWEEPS["outbox"], at=T0)
    client.force_login(superuser)

    page = client.get("/admin/health/heartbeat/")

    assert page.status_code == 200
    assert "notifications.tasks.outbox_sweep" in page.content.decode()
    assert client.get("/admin/health/heartbeat/add/").status_code == 403
