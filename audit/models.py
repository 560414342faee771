"""What every model of the portal is built on: timestamps and an audit trail
whose rows name who made each change and why (see `audit.actors`)."""

from django.db import models
from simple_history.models import HistoricalRecords

from .actors import get_history_user


def history(**kwargs):
    """Every model's audit trail, attributed through `audit.actors`. The change
    reason is text of any length: it carries what the person typed (a severity
    change's reason, a resolution's verification note), not just a label."""
    return HistoricalRecords(
        get_user=get_history_user, history_change_reason_field=models.TextField(null=True), **kwargs
    )


class TimeStamped(models.Model):
    """When a row was created and last changed."""

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
