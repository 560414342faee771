"""The Alertmanager webhook: authentication, validation, grouping and idempotency."""

import json
import threading

import pytest
from django.db import connection
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from alerts.models import Alert
from incidents.models import Incident, TimelineEntry
from notifications.models import OutboxMessage
from portal.testing import report_figures

TOKEN = "test-token-0123456789abcdefghij"
URL = "/api/alerts/alertmanager/"


def make_alert(fingerprint="a1b2c3d4e5f60718", status="firing", starts_at="2026-11-27T03:00:00.123456789Z", **labels):
    return {
        "status": status,
        "labels": {"alertname": "ExecutorErrors", "severity": "critical", "service": "executor", **labels},
        "annotations": {"summary": "Trade failure rate above 20%", "description": "See the executor dashboard."},
        "startsAt": starts_at,
        "endsAt": "2026-11-27T03:30:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.example/graph?g0.expr=rate%28x%29",
        "fingerprint": fingerprint,
    }


def make_payload(*alerts, group_key='{}:{alertname="ExecutorErrors"}', status=None):
    alerts = list(alerts) or [make_alert()]
    return {
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": 0,
        "status": status or alerts[0]["status"],
        "receiver": "portal",
        "groupLabels": {"alertname": "ExecutorErrors"},
        "commonLabels": alerts[0]["labels"],
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example",
        "alerts": alerts,
    }


@pytest.fixture(autouse=True)
def webhook_token(settings):
    settings.ALERTMANAGER_WEBHOOK_TOKEN = TOKEN


def post(client, payload, token=TOKEN, **extra):
    body = payload if isinstance(payload, bytes | str) else json.dumps(payload)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token is not None else {}
    return client.post(URL, data=body, content_type="application/json", **headers, **extra)


def test_url_is_where_alertmanager_is_pointed():
    assert reverse("alerts:alertmanager_webhook") == URL


def test_firing_alert_opens_an_incident_with_mapped_severity_and_type(client, runbook):
    alert = make_alert(incident_type="trade-execution-failure")

    response = post(client, make_payload(alert))

    assert response.status_code == 200, response.content
    assert response.json()["alerts"] == {"declared": 1}
    incident = Incident.objects.get()
    assert incident.severity.level == 1
    assert incident.incident_type.slug == "trade-execution-failure"
    assert incident.detection_source == Incident.DetectionSource.ALERT
    assert incident.alert_group_key == '{}:{alertname="ExecutorErrors"}'
    assert incident.title == "ExecutorErrors: Trade failure rate above 20%"
    assert incident.declared_by.username == "system"
    entry = incident.timeline.get(kind=TimelineEntry.Kind.ALERT)
    assert entry.data["labels"]["service"] == "executor"
    assert entry.data["annotations"]["description"] == "See the executor dashboard."
    assert entry.data["generator_url"].startswith("http://prometheus.example/graph")
    stored = Alert.objects.get()
    assert stored.incident == incident
    assert stored.payload == alert  # the raw alert, as received
    assert stored.history.first().history_change_reason == "Alertmanager webhook"


def test_unknown_severity_and_type_fall_back_to_defaults(client, runbook, settings):
    settings.ALERT_DEFAULT_SEVERITY = 4

    post(client, make_payload(make_alert(severity="weird", incident_type="no-such-type")))

    incident = Incident.objects.get()
    assert (incident.severity.level, incident.incident_type.slug) == (4, "other")


def test_the_same_delivery_three_times_leaves_one_incident(client, runbook):
    payload = make_payload(make_alert())

    outcomes = [post(client, payload).json()["alerts"] for _ in range(3)]

    assert outcomes == [{"declared": 1}, {"duplicate": 1}, {"duplicate": 1}]
    assert Incident.objects.count() == 1
    assert Alert.objects.count() == 1
    assert TimelineEntry.objects.filter(kind=TimelineEntry.Kind.ALERT).count() == 1


def test_another_alert_of_the_group_joins_the_open_incident(client, runbook):
    post(client, make_payload(make_alert("aaaa")))

    response = post(client, make_payload(make_alert("bbbb"), make_alert("cccc")))

    assert response.json()["alerts"] == {"added": 2}
    incident = Incident.objects.get()
    assert incident.alerts.count() == 3
    assert incident.timeline.filter(kind=TimelineEntry.Kind.ALERT).count() == 3


def test_a_group_whose_incident_was_resolved_opens_a_new_one(client, runbook):
    from incidents import services

    post(client, make_payload(make_alert("aaaa")))
    first = Incident.objects.get()
    services.incident_transition(incident=first, action="acknowledge", actor=first.declared_by)
    services.incident_transition(incident=first, action="resolve", actor=first.declared_by, note="Verified")

    post(client, make_payload(make_alert("aaaa", starts_at="2026-11-27T05:00:00Z")))

    assert Incident.objects.count() == 2


def test_resolved_alert_is_recorded_and_leaves_the_incident_open(client, runbook):
    post(client, make_payload(make_alert()))
    resolved = make_alert(status="resolved")

    response = post(client, make_payload(resolved))
    again = post(client, make_payload(resolved))

    assert response.json()["alerts"] == {"resolved": 1}
    assert again.json()["alerts"] == {"duplicate": 1}
    incident = Incident.objects.get()
    assert incident.status == Incident.Status.DETECTED
    texts = list(incident.timeline.filter(kind=TimelineEntry.Kind.ALERT).values_list("text", flat=True))
    assert len(texts) == 2 and texts[1].startswith("Alert resolved: ExecutorErrors")
    alert = Alert.objects.get()
    assert alert.status == Alert.Status.RESOLVED
    assert alert.resolved_payload == resolved
    assert alert.ends_at.isoformat() == "2026-11-27T03:30:00+00:00"


def test_resolved_alert_without_a_firing_one_opens_nothing(client, runbook):
    response = post(client, make_payload(make_alert(status="resolved")))

    assert response.json()["alerts"] == {"resolved-unmatched": 1}
    assert Incident.objects.count() == 0
    assert Alert.objects.get().payload["status"] == "resolved"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"HTTP_AUTHORIZATION": "Bearer wrong-token-0123456789abcdefghij"},
        {"HTTP_AUTHORIZATION": f"Basic {TOKEN}"},
        {"HTTP_AUTHORIZATION": "Bearer "},
    ],
    ids=["missing", "wrong", "not-bearer", "empty"],
)
def test_bad_token_is_refused(client, runbook, headers):
    response = client.post(URL, data=json.dumps(make_payload()), content_type="application/json", **headers)

    assert response.status_code == 401
    assert response.json()["status"] == "error"
    assert Alert.objects.count() == 0


def test_unset_token_refuses_everything(client, runbook, settings):
    settings.ALERTMANAGER_WEBHOOK_TOKEN = ""

    assert post(client, make_payload(), token="").status_code == 401
    assert post(client, make_payload(), token=TOKEN).status_code == 401
    assert Alert.objects.count() == 0


@pytest.mark.parametrize(
    "body,message",
    [
        ("{not json", "Invalid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"version": "4", "groupKey": "g", "status": "firing", "alerts": [{"status": "firing"}]}', "startsAt"),
        (json.dumps(make_payload(make_alert(starts_at="yesterday"))), "RFC 3339"),
        (json.dumps({**make_payload(), "alerts": []}), "non-empty"),
        (json.dumps({**make_payload(), "groupKey": 7}), "groupKey"),
        ('{"version": "4", "x": NaN}', "NaN"),
        (json.dumps(make_payload(make_alert(service="a\x00b"))), "NUL"),
        ('{"version": "4", "groupKey": "\\ud800"}', "UTF-8"),
        (b"\xff\xfe", "UTF-8"),
    ],
    ids=["syntax", "array", "incomplete", "timestamp", "no-alerts", "group-key", "nan", "nul", "surrogate", "bytes"],
)
def test_malformed_payload_answers_400_with_a_message(client, runbook, body, message):
    response = post(client, body)

    assert response.status_code == 400
    assert message in response.json()["error"]
    assert Alert.objects.count() == 0


def test_wrong_version_answers_400(client, runbook):
    response = post(client, {**make_payload(), "version": "3"})

    assert response.status_code == 400
    assert "version" in response.json()["error"]


def test_oversized_payload_answers_413(client, runbook, settings):
    settings.ALERTMANAGER_MAX_BODY_BYTES = 2000
    alerts = [make_alert(f"fp{i:04d}") for i in range(20)]

    response = post(client, make_payload(*alerts))

    assert response.status_code == 413
    assert Alert.objects.count() == 0


def test_only_post_is_allowed(client, runbook):
    assert client.get(URL, HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 405


def test_endpoint_is_csrf_exempt(runbook):
    from django.test import Client

    response = post(Client(enforce_csrf_checks=True), make_payload())

    assert response.status_code == 200


@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_of_one_group_open_one_incident(runbook, settings):
    """Two Alertmanager replicas delivering at once: the database constraints decide, not a read-then-write."""
    from django.test import Client

    settings.INCIDENT_EMAIL_LISTS = {1: ["sev1@example.com"]}

    payloads = [make_payload(make_alert(f"fp{i}")) for i in range(4)] * 2
    barrier = threading.Barrier(len(payloads))
    statuses = []

    def deliver(payload):
        try:
            barrier.wait()
            statuses.append(post(Client(), payload).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver, args=(p,)) for p in payloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [200] * len(payloads)
    assert Incident.objects.count() == 1
    assert Alert.objects.count() == 4
    assert Alert.objects.filter(incident__isnull=True).count() == 0
    assert TimelineEntry.objects.filter(kind=TimelineEntry.Kind.ALERT).count() == 4
    assert OutboxMessage.objects.filter(key__startswith="incident-declared:").count() == 1


def test_losing_the_race_to_open_the_group_incident_joins_the_winner(client, runbook, monkeypatch):
    """The lookup saw no open incident, but another delivery committed one before our insert."""
    from alerts import services as alerts

    post(client, make_payload(make_alert("aaaa")))
    real_lookup = alerts._open_incident
    calls = []

    def stale_then_real(key):
        calls.append(key)
        return None if len(calls) == 1 else real_lookup(key)

    monkeypatch.setattr(alerts, "_open_incident", stale_then_real)

    response = post(client, make_payload(make_alert("bbbb")))

    assert response.status_code == 200
    assert response.json()["alerts"] == {"added": 1}
    assert len(calls) == 2
    assert Incident.objects.count() == 1
    assert Incident.objects.get().alerts.count() == 2


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=10,
)
alert_like = st.fixed_dictionaries(
    {},
    optional={
        "status": st.sampled_from(["firing", "resolved"]) | json_values,
        "labels": st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=3) | json_values,
        "annotations": st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=3) | json_values,
        "startsAt": st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()) | json_values,
        "endsAt": st.sampled_from(["0001-01-01T00:00:00Z", "9999-12-31T23:59:59-14:00"]) | json_values,
        "generatorURL": st.text(max_size=20) | json_values,
        "fingerprint": st.text(max_size=20) | json_values,
    },
)
payload_like = st.fixed_dictionaries(
    {},
    optional={
        "version": st.just("4") | json_values,
        "groupKey": st.text(max_size=300) | json_values,
        "status": st.sampled_from(["firing", "resolved"]) | json_values,
        "alerts": st.lists(alert_like, max_size=3) | json_values,
    },
)


def _fuzzed_valid(labels, annotations, fingerprint, starts_at, group_key):
    alert = make_alert(fingerprint, starts_at=starts_at)
    alert["labels"].update(labels)
    alert["annotations"].update(annotations)
    return make_payload(alert, group_key=group_key)


# Well-formed payloads with arbitrary text where Alertmanager passes user data through.
valid_shaped = st.builds(
    _fuzzed_valid,
    st.dictionaries(st.text(max_size=10), st.text(max_size=30), max_size=3),
    st.dictionaries(st.text(max_size=10), st.text(max_size=300), max_size=3),
    st.text(min_size=1, max_size=120),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.text(min_size=1, max_size=400),
)


def _with_number(literal: str) -> str:
    """A valid payload whose alert carries a raw JSON number literal (kept in the stored payload)."""
    alert = make_alert("f00d")
    alert["value"] = "__NUMBER__"
    return json.dumps(make_payload(alert)).replace('"__NUMBER__"', literal)


# Numbers json.dumps never writes: overflowing exponents (1e999 is infinity), 5,000-digit integers.
number_literals = st.from_regex(r"\A-?[1-9][0-9]{0,20}(\.[0-9]{1,5})?([eE][+-]?[0-9]{1,4})?\Z") | st.integers(
    min_value=1, max_value=6000
).map(lambda digits: "9" * digits)


@pytest.mark.fuzz
@hsettings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=payload_like.map(json.dumps)
    | valid_shaped.map(json.dumps)
    | number_literals.map(_with_number)
    | st.binary(max_size=200)
    | json_values.map(json.dumps)
)
def test_no_payload_makes_the_endpoint_answer_5xx(client, runbook, body):
    # Examples: HYPOTHESIS_PROFILE=slow runs 10,000 (conftest.py); the default run fewer.
    response = post(client, body)

    assert response.status_code < 500, response.content
    assert response.status_code in (200, 400)


@pytest.mark.parametrize(
    ("literal", "message"),
    [
        ("1e999", "the number 1e999 is out of range"),
        ("-1e400", "the number -1e400 is out of range"),
        ("9" * 5000, "an integer of 5000 digits is out of range"),
    ],
)
def test_numbers_the_database_cannot_store_are_refused_with_a_reason(client, runbook, literal, message):
    response = post(client, _with_number(literal))

    assert response.status_code == 400
    assert message in response.json()["error"]
    assert not Alert.objects.exists()


def test_a_large_number_that_fits_is_stored_as_sent(client, runbook):
    response = post(client, _with_number("1e308"))

    assert response.status_code == 200
    assert float(Alert.objects.get().payload["value"]) == 1e308


def test_a_delivery_of_many_alerts_is_stored_in_a_fixed_number_of_queries(client, runbook):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def deliver(count, group):
        alerts = [make_alert(f"{group}{n:015x}") for n in range(count)]
        with CaptureQueriesContext(connection) as queries:
            response = post(client, make_payload(*alerts, group_key=f"{{}}:{{alertname={group!r}}}"))
        assert response.status_code == 200
        assert response.json()["alerts"] == {"declared": 1, "added": count - 1}
        return len(queries)

    deliver(2, "w")  # the year's first declaration also creates its reference counter
    ten, thousand = deliver(10, "a"), deliver(1000, "b")

    report_figures("webhook queries", alerts_10=ten, alerts_1000=thousand)
    assert ten == thousand
    big = Incident.objects.get(alert_group_key__contains="'b'")
    assert big.alerts.count() == 1000
    assert big.timeline.filter(kind=TimelineEntry.Kind.ALERT).count() == 1000
    assert Alert.history.count() == 1012
    assert TimelineEntry.history.filter(kind=TimelineEntry.Kind.ALERT).count() == 1012


def test_resolving_many_alerts_at_once_updates_them_in_bulk(client, runbook):
    alerts = [make_alert(f"{n:016x}") for n in range(50)]
    post(client, make_payload(*alerts))
    for alert in alerts:
        alert["status"] = "resolved"
        alert["endsAt"] = "2026-11-27T03:30:00Z"

    response = post(client, make_payload(*alerts, status="resolved"))

    assert response.json()["alerts"] == {"resolved": 50}
    assert Alert.objects.filter(status=Alert.Status.RESOLVED).count() == 50
    assert Alert.history.filter(history_type="~").count() == 50
    assert post(client, make_payload(*alerts, status="resolved")).json()["alerts"] == {"duplicate": 50}
