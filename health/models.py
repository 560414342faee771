"""The portal's own operational state: when each periodic sweep last finished."""

from django.db import models


class Heartbeat(models.Model):
    """When a periodic sweep (see health.sweeps.SWEEPS) last finished without an error.

    One row per sweep, overwritten in place at the end of every successful run (Celery's
    `task_success`, see health.receivers) with one INSERT ... ON CONFLICT UPDATE.

    No history, unlike the portal's other models, on purpose: this is operational state,
    not a business record. A history row per run would be five rows a minute, about 2.6
    million a year, each saying only "it ran"; nobody decides anything on them, and nobody
    but the worker writes here, so there is no "who and why" to keep. What a sweep did is
    in the history of the rows it changed (reminders, outbox messages). The one fact that
    matters, how long ago each sweep last ran, is this row.
    """

    sweep = models.CharField(max_length=40, unique=True)
    task = models.CharField(max_length=200, help_text="The Celery task that runs the sweep.")
    last_success_at = models.DateTimeField()

    class Meta:
        ordering = ["sweep"]

    def __str__(self):
        return f"{self.sweep}: {self.last_success_at:%Y-%m-%d %H:%M:%S}"
