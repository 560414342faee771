"""The audit chain's daily checkpoint."""

from celery import shared_task

from . import chain


@shared_task(acks_late=True, reject_on_worker_lost=True)
def record_checkpoint() -> int | None:
    """Record and log the chain's head (beat: daily). Safe to run twice at once. Returns its place."""
    checkpoint = chain.record_checkpoint()
    return checkpoint.seq if checkpoint else None
