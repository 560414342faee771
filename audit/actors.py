"""Who did it, and why: the actor and change reason behind every history row.

Web and admin requests are attributed to the signed-in user by simple-history's
middleware. Services, tasks, commands and webhooks wrap their writes in
`acting_as(actor, reason)`, which wins over the request, so every path records
both who and why. Tasks and commands act as the system user.
"""

from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.contrib.auth import get_user_model
from django.dispatch import receiver
from simple_history.signals import pre_create_historical_record

_actor: ContextVar = ContextVar("audit_actor", default=None)
_reason: ContextVar = ContextVar("audit_reason", default=None)
_request_reason: ContextVar = ContextVar("audit_request_reason", default=None)


@contextmanager
def acting_as(actor, reason: str):
    """Attribute every history row written inside the block to `actor`, with `reason`."""
    actor_token = _actor.set(actor)
    reason_token = _reason.set(reason)
    try:
        yield
    finally:
        _actor.reset(actor_token)
        _reason.reset(reason_token)


def get_history_user(instance, request=None, **kwargs):
    """The `get_user` hook of every HistoricalRecords in the portal."""
    actor = _actor.get()
    if actor is not None:
        return actor
    if request is not None and request.user.is_authenticated:
        return request.user
    return None


def system_user():
    """The account that tasks, commands and webhooks write as. Never able to log in."""
    User = get_user_model()
    user, created = User.objects.get_or_create(
        username=settings.PORTAL_SYSTEM_USERNAME,
        defaults={"first_name": "Portal", "last_name": "System", "is_active": False},
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


@receiver(pre_create_historical_record, dispatch_uid="audit.fill_change_reason")
def _fill_change_reason(sender, history_instance, **kwargs):
    # Audit plumbing only: a history row without an explicit reason gets the
    # reason of the enclosing `acting_as` block, or of the web request.
    if not history_instance.history_change_reason:
        history_instance.history_change_reason = _reason.get() or _request_reason.get() or ""


def set_request_reason(reason: str):
    """Used by the middleware: the default reason for writes made directly in a request."""
    return _request_reason.set(reason)


def reset_request_reason(token) -> None:
    _request_reason.reset(token)
