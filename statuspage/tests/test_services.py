"""Sending customer updates to subscribers: batched, resumable, once per subscriber, off the request."""

import threading
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from incidents import services
from incidents.models import StatusUpdate
from notifications.erasure import ERASED
from notifications.models import OutboxMessage
from portal.testing import report_figures, wait_until
from statuspage import services as statuspage
from statuspage.models import Broadcast, StatusSubscriber

from .conftest import FAN


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
    statuspage.subscriber_unsubscribe(subscriber=subscribers(1, start=20)[0])
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


def outbox_holding(address):
    """Keys of every outbox message, or history row of one, that still names `address`."""
    rows = list(OutboxMessage.objects.all()) + list(OutboxMessage.history.all())
    return sorted({row.key for row in rows if address in row.recipients})


def test_unsubscribing_erases_the_address_from_the_row_its_history_and_the_outbox(fan, incident, responder):
    sent = post(incident, responder, body="Sent before")
    statuspage.broadcast_sweep()
    OutboxMessage.objects.filter(key__startswith="status-").update(status=OutboxMessage.Status.SENT)  # test setup
    waiting = post(incident, responder, body="Still queued when they leave")
    statuspage.broadcast_sweep()
    assert outbox_holding(FAN) != [] and fan.history.filter(email=FAN).exists()

    statuspage.subscriber_unsubscribe(subscriber=fan)

    fan.refresh_from_db()
    assert (fan.email, fan.is_erased, fan.is_receiving) == (None, True, False)
    assert not StatusSubscriber.objects.filter(email=FAN).exists()
    assert not fan.history.filter(email=FAN).exists()
    assert outbox_holding(FAN) == []
    queued = OutboxMessage.objects.get(key=f"status-update:{waiting.pk}:{fan.pk}")
    assert (queued.status, queued.last_error) == (OutboxMessage.Status.FAILED, ERASED)  # never sent now
    assert OutboxMessage.objects.get(key=f"status-update:{sent.pk}:{fan.pk}").status == OutboxMessage.Status.SENT


def test_the_unsubscribe_is_recorded_by_the_system_user_without_the_address(fan):
    statuspage.subscriber_unsubscribe(subscriber=fan)

    record = fan.history.first()
    assert (record.history_type, record.history_user.username) == ("~", "system")
    assert record.history_change_reason == "Status page: unsubscribed, address erased"
    assert record.email is None and record.unsubscribed_at is not None
    assert [row.email for row in fan.history.all()] == [None] * fan.history.count()


def test_the_erased_address_is_kept_only_as_a_hash_keyed_from_the_secret_key(fan, settings):
    statuspage.subscriber_unsubscribe(subscriber=fan)
    fan.refresh_from_db()

    assert fan.email_hash == salted_hmac("statuspage.subscriber", FAN, algorithm="sha256").hexdigest()
    assert FAN not in fan.email_hash
    settings.SECRET_KEY = "another-secret-key-" * 3
    assert statuspage.email_digest(FAN) != fan.email_hash  # not a bare hash anyone could recompute


def test_unsubscribing_twice_changes_nothing_more(fan):
    first = statuspage.subscriber_unsubscribe(subscriber=fan)
    rows = fan.history.count()

    again = statuspage.subscriber_unsubscribe(subscriber=fan)

    assert (again.email_hash, again.unsubscribed_at) == (first.email_hash, first.unsubscribed_at)
    assert fan.history.count() == rows


def test_subscribing_again_after_unsubscribing_gets_the_row_back_and_a_new_confirmation(fan):
    statuspage.subscriber_unsubscribe(subscriber=fan)

    again = statuspage.subscriber_subscribe(email=" FAN@example.com")

    assert again.pk == fan.pk  # the same row, so its audit trail goes on
    assert (again.email, again.email_hash, again.confirmed_at, again.unsubscribed_at) == (FAN, None, None, None)
    confirmations = OutboxMessage.objects.filter(key__startswith=f"status-confirm:{fan.pk}:").order_by("pk")
    assert [message.recipients for message in confirmations] == [[], [FAN]]  # the old one erased, a new one sent
    assert statuspage.subscriber_subscribe(email=FAN).pk == fan.pk
    assert confirmations.count() == 2  # and still at most one a day for this subscription
    statuspage.subscriber_confirm(subscriber=again)
    assert StatusSubscriber.objects.receiving().get() == again


def test_any_spelling_of_an_erased_address_finds_its_row(runbook):
    subscriber = statuspage.subscriber_subscribe(email="fan@xn--bcher-kva.example")
    statuspage.subscriber_unsubscribe(subscriber=subscriber)

    again = statuspage.subscriber_subscribe(email="Fan@Bücher。Example")

    assert again.pk == subscriber.pk
    assert again.email == "fan@bücher.example"


def test_a_broadcast_never_sends_to_an_erased_subscriber(fan, incident, responder):
    others = subscribers(2)
    statuspage.subscriber_unsubscribe(subscriber=fan)

    update = post(incident, responder)
    statuspage.broadcast_sweep()

    assert update_emails(update) == sorted([[s.email] for s in others])
    assert not OutboxMessage.objects.filter(key=f"status-update:{update.pk}:{fan.pk}").exists()


def test_a_confirmation_link_followed_after_unsubscribing_changes_nothing(runbook):
    subscriber = statuspage.subscriber_subscribe(email=FAN)
    statuspage.subscriber_unsubscribe(subscriber=subscriber)

    statuspage.subscriber_confirm(subscriber=subscriber)

    subscriber.refresh_from_db()
    assert subscriber.is_erased and subscriber.confirmed_at is None and not subscriber.is_receiving


def test_one_who_unsubscribed_before_erasure_existed_is_erased_when_they_unsubscribe_again(runbook):
    left = timezone.now() - timedelta(days=100)
    legacy = StatusSubscriber.objects.create(email=FAN, confirmed_at=left, unsubscribed_at=left)

    statuspage.subscriber_unsubscribe(subscriber=legacy)

    legacy.refresh_from_db()
    assert (legacy.email, legacy.unsubscribed_at) == (None, left)
    assert not legacy.history.filter(email=FAN).exists()


@pytest.mark.parametrize(
    "state",
    [
        {"email": None, "email_hash": "h" * 64, "unsubscribed_at": None},  # erased yet still subscribed
        {"email": FAN, "email_hash": "h" * 64, "unsubscribed_at": "now"},  # both the address and its hash
        {"email": None, "email_hash": None, "unsubscribed_at": "now"},  # nothing to recognise it by
    ],
)
def test_the_database_keeps_an_address_only_while_subscribed(runbook, state):
    values = {**state, "unsubscribed_at": timezone.now() if state["unsubscribed_at"] else None}

    with pytest.raises(IntegrityError), transaction.atomic():
        StatusSubscriber.objects.create(**values)


@pytest.mark.django_db(transaction=True)
def test_an_unsubscribe_during_a_broadcast_batch_erases_the_address_from_it(incident, responder, monkeypatch):
    """The batch holds its subscribers until its emails are queued: the unsubscribe waits, then erases them too."""
    fan = statuspage.subscriber_confirm(subscriber=statuspage.subscriber_subscribe(email=FAN))
    update = post(incident, responder)
    broadcast = Broadcast.objects.get(status_update=update)
    queuing, release = threading.Event(), threading.Event()
    errors = []
    real_enqueue = statuspage.email_enqueue

    def slow_enqueue(**kwargs):
        queuing.set()
        release.wait(10)
        return real_enqueue(**kwargs)

    def run(work):
        try:
            work()
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    monkeypatch.setattr(statuspage, "email_enqueue", slow_enqueue)
    broadcasting = threading.Thread(target=run, args=(lambda: statuspage.broadcast_deliver(broadcast_id=broadcast.pk),))
    unsubscribing = threading.Thread(target=run, args=(lambda: statuspage.subscriber_unsubscribe(subscriber=fan),))
    broadcasting.start()
    assert queuing.wait(10)
    unsubscribing.start()
    unsubscribing.join(0.5)
    still_waiting = unsubscribing.is_alive()
    release.set()
    broadcasting.join(10)
    unsubscribing.join(10)

    assert errors == []
    assert still_waiting
    email = OutboxMessage.objects.get(key=f"status-update:{update.pk}:{fan.pk}")
    assert (email.recipients, email.status) == ([], OutboxMessage.Status.FAILED)
    assert outbox_holding(FAN) == []
