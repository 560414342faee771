"""The public status page's subscribers, and the sending of customer updates to them."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from audit.models import TimeStamped, history
from incidents.models import StatusUpdate


class StatusSubscriberQuerySet(models.QuerySet):
    def receiving(self):
        """Subscribers who confirmed their address and have not unsubscribed.

        Never an erased one: the `address_or_hash` constraint holds that only the unsubscribed are erased.
        """
        return self.filter(confirmed_at__isnull=False, unsubscribed_at__isnull=True)


class StatusSubscriber(TimeStamped):
    """A member of the public who asked for the status page's updates by email.

    Double opt-in: nothing is sent to the address until its owner follows the
    signed confirmation link. Unsubscribing stops every email and erases the
    address, here, from this row's history and from the outbox; the row keeps
    only `email_hash`, a keyed hash of it, so the audit trail stays whole and
    the same address subscribing again is recognised and gets this row back.
    """

    email = models.EmailField(
        null=True, blank=True, help_text="Stored lower-cased; erased (empty) once the subscriber unsubscribes."
    )
    email_hash = models.CharField(
        max_length=64,
        null=True,
        blank=True,
        editable=False,
        help_text="HMAC-SHA256 of the erased address, keyed from SECRET_KEY; set only once the address is erased.",
    )
    subscribed_at = models.DateTimeField(
        default=timezone.now, help_text="When the current subscription was asked for (the confirmation link follows)."
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    objects = StatusSubscriberQuerySet.as_manager()
    # Unsubscribing erases the address from history too, so the audit chain's hashes leave it out.
    history = history(unchained_fields=["email"])

    class Meta:
        ordering = ["email", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["email"],
                condition=Q(email__isnull=False),
                name="%(app_label)s_%(class)s_unique_email",
                violation_error_message="This address is already subscribed.",
            ),
            models.UniqueConstraint(
                fields=["email_hash"],
                name="%(app_label)s_%(class)s_unique_email_hash",
                violation_error_message="An erased subscriber with this address already exists.",
            ),
            # Addresses that unsubscribed before erasure existed keep theirs until their
            # unsubscribe link is used again (or an admin erases them); new ones never do.
            models.CheckConstraint(
                condition=Q(email__isnull=False, email_hash__isnull=True)
                | Q(email__isnull=True, email_hash__isnull=False, unsubscribed_at__isnull=False),
                name="%(app_label)s_%(class)s_address_or_hash",
                violation_error_message="A subscriber keeps its address, or once unsubscribed only its hash.",
            ),
        ]

    def __str__(self):
        return self.email or f"Erased subscriber #{self.pk}"

    @property
    def is_receiving(self) -> bool:
        return self.confirmed_at is not None and self.unsubscribed_at is None

    @property
    def is_erased(self) -> bool:
        return self.email is None


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
