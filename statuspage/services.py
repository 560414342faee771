"""Status-page subscriptions (double opt-in) and the fan-out of customer updates.

A customer-facing status update starts a `Broadcast` in the transaction that
posts it (`incidents.events.status_update_posted`); a task then queues one email
per confirmed subscriber in batches, each batch its own transaction, so the
responder's request never waits on the subscriber list. The broadcast's cursor
and the outbox's unique key per (update, subscriber) make a re-run, a crash or
two workers at once harmless: nobody gets an update twice, nobody is skipped.
The periodic sweep finishes broadcasts whose task was never published.
"""

import logging

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from audit.actors import acting_as, system_user
from incidents.models import StatusUpdate
from notifications.services import email_enqueue
from portal.celery import publish

from .models import Broadcast, StatusSubscriber
from .selectors import public_heading, public_status

logger = logging.getLogger(__name__)

UNSUBSCRIBE_SALT = "incidents.status.unsubscribe"
CONFIRM_SALT = "incidents.status.confirm"
DELIVER_TASK = "statuspage.tasks.broadcast_deliver"


def subscriber_token(subscriber: StatusSubscriber, salt: str) -> str:
    return signing.dumps(subscriber.pk, salt=salt, compress=True)


def subscriber_link(subscriber: StatusSubscriber, name: str, salt: str) -> str:
    return settings.SITE_URL + reverse(f"statuspage:{name}", args=[subscriber_token(subscriber, salt)])


def normalise_email(email: str) -> str:
    return email.strip().lower()


def subscriber_subscribe(*, email: str) -> StatusSubscriber:
    """Start a subscription: the address receives a confirmation link and nothing else until it is followed.

    Asking again re-sends the link, at most once a day per address, so the form
    cannot be used to flood someone's inbox.
    """
    email = normalise_email(email)
    with transaction.atomic(), acting_as(system_user(), "Status page: subscribe"):
        subscriber, _ = StatusSubscriber.objects.get_or_create(email=email)
        subscriber = StatusSubscriber.objects.select_for_update().get(pk=subscriber.pk)
        if subscriber.is_receiving:
            return subscriber
        if subscriber.unsubscribed_at or subscriber.confirmed_at:
            subscriber.unsubscribed_at = subscriber.confirmed_at = None
            subscriber.save()
        email_enqueue(
            key=f"status-confirm:{subscriber.pk}:{timezone.now():%Y-%m-%d}",
            template="status_confirm",
            context={
                "confirm_url": subscriber_link(subscriber, "confirm", CONFIRM_SALT),
                "valid_days": settings.STATUS_CONFIRM_MAX_AGE.days,
                "title": settings.STATUS_PAGE_TITLE,
            },
            recipients=[subscriber.email],
        )
    return subscriber


def subscriber_from_token(token: str, salt: str, max_age=None) -> StatusSubscriber | None:
    try:
        pk = signing.loads(token, salt=salt, max_age=max_age)
    except signing.BadSignature:  # SignatureExpired is a BadSignature
        return None
    if not isinstance(pk, int):
        return None
    return StatusSubscriber.objects.filter(pk=pk).first()


def subscriber_confirm(*, subscriber: StatusSubscriber) -> StatusSubscriber:
    with transaction.atomic(), acting_as(system_user(), "Status page: subscription confirmed"):
        subscriber = StatusSubscriber.objects.select_for_update().get(pk=subscriber.pk)
        if subscriber.confirmed_at is None or subscriber.unsubscribed_at is not None:
            subscriber.confirmed_at = timezone.now()
            subscriber.unsubscribed_at = None
            subscriber.save()
    return subscriber


def subscriber_unsubscribe(*, subscriber: StatusSubscriber) -> StatusSubscriber:
    with transaction.atomic(), acting_as(system_user(), "Status page: unsubscribed"):
        subscriber = StatusSubscriber.objects.select_for_update().get(pk=subscriber.pk)
        if subscriber.unsubscribed_at is None:
            subscriber.unsubscribed_at = timezone.now()
            subscriber.save()
    return subscriber


def broadcast_start(sender, *, update: StatusUpdate, **kwargs) -> None:
    """Receiver of `incidents.events.status_update_posted`, inside the posting
    transaction: a customer update gets a broadcast, delivered after commit."""
    if update.audience != StatusUpdate.Audience.CUSTOMERS:
        return
    broadcast = Broadcast.objects.create(status_update=update)
    transaction.on_commit(lambda: publish(DELIVER_TASK, broadcast.pk))


def broadcast_deliver(*, broadcast_id: int, batch_size: int | None = None) -> int:
    """Queue the update's email to every confirmed subscriber, a batch per
    transaction. Returns how many emails this run queued.

    Only the update's own text goes out: it was written for customers. One
    message per subscriber, so nobody sees the other addresses and each carries
    its own unsubscribe link.
    """
    batch_size = batch_size or settings.STATUS_BROADCAST_BATCH
    queued = 0
    while True:
        with transaction.atomic(), acting_as(system_user(), "Status page: update sent to subscribers"):
            broadcast = (
                Broadcast.objects.select_for_update(skip_locked=True)
                .select_related("status_update__incident")
                .filter(pk=broadcast_id, completed_at__isnull=True)
                .first()
            )
            if broadcast is None:
                logger.info("Broadcast %s is complete or being sent elsewhere", broadcast_id)
                return queued
            update = broadcast.status_update
            context = {
                "heading": public_heading(update.incident),
                "status": public_status(update.incident),
                "body": update.body,
                "posted_at": update.posted_at,
                "status_url": settings.SITE_URL + reverse("statuspage:index"),
            }
            subscribers = list(
                StatusSubscriber.objects.receiving()
                .filter(pk__gt=broadcast.last_subscriber_id)
                .order_by("pk")
                .only("pk", "email")[:batch_size]
            )
            for subscriber in subscribers:
                result = email_enqueue(
                    key=f"status-update:{update.pk}:{subscriber.pk}",
                    template="status_update",
                    context={
                        **context,
                        "unsubscribe_url": subscriber_link(subscriber, "unsubscribe", UNSUBSCRIBE_SALT),
                    },
                    recipients=[subscriber.email],
                )
                created = bool(result and result[1])
                queued += created
                broadcast.queued += created
            if subscribers:
                broadcast.last_subscriber_id = subscribers[-1].pk
            if len(subscribers) < batch_size:
                broadcast.completed_at = timezone.now()
            broadcast.save()
            if broadcast.completed_at:
                return queued


def broadcast_sweep() -> int:
    """Finish every broadcast still open (its task lost or never published). Returns emails queued."""
    pending = Broadcast.objects.pending().order_by("pk").values_list("pk", flat=True)[:100]
    return sum(broadcast_deliver(broadcast_id=pk) for pk in list(pending))
