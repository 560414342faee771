"""The outbox: every message the portal sends, kept until delivered."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from audit.models import TimeStamped, history


class OutboxMessage(TimeStamped):
    """A message to send (email, Slack or a page by phone), kept until delivered.

    Writing the row is the decision to send; a task delivers it and a periodic
    sweep retries what failed or was never published. `key` is unique, so the
    same notice (a reminder per milestone and kind, say) can only be queued once.
    """

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        SLACK = "slack", "Slack"
        PAGE = "page", "Page (phone)"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Being sent"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    key = models.CharField(max_length=200, unique=True)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    recipients = models.JSONField(
        default=list, blank=True, help_text="Email addresses, or phone numbers for a page; empty for Slack."
    )
    subject = models.CharField(max_length=255, blank=True)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    sending_since = models.DateTimeField(
        null=True, blank=True, help_text="When the current attempt claimed it; set while it is being sent."
    )
    context = models.JSONField(
        default=dict,
        blank=True,
        help_text="What the message is about (the incident, the person paged), passed to `message_settled` "
        "receivers once it is sent or has failed for good.",
    )

    # Erasure removes an address from history's recipients too, so the audit chain's hashes leave them out.
    history = history(unchained_fields=["recipients"])

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="outbox_pending_due"),
            models.Index(fields=["sending_since"], condition=Q(status="sending"), name="outbox_sending_since"),
            # For the health banner and /metrics: failed messages, the earliest first, without reading sent ones.
            models.Index(fields=["updated_at"], condition=Q(status="failed"), name="outbox_failed_since"),
        ]

    def __str__(self):
        return f"{self.get_channel_display()}: {self.subject or self.key}"
