"""Erasing an address from the outbox, when its owner asks to be forgotten.

The outbox keeps every message with its recipients, and a history row for each
change of a message, recipients included. When someone unsubscribes from the
status page their address must go from all of it: from messages still to be
sent (which then have nobody to go to, so they fail and are never sent), from
those already sent, and from their history rows. The caller names the messages
by key prefix, so an address is only ever erased from the notices it asked to
stop (a status-page subscriber may also be on staff and keep those emails).
"""

import json
import operator
from collections import defaultdict
from functools import reduce

from django.db import connection, transaction
from django.db.models import Q

from .models import OutboxMessage

M = OutboxMessage
ERASED = "Recipient unsubscribed; address erased"


def _erase(queryset, address: str, *, fail_unsent: bool) -> int:
    """Remove `address` from the recipients of the rows of `queryset`; returns how many rows changed."""
    if connection.features.supports_json_field_contains:  # PostgreSQL: only the rows that hold it are read
        queryset = queryset.filter(recipients__contains=[address])
    outcomes = defaultdict(list)  # (remaining recipients, failed now) -> primary keys
    for pk, recipients, status in queryset.values_list("pk", "recipients", "status"):
        if address not in recipients:
            continue
        remaining = [recipient for recipient in recipients if recipient != address]
        fail = fail_unsent and not remaining and status != M.Status.SENT
        outcomes[json.dumps(remaining), fail].append(pk)
    for (remaining, fail), pks in outcomes.items():
        changes = {"recipients": json.loads(remaining)}
        if fail:
            changes.update(status=M.Status.FAILED, last_error=ERASED, sending_since=None)
        queryset.model._default_manager.filter(pk__in=pks).update(**changes)
    return sum(len(pks) for pks in outcomes.values())


def outbox_forget(*, key_prefixes, address: str) -> int:
    """Erase `address` from every message whose key starts with one of `key_prefixes`, and from their history.

    A message left with no recipient that was not sent yet (pending, failed, or
    being sent right now) is failed with the reason, so no retry or sweep sends
    it; one already sent keeps its status. Returns how many messages changed.

    Written with `update()`, deliberately without history: erasure is the point,
    and a history row of this change would hold the address being erased.
    """
    prefixes = tuple(key_prefixes)
    if not prefixes or not all(prefixes):
        raise ValueError("outbox_forget needs key prefixes: it never erases an address from the whole outbox.")
    scope = reduce(operator.or_, (Q(key__startswith=prefix) for prefix in prefixes))
    with transaction.atomic():
        # Locked, so a delivery cannot claim a message between its reading here and its failing below
        # (delivery claims with skip_locked; a worker already sending one finds it failed and leaves it).
        changed = _erase(M.objects.select_for_update().filter(scope), address, fail_unsent=True)
        _erase(M.history.filter(scope), address, fail_unsent=False)
    return changed
