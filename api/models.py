"""Personal API tokens: how a person's scripts and tools reach the JSON API as them."""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from audit.models import TimeStamped, history

# The longest a token may live; a token is always created with an expiry.
MAX_LIFETIME = timedelta(days=365)
# A token's text: "ipt_", the lookup prefix, "_", the secret (see api.services.token_create).
TOKEN_LEADER = "ipt_"  # noqa: S105 (the marker every token starts with, not a secret)


class PersonalTokenQuerySet(models.QuerySet):
    def usable(self, now):
        """Tokens that authenticate at `now`: not revoked, not expired."""
        return self.filter(revoked_at__isnull=True, expires_at__gt=now)


class PersonalToken(TimeStamped):
    """A person's API token. Only a SHA-256 digest of the token is stored; the token
    itself is shown once, when it is created. `prefix` is not secret: it finds the
    row and tells a person's tokens apart on their page and in the admin.

    A token acts as its owner, with the owner's permissions, limited by its scope:
    a read token can only read. It stops working when it expires, is revoked, or its
    owner is deactivated."""

    class Scope(models.TextChoices):
        READ = "read", "Read"
        WRITE = "write", "Read and write"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. “deploy bot”.")
    prefix = models.CharField(max_length=12, unique=True, editable=False)
    digest = models.CharField(max_length=64, editable=False, help_text="SHA-256 of the token, in hex.")
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.READ)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True, help_text="To the minute.")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = PersonalTokenQuerySet.as_manager()
    # The digest is no one's business, and the last use changes too often to be worth a history row.
    history = history(excluded_fields=["digest", "last_used_at"])

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "personal API token"
        indexes = [models.Index(fields=["user", "-created_at", "-id"], name="api_token_user_newest")]
        constraints = [
            models.CheckConstraint(
                condition=Q(scope__in=["read", "write"]),
                name="%(app_label)s_%(class)s_scope_known",
                violation_error_message="A token's scope is read or write.",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("created_at")),
                name="%(app_label)s_%(class)s_expires_after_creation",
                violation_error_message="A token must expire after it is created.",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.display_prefix}…)"

    @property
    def display_prefix(self) -> str:
        return f"{TOKEN_LEADER}{self.prefix}"

    @property
    def can_write(self) -> bool:
        return self.scope == self.Scope.WRITE

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def is_expired(self, now=None) -> bool:
        return self.expires_at <= (now or timezone.now())

    def is_usable(self, now=None) -> bool:
        return not self.is_revoked and not self.is_expired(now)

    def state(self, now=None) -> str:
        if self.is_revoked:
            return "revoked"
        return "expired" if self.is_expired(now) else "active"
