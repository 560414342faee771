"""Alertmanager intake under its real conditions: the same notification over and over (it
re-sends every group_interval and on every retry), and both members of an HA pair delivering
a new group at the same moment, against the real PostgreSQL."""

import threading

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from alerts.models import Alert
from incidents.models import Incident, TimelineEntry
from notifications.models import OutboxMessage

from .test_services import make_alert, make_payload, post

CLIENTS = 20


@pytest.fixture(autouse=True)
def webhook_token(settings):
    from .test_services import TOKEN

    settings.ALERTMANAGER_WEBHOOK_TOKEN = TOKEN


def _writes(captured) -> list[str]:
    """Every statement that is not a plain read (transaction control included)."""
    return [q["sql"] for q in captured if not q["sql"].lstrip().startswith("SELECT") or "FOR UPDATE" in q["sql"]]


@pytest.mark.parametrize("status", ["firing", "resolved"])
def test_a_repeat_delivery_reads_once_and_writes_nothing(client, runbook, status):
    alerts = [make_alert(f"{n:016x}", status=status) for n in range(3)]
    payload = make_payload(*alerts)
    assert post(client, payload).status_code == 200
    history = Alert.history.count(), TimelineEntry.history.count()

    with CaptureQueriesContext(connection) as captured:
        response = post(client, payload)

    assert response.json()["alerts"] == {"duplicate": 3}
    assert len(captured) == 1, [q["sql"] for q in captured]
    assert captured[0]["sql"].startswith('SELECT "alerts_alert"."fingerprint"')
    assert _writes(captured) == []
    assert (Alert.history.count(), TimelineEntry.history.count()) == history


def test_a_firing_repeat_after_the_resolution_changes_nothing(client, runbook):
    post(client, make_payload(make_alert()))
    post(client, make_payload(make_alert(status="resolved")))

    with CaptureQueriesContext(connection) as captured:
        response = post(client, make_payload(make_alert()))  # a late retry of the first notification

    assert response.json()["alerts"] == {"duplicate": 1}
    assert _writes(captured) == []
    assert Alert.objects.get().status == Alert.Status.RESOLVED


def test_a_delivery_that_resolves_one_of_its_alerts_writes_only_that_one(client, runbook):
    alerts = [make_alert(f"{n:016x}") for n in range(3)]
    post(client, make_payload(*alerts))
    alerts[1] = make_alert(f"{1:016x}", status="resolved")

    response = post(client, make_payload(*alerts))

    assert response.json()["alerts"] == {"duplicate": 2, "resolved": 1}
    assert Alert.history.filter(history_type="~").count() == 1
    assert Alert.objects.filter(status=Alert.Status.RESOLVED).count() == 1
    resolved_entry = TimelineEntry.objects.get(text__startswith="Alert resolved")
    assert resolved_entry.incident == Incident.objects.get()


def _deliver_at_once(payloads) -> tuple[list, list]:
    """POST each payload from its own thread (own connection), all released together."""
    barrier = threading.Barrier(len(payloads))
    responses, errors = [], []

    def deliver(payload):
        try:
            barrier.wait()
            response = post(Client(), payload)
            responses.append((response.status_code, response.json()))
        except Exception as exc:  # noqa: BLE001 - collected and asserted by the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver, args=(payload,)) for payload in payloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return responses, errors


@pytest.mark.django_db(transaction=True)
def test_twenty_copies_of_a_new_group_at_once_open_one_incident(runbook, settings):
    if connection.vendor != "postgresql":
        pytest.fail("Concurrency needs PostgreSQL (make test sets DATABASE_URL).")
    settings.INCIDENT_EMAIL_LISTS = {1: ["sev1@example.com"]}

    responses, errors = _deliver_at_once([make_payload(make_alert())] * CLIENTS)

    assert errors == []
    assert [status for status, _ in responses] == [200] * CLIENTS
    # One delivery stored the alert: the one that declared, or one that joined the declared incident first.
    outcomes = sorted(next(iter(body["alerts"])) for _, body in responses)
    assert outcomes in (["declared"] + ["duplicate"] * (CLIENTS - 1), ["added"] + ["duplicate"] * (CLIENTS - 1))
    incident = Incident.objects.get()
    assert Alert.objects.get().incident == incident
    assert incident.timeline.filter(kind=TimelineEntry.Kind.ALERT).count() == 1
    assert incident.history.count() == 1
    assert OutboxMessage.objects.filter(key__startswith="incident-declared:").count() == 1


@pytest.mark.django_db(transaction=True)
def test_twenty_alerts_of_one_new_group_at_once_join_one_incident(runbook):
    if connection.vendor != "postgresql":
        pytest.fail("Concurrency needs PostgreSQL (make test sets DATABASE_URL).")

    payloads = [make_payload(make_alert(f"{n:016x}")) for n in range(CLIENTS)]
    responses, errors = _deliver_at_once(payloads)

    assert errors == []
    assert [status for status, _ in responses] == [200] * CLIENTS
    assert sorted(body["alerts"].get("declared", 0) for _, body in responses) == [0] * (CLIENTS - 1) + [1]
    incident = Incident.objects.get()
    assert incident.alerts.count() == CLIENTS
    assert incident.timeline.filter(kind=TimelineEntry.Kind.ALERT).count() == CLIENTS
    assert set(Alert.history.values_list("history_change_reason", flat=True)) == {"Alertmanager webhook"}
    assert set(Alert.history.values_list("history_user__username", flat=True)) == {"system"}
