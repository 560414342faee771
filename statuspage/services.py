"""Status-page subscriptions (double opt-in) and the fan-out of customer updates.

A customer-facing status update starts a `Broadcast` in the transaction that
posts it (`incidents.events.status_update_posted`); a task then queues one email
per confirmed subscriber in batches, each batch its own transaction, so the
responder's request never waits on the subscriber list. The broadcast's cursor
and the outbox's unique key per (update, subscriber) make a re-run, a crash or
two workers at once harmless: nobody gets an update twice, nobody is skipped.
The periodic sweep finishes broadcasts whose task was never published.

Unsubscribing erases the address: from the subscriber's row (which keeps a
keyed hash of it, to recognise the address if it subscribes again), from the
row's history and from the outbox's status-page emails and their history.
"""

import logging

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac

from audit.actors import acting_as, system_user
from incidents.models import StatusUpdate
from notifications.addresses import canonical_email
from notifications.erasure import outbox_forget
from notifications.services import email_enqueue
from portal.celery import publish

from .models import Broadcast, StatusSubscriber
from .selectors import public_heading, public_status

logger = logging.getLogger(__name__)

UNSUBSCRIBE_SALT = "incidents.status.unsubscribe"
CONFIRM_SALT = "incidents.status.confirm"
DELIVER_TASK = "statuspage.tasks.broadcast_deliver"
HASH_SALT = "statuspage.subscriber"
# The outbox keys of every email sent to a subscriber: what unsubscribing erases the address from.
SUBSCRIBER_KEY_PREFIXES = ("status-confirm:", "status-update:")
UNSUBSCRIBED = "Status page: unsubscribed, address erased"


def subscriber_token(subscriber: StatusSubscriber, salt: str) -> str:
    return signing.dumps(subscriber.pk, salt=salt, compress=True)


def subscriber_link(subscriber: StatusSubscriber, name: str, salt: str) -> str:
    return settings.SITE_URL + reverse(f"statuspage:{name}", args=[subscriber_token(subscriber, salt)])


def normalise_email(email: str) -> str:
    """One spelling per mailbox: trimmed, lower-cased, the domain as IDNA maps it.

    `A@X。Example.com` is `a@x.example.com`. The hash of an erased address is taken of this form, so any
    spelling of the address finds its row again.
    """
    return canonical_email(email.strip().lower())


def email_digest(email: str) -> str:
    """The keyed hash kept in place of an erased address: it recognises the address, it cannot give it back."""
    return salted_hmac(HASH_SALT, normalise_email(email), algorithm="sha256").hexdigest()


def subscriber_subscribe(*, email: str) -> StatusSubscriber:
    """Start a subscription: the address receives a confirmation link and nothing else until it is followed.

    Asking again re-sends the link, at most once a day per subscription, so the
    form cannot be used to flood someone's inbox. An address that unsubscribed
    (and so was erased) gets its old row back, with its audit trail, and a new
    subscription: confirmation again, and a new link even on the same day.
    """
    email = normalise_email(email)
    with transaction.atomic(), acting_as(system_user(), "Status page: subscribe"):
        subscriber = StatusSubscriber.objects.select_for_update().filter(email_hash=email_digest(email)).first()
        if subscriber is not None:  # erased when it unsubscribed: unsubscribed_at is set, so it is reset below
            subscriber.email, subscriber.email_hash = email, None
        else:
            subscriber, _ = StatusSubscriber.objects.get_or_create(email=email)
            subscriber = StatusSubscriber.objects.select_for_update().get(pk=subscriber.pk)
        if subscriber.is_receiving:
            return subscriber
        if subscriber.unsubscribed_at or subscriber.confirmed_at:
            subscriber.unsubscribed_at = subscriber.confirmed_at = None
            subscriber.subscribed_at = timezone.now()
            subscriber.save()
        email_enqueue(
            # Once a day per subscription: one who left and came back gets a link at once, a stranger cannot flood.
            key=f"status-confirm:{subscriber.pk}:{subscriber.subscribed_at:%Y%m%dT%H%M%S.%f}:{timezone.now():%Y-%m-%d}",
            template="status_confirm",
            context={
                "confirm_url": subscriber_link(subscriber, "confirm_link", CONFIRM_SALT),
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
    """Start sending updates. A subscriber erased since the link was sent stays erased: their subscription ended."""
    with transaction.atomic(), acting_as(system_user(), "Status page: subscription confirmed"):
        subscriber = StatusSubscriber.objects.select_for_update().get(pk=subscriber.pk)
        if subscriber.is_erased:
            return subscriber
        if subscriber.confirmed_at is None or subscriber.unsubscribed_at is not None:
            subscriber.confirmed_at = timezone.now()
            subscriber.unsubscribed_at = None
            subscriber.save()
    return subscriber


def subscriber_unsubscribe(*, subscriber: StatusSubscriber, actor=None) -> StatusSubscriber:
    """Stop every email and erase the address: from the row (which keeps its keyed hash), from the row's
    history and from the outbox's status-page emails (those not sent yet are failed). Safe to run twice.

    The history row of this change records the unsubscribe without the address, by `actor`: the system
    user when the subscriber used their link, the staff member when done in the admin on request.
    """
    with transaction.atomic(), acting_as(actor or system_user(), UNSUBSCRIBED):
        subscriber = StatusSubscriber.objects.select_for_update().get(pk=subscriber.pk)
        if subscriber.is_erased:
            return subscriber
        address = subscriber.email
        subscriber.email = None
        subscriber.email_hash = email_digest(address)
        subscriber.unsubscribed_at = subscriber.unsubscribed_at or timezone.now()  # one who left before keeps when
        subscriber.save()
        # Erasure is the point: the earlier history rows hold the address, and rewriting them with save()
        # would add history rows of its own. update() writes no history, deliberately, for this one purpose.
        StatusSubscriber.history.filter(id=subscriber.pk).update(email=None)
        outbox_forget(key_prefixes=SUBSCRIBER_KEY_PREFIXES, address=address)
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
            batch = list(
                StatusSubscriber.objects.receiving()
                .filter(pk__gt=broadcast.last_subscriber_id)
                .order_by("pk")
                .values_list("pk", flat=True)[:batch_size]
            )
            # Locked until the batch's emails are queued, so an unsubscribe waits for them and then erases the
            # address from them too, or goes first and is left out here (the lock re-reads the row). Locked
            # apart from the LIMIT above, which could return a short batch, and end the broadcast, if a row
            # changed while it waited.
            subscribers = list(
                StatusSubscriber.objects.receiving()
                .select_for_update()
                .filter(pk__in=batch)
                .order_by("pk")
                .only("pk", "email")
            )
            for subscriber in subscribers:
                result = email_enqueue(
                    key=f"status-update:{update.pk}:{subscriber.pk}",
                    template="status_update",
                    context={
                        **context,
                        "unsubscribe_url": subscriber_link(subscriber, "unsubscribe_link", UNSUBSCRIBE_SALT),
                    },
                    recipients=[subscriber.email],
                )
                created = bool(result and result[1])
                queued += created
                broadcast.queued += created
            if batch:
                broadcast.last_subscriber_id = batch[-1]
            if len(batch) < batch_size:
                broadcast.completed_at = timezone.now()
            broadcast.save()
            if broadcast.completed_at:
                return queued


def broadcast_sweep() -> int:
    """Finish every broadcast still open (its task lost or never published). Returns emails queued."""
    pending = Broadcast.objects.pending().order_by("pk").values_list("pk", flat=True)[:100]
    return sum(broadcast_deliver(broadcast_id=pk) for pk in list(pending))
