"""Escalation by phone: the unacknowledged-incident escalation pages the 24/7 lines once, the page goes
to a real local paging gateway, and the timeline says "queued", then what the gateway did; never that
someone was reached before the gateway accepted the page."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import close_old_connections

from conftest import free_port
from incidents import cadence, services
from incidents.models import Incident, IncidentType, Severity, TimelineEntry
from notifications import services as outbox
from notifications.models import OutboxMessage
from notifications.tests.test_paging import TOKEN, gateway

T0 = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
M = OutboxMessage
SUPPORT_PHONES = ["+1-555-0100", "+1-555-0101"]  # the seeded 24/7 lines, which have no email


@pytest.fixture
def at(time_machine):
    def move(minutes):
        time_machine.move_to(T0 + timedelta(minutes=minutes), tick=False)

    move(0)
    return move


def declare(actor, level=1):
    return services.incident_declare(
        actor=actor,
        title="Signal backlog",
        severity=Severity.objects.get(level=level),
        incident_type=IncidentType.objects.get(slug="signal-processing-delay"),
        detection_source=Incident.DetectionSource.MANUAL_CHECK,
    )


def outreach(incident) -> list[str]:
    return list(
        incident.timeline.filter(kind=TimelineEntry.Kind.OUTREACH)
        .order_by("occurred_at", "id")
        .values_list("text", flat=True)
    )


def test_paging_off_says_so_on_the_timeline_and_queues_no_page(responder, at, settings):
    settings.PAGING_WEBHOOK_URL = ""
    incident = declare(responder)
    at(16)

    assert cadence.escalate_unacknowledged() == 1
    at(20)
    assert cadence.escalate_unacknowledged() == 0

    assert not M.objects.filter(channel=M.Channel.PAGE).exists()
    [text] = outreach(incident)
    assert text.startswith("Paging is not configured: 24/7 Support – Primary (+1-555-0100), 24/7 Support – Backup")
    assert "Paged" not in text


def test_unacknowledged_incident_pages_each_line_once_and_the_timeline_follows_the_gateway(responder, at, settings):
    settings.PAGING_TOKEN = TOKEN
    settings.PAGING_WEBHOOK_URL = f"http://127.0.0.1:{free_port()}/pages"  # the gateway is down at first
    incident = declare(responder)
    at(16)

    assert cadence.escalate_unacknowledged() == 1
    assert cadence.escalate_unacknowledged() == 0  # a second sweep: nothing new
    pages = M.objects.filter(channel=M.Channel.PAGE).order_by("key")
    assert [p.recipients for p in pages] == [[phone] for phone in SUPPORT_PHONES]
    assert all(incident.reference in p.body_text for p in pages)
    queued = outreach(incident)
    assert queued == [
        "Paging 24/7 Support – Primary (+1-555-0100) through the paging gateway (not acknowledged in time): queued.",
        "Paging 24/7 Support – Backup (+1-555-0101) through the paging gateway (not acknowledged in time): queued.",
    ]

    assert outbox.outbox_sweep() == {"sent": 1, "retry": 2}  # the escalation email, and the two pages refused
    assert outreach(incident) == queued  # a refused attempt claims nothing

    with gateway() as (url, received):
        settings.PAGING_WEBHOOK_URL = url
        at(18)
        assert outbox.outbox_sweep() == {"sent": 2}

    assert sorted(body["to"][0] for _, body in received) == SUPPORT_PHONES
    assert all(headers["Authorization"] == f"Bearer {TOKEN}" for headers, _ in received)
    outcomes = outreach(incident)[2:]
    assert sorted(outcomes) == [
        "Paged 24/7 Support – Backup (+1-555-0101) through the paging gateway: accepted by the gateway.",
        "Paged 24/7 Support – Primary (+1-555-0100) through the paging gateway: accepted by the gateway.",
    ]
    entry = incident.timeline.filter(text__contains="accepted by the gateway").first()
    assert entry.author.username == "system"
    assert entry.history.get().history_change_reason == "Page outcome recorded"


def test_a_page_that_fails_for_good_says_so_and_never_claims_a_reach(responder, at, settings):
    settings.PAGING_TOKEN, settings.OUTBOX_MAX_ATTEMPTS = TOKEN, 2
    with gateway(500, 500, 500, 500) as (url, _):
        settings.PAGING_WEBHOOK_URL = url
        incident = declare(responder)
        at(16)
        cadence.escalate_unacknowledged()
        outbox.outbox_sweep()
        at(18)
        outbox.outbox_sweep()

    texts = outreach(incident)
    assert not any("accepted" in text for text in texts)
    failed = [text for text in texts if "failed after" in text]
    assert len(failed) == 2
    assert failed[0].startswith("Paged 24/7 Support – ")
    assert "failed after 2 attempts: DeliveryError: Paging gateway: HTTP Error 500" in failed[0]


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_page_each_line_once(runbook, responder, settings):
    settings.PAGING_WEBHOOK_URL, settings.PAGING_TOKEN = "http://127.0.0.1:9/pages", TOKEN
    incident = declare(responder)
    Incident.objects.filter(pk=incident.pk).update(detected_at=incident.detected_at - timedelta(minutes=20))
    barrier = threading.Barrier(2)
    errors = []

    def sweep():
        try:
            barrier.wait()
            cadence.escalate_unacknowledged()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # One sweep may lose the race on a unique key and roll back; the next sweep would find everything queued.
    cadence.escalate_unacknowledged()
    assert all("unique" in str(exc).lower() or "duplicate" in str(exc).lower() for exc in errors), errors
    assert M.objects.filter(channel=M.Channel.PAGE).count() == 2
    assert M.objects.filter(key=f"unacknowledged:{incident.pk}").count() == 1
    assert len([t for t in outreach(incident) if "queued" in t]) == 2
