"""What every model of the portal is built on: timestamps and an audit trail
whose rows name who made each change and why (see `audit.actors`)."""

from django.db import models
from simple_history.models import HistoricalRecords

from .actors import get_history_user


def history(**kwargs):
    """Every model's audit trail, attributed through `audit.actors`."""
    return HistoricalRecords(get_user=get_history_user, **kwargs)


class TimeStamped(models.Model):
    """When a row was created and last changed."""

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
