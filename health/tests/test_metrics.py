"""/metrics: behind its bearer token, in Prometheus's text format, with the values the data says."""

import json
import math
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from prometheus_client.parser import text_string_to_metric_families

from alerts.tests.test_services import TOKEN as WEBHOOK_TOKEN
from alerts.tests.test_services import make_alert, make_payload
from health.models import Heartbeat
from incidents import services as incident_services
from incidents.models import Incident
from incidents.tests.factories import declare
from notifications.models import OutboxMessage
from postmortems.tests.factories import due_meetings

from .conftest import T0, beat_all

M = OutboxMessage
ROOT = Path(__file__).resolve().parents[2]


def scrape(client, token) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of one /metrics answer."""
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def test_metrics_are_off_without_a_token_setting(client, db, settings):
    settings.METRICS_TOKEN = ""

    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer ")

    assert response.status_code == 403
    assert "set METRICS_TOKEN" in response.content.decode()


@pytest.mark.parametrize("header", [None, "Bearer wrong-token-0123456789abcdef", "Basic bWV0cmljczp4", "Bearer"])
def test_metrics_need_the_token(client, db, metrics_token, header):
    extra = {"HTTP_AUTHORIZATION": header} if header is not None else {}

    response = client.get("/metrics", **extra)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"portal_" not in response.content


def test_metrics_show_what_the_database_holds(client, responder, metrics_token, at):
    first, second = declare(responder, title="A"), declare(responder, title="B")
    for incident in (first, second):
        incident_services.incident_transition(incident=incident, action="investigate", actor=responder)
    declare(responder, title="C", level=2)  # detected: unacknowledged
    acknowledged = declare(responder, title="D", level=3)
    incident_services.incident_transition(incident=acknowledged, action="acknowledge", actor=responder)
    # Test data: one incident's next update already past due, the others' not yet.
    Incident.objects.filter(pk=second.pk).update(next_update_due_at=T0 - timedelta(minutes=1))
    Incident.objects.exclude(pk=second.pk).update(next_update_due_at=T0 + timedelta(minutes=10))
    due_meetings(3, owner=responder, overdue_by=timedelta(hours=1))
    M.objects.all().delete()  # test data: only the messages below
    for key, status, due in [
        ("p1", M.Status.PENDING, T0 - timedelta(minutes=10)),
        ("p2", M.Status.PENDING, T0 + timedelta(minutes=5)),
        ("f1", M.Status.FAILED, T0),
        ("s1", M.Status.SENT, T0 - timedelta(days=1)),
    ]:
        M.objects.create(key=key, channel=M.Channel.EMAIL, body_text="x", status=status, next_attempt_at=due)
    beat_all(T0 - timedelta(seconds=30), except_=("broadcasts",))

    values = scrape(client, metrics_token)

    def value(name, **labels):
        return values[(name, tuple(sorted(labels.items())))]

    assert value("portal_database_up") == 1
    assert value("portal_incidents_open", severity="1", phase="investigating") == 2
    assert value("portal_incidents_open", severity="1", phase="detected") == 0
    assert value("portal_incidents_open", severity="2", phase="detected") == 1
    assert value("portal_incidents_open", severity="3", phase="acknowledged") == 1
    assert value("portal_incidents_open", severity="4", phase="mitigating") == 0
    assert value("portal_incidents_unacknowledged") == 1
    assert value("portal_incidents_status_update_overdue") == 1
    assert value("portal_postmortem_milestones_overdue", milestone="meeting") == 3
    assert value("portal_postmortem_milestones_overdue", milestone="analysis") == 0
    assert value("portal_outbox_pending_messages") == 2
    assert value("portal_outbox_failed_messages") == 1
    assert value("portal_outbox_oldest_pending_seconds") == 600
    assert value("portal_sweep_last_success_age_seconds", sweep="outbox") == 30
    assert value("portal_sweep_last_success_age_seconds", sweep="broadcasts") == math.inf
    assert value("portal_sweep_interval_seconds", sweep="deadlines") == 60


def test_webhook_deliveries_are_counted_by_outcome(client, runbook, metrics_token, settings):
    settings.ALERTMANAGER_WEBHOOK_TOKEN = WEBHOOK_TOKEN
    before = scrape(client, metrics_token)
    body = json.dumps(make_payload(make_alert()))

    def post(token, data=body):
        return client.post(
            "/api/alerts/alertmanager/",
            data=data,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )

    assert post(WEBHOOK_TOKEN).status_code == 200
    assert post(WEBHOOK_TOKEN).status_code == 200  # Alertmanager's retry: the same incident, counted again
    assert post("not-the-token-0123456789abcdef").status_code == 401
    assert post(WEBHOOK_TOKEN, data="{not json").status_code == 400
    after = scrape(client, metrics_token)

    def delta(outcome):
        key = ("portal_alertmanager_webhook_requests_total", (("outcome", outcome),))
        return after[key] - before[key]

    assert (delta("accepted"), delta("unauthorized"), delta("rejected"), delta("error")) == (2, 1, 1, 0)


def test_request_latency_is_recorded_by_view_not_by_path(client, responder, metrics_token, incident):
    client.force_login(responder)
    assert client.get(incident.get_absolute_url()).status_code == 200
    assert client.get("/no/such/page/12345").status_code == 404

    values = scrape(client, metrics_token)

    def count(view, status):
        key = ("portal_http_request_duration_seconds_count", (("method", "GET"), ("status", status), ("view", view)))
        return values.get(key, 0)

    assert count("incidents:detail", "2xx") >= 1
    assert count("unmatched", "4xx") >= 1
    assert not [labels for name, labels in values if incident.reference in str(labels) or "12345" in str(labels)]
    bucket = ("method", "GET"), ("status", "2xx"), ("view", "incidents:detail")
    assert values[("portal_http_request_duration_seconds_bucket", (("le", "+Inf"), *bucket))] >= 1


def test_a_scrape_runs_the_same_queries_whatever_the_data(client, responder, metrics_token):
    def scrape_queries():
        with CaptureQueriesContext(connection) as ctx:
            scrape(client, metrics_token)
        return len(ctx.captured_queries)

    for i in range(5):
        declare(responder, title=f"Small {i}", level=1 + i % 4)
    due_meetings(5, owner=responder, prefix="S")
    with_5 = scrape_queries()
    for i in range(45):
        declare(responder, title=f"Big {i}", level=1 + i % 4)
    due_meetings(45, owner=responder, prefix="B")
    Heartbeat.objects.all().delete()
    beat_all(T0)
    with_50 = scrape_queries()

    assert with_5 == with_50 == 6


def _python(code: str, **env) -> str:
    clean = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup();" + code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "portal.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


COUNT_ONE = "from portal.metrics import WEBHOOK_REQUESTS; WEBHOOK_REQUESTS.labels('accepted').inc()"
SHOW = (
    "from health.metrics import in_process_registry; from prometheus_client import generate_latest;"
    "print(generate_latest(in_process_registry()).decode())"
)
ACCEPTED = 'portal_alertmanager_webhook_requests_total{outcome="accepted"}'


def test_in_multiprocess_mode_a_scrape_adds_up_every_worker_process(tmp_path):
    for _ in range(2):  # two gunicorn workers, each answering one webhook
        _python(COUNT_ONE, PROMETHEUS_MULTIPROC_DIR=str(tmp_path))

    shown = _python(SHOW, PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    alone = _python(COUNT_ONE + ";" + SHOW)  # without it, a process sees only its own

    assert f"{ACCEPTED} 2.0" in shown
    assert f"{ACCEPTED} 1.0" in alone
