"""The example Prometheus rules (deploy/prometheus/portal-alerts.yml) load, and ask only for metrics /metrics has."""

import re
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "portal-alerts.yml"
PORTAL_METRIC = re.compile(r"\bportal_[a-z0-9_]+\b")


def rules() -> list[dict]:
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_the_rules_file_is_a_prometheus_rules_file():
    document = yaml.safe_load(RULES.read_text())

    assert list(document) == ["groups"]
    assert [group["name"] for group in document["groups"]] == ["portal-health"]
    names = [rule["alert"] for rule in rules()]
    assert len(names) == len(set(names))
    assert {
        "PortalHealthzFailing",
        "PortalMetricsDown",
        "PortalSweepStale",
        "PortalOutboxFailedMessages",
        "PortalOutboxBacklogOld",
        "PortalAlertWebhookErrors",
        "PortalSlowPages",
    } <= set(names)
    for rule in rules():
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert isinstance(rule["expr"], str) and rule["expr"].strip(), rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]
        assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]


def test_every_portal_metric_the_rules_use_is_exposed(client, responder, metrics_token):
    client.force_login(responder)
    client.get("/")  # a request, so the latency histogram has a series
    client.logout()
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {metrics_token}")
    assert response.status_code == 200
    exposed = {
        sample.name for family in text_string_to_metric_families(response.content.decode()) for sample in family.samples
    }

    used = {name for rule in rules() for name in PORTAL_METRIC.findall(rule["expr"])}

    assert len(used) >= 8
    assert used - exposed == set()
