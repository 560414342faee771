"""/healthz: 200 when the database, the broker and every sweep are fine; 503 with the reasons when not."""

import socket
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from conftest import free_port
from health.sweeps import SWEEPS
from incidents.tests.factories import declare
from portal.testing import broker_at

from .conftest import T0, beat_all

pytestmark = pytest.mark.usefixtures("redis_broker_url")


def test_all_fresh_answers_200_without_a_login_and_without_incident_data(client, responder, at):
    incident = declare(responder, title="Executor leaking private keys")
    beat_all(T0)
    at(59)

    response = client.get("/healthz")

    assert response.status_code == 200
    report = response.json()
    assert report["status"] == "ok"
    assert report["reasons"] == []
    assert report["database"] == {"ok": True, "error": None}
    assert report["broker"] == {"ok": True, "error": None}
    assert set(report["sweeps"]) == set(SWEEPS)
    assert report["sweeps"]["outbox"] == {
        "ok": True,
        "state": "ok",
        "task": "notifications.tasks.outbox_sweep",
        "last_success_at": "2026-11-27T03:00:00+00:00",
        "age_seconds": 59.0,
        "interval_seconds": 60.0,
        "stale_after_seconds": 180.0,
    }
    body = response.content.decode()
    assert incident.reference not in body and "private keys" not in body
    assert "no-cache" in response["Cache-Control"]


def test_a_sweep_three_intervals_old_is_still_fine_and_one_second_more_is_stale(client, db, at):
    beat_all(T0)
    at(180)
    assert client.get("/healthz").status_code == 200

    at(181)
    beat_all(T0 + timedelta(seconds=181), except_=("deadlines",))
    response = client.get("/healthz")

    assert response.status_code == 503
    report = response.json()
    assert report["status"] == "unhealthy"
    assert report["reasons"] == ["sweep deadlines: last ran 181 s ago, stale after 180 s"]
    assert report["sweeps"]["deadlines"]["state"] == "stale"
    assert report["sweeps"]["deadlines"]["ok"] is False
    assert report["sweeps"]["outbox"]["state"] == "ok"
    assert report["broker"]["ok"] and report["database"]["ok"]


def test_the_stale_threshold_follows_the_beat_schedule(client, db, at, settings):
    settings.CELERY_BEAT_SCHEDULE = {
        **settings.CELERY_BEAT_SCHEDULE,
        "deliver-outbox": {"task": SWEEPS["outbox"], "schedule": 600},
    }
    beat_all(T0)
    at(20 * 60)
    beat_all(T0 + timedelta(minutes=20), except_=("outbox",))

    response = client.get("/healthz")

    assert response.status_code == 200  # 20 min < 3 x 10 min
    assert response.json()["sweeps"]["outbox"]["stale_after_seconds"] == 1800.0


def test_a_sweep_that_never_ran_is_unhealthy(client, db):
    beat_all(timezone.now(), except_=("broadcasts",))

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["reasons"] == ["sweep broadcasts: never ran"]
    assert response.json()["sweeps"]["broadcasts"]["state"] == "never"
    assert response.json()["sweeps"]["broadcasts"]["last_success_at"] is None


def test_with_the_broker_refusing_connections_healthz_answers_503_at_once(client, db):
    beat_all(timezone.now())
    started = time.monotonic()
    with broker_at(f"redis://127.0.0.1:{free_port()}/0"):
        response = client.get("/healthz")
    elapsed = time.monotonic() - started

    assert response.status_code == 503
    report = response.json()
    assert report["broker"] == {"ok": False, "error": "unreachable (OperationalError)"}
    assert report["reasons"] == ["broker: unreachable (OperationalError)"]
    assert report["database"]["ok"] is True
    assert elapsed < 3  # generous: proves no hang on Celery's connection retries, not a benchmark

    assert client.get("/healthz").status_code == 200  # the broker is back


def test_with_a_broker_that_never_answers_healthz_gives_up_after_its_timeout(client, db, settings):
    settings.HEALTH_BROKER_TIMEOUT = 1
    beat_all(timezone.now())
    with socket.socket() as silent:  # accepts connections (the kernel does) and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        started = time.monotonic()
        with broker_at(f"redis://127.0.0.1:{silent.getsockname()[1]}/0"):
            response = client.get("/healthz")
        elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert response.json()["reasons"] == ["broker: unreachable (OperationalError)"]
    assert elapsed < 3  # generous: the timeout is 1 s; proves no hang, not a benchmark


def test_healthz_only_reads(client, db):
    assert client.post("/healthz").status_code == 405
