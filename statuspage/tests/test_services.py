"""Sending customer updates to subscribers: batched, resumable, once per subscriber, off the request."""

import pytest
from django.utils import timezone

from incidents import services
from incidents.models import StatusUpdate
from notifications.models import OutboxMessage
from portal.testing import report_figures, wait_until
from statuspage import services as statuspage
from statuspage.models import Broadcast, StatusSubscriber


def subscribers(count, *, confirmed=True, start=0):
    now = timezone.now()
    return [
        StatusSubscriber.objects.create(email=f"fan{start + n}@example.com", confirmed_at=now if confirmed else None)
        for n in range(count)
    ]


def post(incident, responder, audience="customers", body="Some trades are failing"):
    return services.status_update_post(incident=incident, actor=responder, audience=audience, body=body)


def update_emails(update):
    return sorted(
        OutboxMessage.objects.filter(key__startswith=f"status-update:{update.pk}:").values_list("recipients", flat=True)
    )


def test_posting_a_customer_update_starts_a_broadcast_and_queues_no_email_in_the_request(incident, responder):
    subscribers(3)

    update = post(incident, responder)

    broadcast = Broadcast.objects.get(status_update=update)
    assert broadcast.completed_at is None and broadcast.queued == 0
    assert update_emails(update) == []


def test_only_customer_updates_are_broadcast(incident, responder):
    for audience in ["internal", "stakeholders", "regulators"]:
        post(incident, responder, audience=audience)

    assert not Broadcast.objects.exists()


def test_a_broadcast_queues_one_email_per_confirmed_subscriber_in_batches(incident, responder):
    confirmed = subscribers(5)
    subscribers(2, confirmed=False, start=10)
    gone = subscribers(1, start=20)[0]
    gone.unsubscribed_at = timezone.now()
    gone.save()
    update = post(incident, responder)
    broadcast = Broadcast.objects.get(status_update=update)

    queued = statuspage.broadcast_deliver(broadcast_id=broadcast.pk, batch_size=2)

    broadcast.refresh_from_db()
    assert queued == 5
    assert update_emails(update) == sorted([[s.email] for s in confirmed])
    assert broadcast.completed_at is not None and broadcast.queued == 5
    # One history row per batch (2 + 2 + 1, the last one completing it), written by the system user.
    history = broadcast.history.filter(history_type="~")
    assert history.count() == 3
    assert {h.history_user.username for h in history} == {"system"}
    report_figures("broadcast batches", subscribers=5, batch_size=2, batches=history.count())


def test_running_a_broadcast_again_sends_nothing_twice(incident, responder):
    subscribers(3)
    update = post(incident, responder)
    broadcast = Broadcast.objects.get(status_update=update)

    assert statuspage.broadcast_deliver(broadcast_id=broadcast.pk) == 3
    assert statuspage.broadcast_deliver(broadcast_id=broadcast.pk) == 0
    assert statuspage.broadcast_sweep() == 0
    assert len(update_emails(update)) == 3


def test_an_interrupted_broadcast_resumes_where_it_stopped(incident, responder, monkeypatch):
    subscribers(5)
    update = post(incident, responder)
    broadcast = Broadcast.objects.get(status_update=update)
    real_enqueue = statuspage.email_enqueue
    calls = []

    def crash_on_the_fourth(**kwargs):
        calls.append(kwargs["recipients"][0])
        if len(calls) == 4:
            raise RuntimeError("worker died")
        return real_enqueue(**kwargs)

    monkeypatch.setattr(statuspage, "email_enqueue", crash_on_the_fourth)
    with pytest.raises(RuntimeError):
        statuspage.broadcast_deliver(broadcast_id=broadcast.pk, batch_size=2)
    broadcast.refresh_from_db()
    assert broadcast.last_subscriber_id > 0 and broadcast.completed_at is None
    assert len(update_emails(update)) == 2  # the first batch committed; the failed one rolled back

    monkeypatch.setattr(statuspage, "email_enqueue", real_enqueue)
    assert statuspage.broadcast_sweep() == 3

    assert len(update_emails(update)) == 5


def test_a_subscriber_confirmed_during_a_broadcast_still_gets_it(incident, responder):
    subscribers(2)
    update = post(incident, responder)
    broadcast = Broadcast.objects.get(status_update=update)
    statuspage.broadcast_deliver(broadcast_id=broadcast.pk, batch_size=1)  # runs to the end
    late = subscribers(1, start=50)[0]

    # A later update reaches them; this one had already gone out when they confirmed.
    assert [late.email] not in update_emails(update)
    second = post(incident, responder, body="Fixed")
    statuspage.broadcast_sweep()
    assert [late.email] in update_emails(second)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_sends_the_broadcast_after_commit(runbook, responder, celery_worker):
    from incidents.models import Incident, IncidentType, Severity

    subscribers(4)
    incident = services.incident_declare(
        actor=responder,
        title="Gateway degraded",
        severity=Severity.objects.get(level=3),
        incident_type=IncidentType.objects.get(slug="other"),
        detection_source=Incident.DetectionSource.USER_REPORT,
    )

    update = post(incident, responder)

    wait_until(lambda: Broadcast.objects.filter(status_update=update, completed_at__isnull=False).exists())
    assert len(update_emails(update)) == 4
    assert StatusUpdate.objects.filter(pk=update.pk).exists()
