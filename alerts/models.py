"""Alerts as Prometheus Alertmanager delivered them."""

from django.db import models
from django.utils import timezone

from audit.models import TimeStamped, history
from incidents.models import Incident


class Alert(TimeStamped):
    """One Prometheus alert as Alertmanager delivered it.

    Alertmanager delivers at least once (retries on 5xx, both members of an HA
    pair send), so an alert is identified by its fingerprint and start time: a
    re-delivery finds the existing row and changes nothing. The raw JSON of the
    alert is kept as received, firing and (later) resolved.
    """

    class Status(models.TextChoices):
        FIRING = "firing", "Firing"
        RESOLVED = "resolved", "Resolved"

    incident = models.ForeignKey(Incident, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts")
    group_key = models.TextField(help_text="Alertmanager's groupKey of the notification that brought it.")
    fingerprint = models.CharField(max_length=100)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices)
    labels = models.JSONField(default=dict, blank=True)
    annotations = models.JSONField(default=dict, blank=True)
    generator_url = models.TextField(blank=True)
    payload = models.JSONField(help_text="The alert exactly as first received.")
    resolved_payload = models.JSONField(null=True, blank=True, help_text="The alert as received when resolved.")
    received_at = models.DateTimeField(default=timezone.now)
    resolved_received_at = models.DateTimeField(null=True, blank=True)

    history = history()

    class Meta:
        ordering = ["-starts_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["fingerprint", "starts_at"],
                name="%(app_label)s_%(class)s_unique_occurrence",
                violation_error_message="This alert (fingerprint and start time) has already been received.",
            ),
        ]

    def __str__(self):
        return f"{self.labels.get('alertname', 'alert')} {self.fingerprint} {self.get_status_display().lower()}"
