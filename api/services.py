"""Every write to a personal token: created and revoked with an actor and a reason in
history, one transaction each. The token's text exists only in `token_create`'s
return value; the database keeps its SHA-256 digest."""

import hashlib
import secrets
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.actors import acting_as

from .models import MAX_LIFETIME, TOKEN_LEADER, PersonalToken

# Active tokens one person may hold at once: enough for every tool, few enough to review.
MAX_ACTIVE_TOKENS = 20
# How stale `last_used_at` may get: one write a minute per token at most, not one per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)
PREFIX_BYTES = 6  # 12 hex characters
SECRET_BYTES = 32  # 256 bits: a digest without salt or stretching is enough for a random secret


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_create(*, user, actor, name: str, scope: str, expires_at: datetime) -> tuple[PersonalToken, str]:
    """A new token for `user`. Returns the row and the token's text, which is never stored."""
    name = name.strip()
    now = timezone.now()
    if not name:
        raise ValidationError({"name": "Give the token a name."})
    if scope not in PersonalToken.Scope.values:
        raise ValidationError({"scope": f"Unknown scope “{scope}”."})
    if expires_at <= now:
        raise ValidationError({"expires_at": "A token must expire in the future."})
    if expires_at > now + MAX_LIFETIME + timedelta(minutes=5):  # slack for a form filled in slowly
        raise ValidationError({"expires_at": f"A token lives at most {MAX_LIFETIME.days} days."})
    with transaction.atomic(), acting_as(actor, "API token created"):
        active = PersonalToken.objects.select_for_update().filter(user=user).usable(now).values_list("pk", flat=True)
        if len(active) >= MAX_ACTIVE_TOKENS:
            raise ValidationError(f"You already have {MAX_ACTIVE_TOKENS} active tokens: revoke one first.")
        for _ in range(5):
            prefix = secrets.token_hex(PREFIX_BYTES)
            token = f"{TOKEN_LEADER}{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}"
            try:
                with transaction.atomic():
                    row = PersonalToken.objects.create(
                        user=user,
                        name=name,
                        prefix=prefix,
                        digest=token_digest(token),
                        scope=scope,
                        expires_at=expires_at,
                    )
            except IntegrityError:
                continue  # the prefix was taken (one chance in 2**48 per token held): draw again
            return row, token
    raise RuntimeError("Could not draw an unused token prefix.")


def token_revoke(*, token: PersonalToken, actor) -> PersonalToken:
    """Revoke a token: it stops authenticating at once. Refuses one already revoked."""
    with transaction.atomic(), acting_as(actor, "API token revoked"):
        token = PersonalToken.objects.select_for_update().get(pk=token.pk)
        if token.revoked_at is not None:
            raise ValidationError("This token is already revoked.")
        token.revoked_at = timezone.now()
        token.revoked_by = actor
        token.save()
    return token


def token_mark_used(*, token: PersonalToken, now: datetime) -> None:
    """Record that `token` was used, at most once a minute.

    A conditional UPDATE that skips history on purpose: `last_used_at` is left out of the
    token's history (a row a minute per busy token would bury its creation and revocation),
    and two requests in the same minute race harmlessly to write nearly the same time.
    """
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return
    PersonalToken.objects.filter(pk=token.pk).exclude(last_used_at__gt=now - LAST_USED_RESOLUTION).update(
        last_used_at=now
    )
    token.last_used_at = now
