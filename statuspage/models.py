"""The public status page's subscribers, and the sending of customer updates to them."""

from django.db import models
from django.db.models import Q

from audit.models import TimeStamped, history
from incidents.models import StatusUpdate


class StatusSubscriberQuerySet(models.QuerySet):
    def receiving(self):
        """Subscribers who confirmed their address and have not unsubscribed."""
        return self.filter(confirmed_at__isnull=False, unsubscribed_at__isnull=True)


class StatusSubscriber(TimeStamped):
    """A member of the public who asked for the status page's updates by email.

    Double opt-in: nothing is sent to the address until its owner follows the
    signed confirmation link. Unsubscribing keeps the row (and so the audit
    trail) and stops every email.
    """

    email = models.EmailField(unique=True, help_text="Stored lower-cased.")
    confirmed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    objects = StatusSubscriberQuerySet.as_manager()
    history = history()

    class Meta:
        ordering = ["email"]

    def __str__(self):
        return self.email

    @property
    def is_receiving(self) -> bool:
        return self.confirmed_at is not None and self.unsubscribed_at is None


class BroadcastQuerySet(models.QuerySet):
    def pending(self):
        """Broadcasts not yet sent to every subscriber (partial index broadcast_pending)."""
        return self.filter(completed_at__isnull=True)


class Broadcast(TimeStamped):
    """The sending of one customer-facing status update to the subscribers.

    Created in the transaction that posts the update; a task works through the
    confirmed subscribers in primary-key order, a batch per transaction,
    recording how far it got, so an interrupted broadcast resumes where it
    stopped and the periodic sweep finishes one whose task was lost.
    """

    status_update = models.OneToOneField(StatusUpdate, on_delete=models.CASCADE, related_name="broadcast")
    last_subscriber_id = models.BigIntegerField(default=0, help_text="Subscribers up to this id have been queued.")
    queued = models.PositiveIntegerField(default=0, help_text="Emails queued so far.")
    completed_at = models.DateTimeField(null=True, blank=True)

    objects = BroadcastQuerySet.as_manager()
    history = history()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["id"], condition=Q(completed_at__isnull=True), name="broadcast_pending")]

    def __str__(self):
        return f"Broadcast of update {self.status_update_id}"
