"""A person's own settings for the portal, kept apart from the account itself; the single sign-on
identities accounts are linked to; and the audit trail of accounts and their second factors."""

import zoneinfo
from functools import cache

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from simple_history import register
from simple_history.models import HistoricalRecords

from audit.actors import get_history_user
from audit.models import ChainedHistory, TimeStamped, history
from portal.display import person_name

# Not zones anyone lives in: "localtime" is whatever the server is set to, "Factory" a placeholder.
NOT_ZONES = {"localtime", "Factory", "posixrules"}


@cache
def time_zone_names() -> frozenset[str]:
    """The IANA zones this machine knows (read from disk once per process)."""
    return frozenset(zoneinfo.available_timezones() - NOT_ZONES)


def time_zone_choices() -> list[tuple[str, str]]:
    # A callable, so that migrations refer to it instead of copying today's tz database.
    return [(name, name.replace("_", " ")) for name in sorted(time_zone_names())]


def default_time_zone() -> str:
    return settings.TIME_ZONE


class Profile(TimeStamped):
    """A person's preferences: the time zone the portal shows times in and reads typed times in.

    Created on first save; someone without one gets settings.TIME_ZONE."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    time_zone = models.CharField(
        max_length=64,
        choices=time_zone_choices,
        default=default_time_zone,
        help_text="Times on the portal's pages are shown in this zone, and times typed into its forms are read in it.",
    )

    history = history()

    def __str__(self):
        return f"Profile of {person_name(self.user)}"


class SsoIdentity(TimeStamped):
    """The single sign-on account (an identity provider's subject) a portal user signs in as.

    Accounts are found by this link, not by name, so someone renamed at the provider keeps their
    account and a new provider account that happens to share a name never takes over an old one."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sso_identities")
    issuer = models.CharField(max_length=255, help_text="The identity provider's issuer (the ID token's iss).")
    subject = models.CharField(max_length=255, help_text="The person's fixed identifier there (the ID token's sub).")

    history = history()

    class Meta:
        verbose_name = "single sign-on identity"
        verbose_name_plural = "single sign-on identities"
        constraints = [
            models.UniqueConstraint(
                fields=["issuer", "subject"],
                name="%(app_label)s_%(class)s_one_account_per_subject",
                violation_error_message="This identity provider account already signs in to another user.",
            )
        ]

    def __str__(self):
        return f"{self.subject} at {self.issuer}"


class UserHistoricalRecords(HistoricalRecords):
    """Users' history, group memberships included from either side of the relation.

    simple-history records a membership change made from the user's side (`user.groups.add`); one made
    from the group's side (`group.user_set.add`) would reach it with the group as the instance, so each
    user added or removed is recorded instead. A `group.user_set.clear()` names no users and is not
    recorded (nothing in the portal clears a group)."""

    def m2m_changed(self, instance, action, attr, pk_set, reverse, **kwargs):
        if not reverse:
            return super().m2m_changed(instance, action, attr, pk_set, reverse, **kwargs)
        if action in ("post_add", "post_remove") and pk_set:
            for user in get_user_model()._base_manager.filter(pk__in=pk_set):
                super().m2m_changed(user, action, attr, pk_set, False, **kwargs)


def _history_of(model, **kwargs):
    # Kept in this app (people_historical*), attributed and explained like every other history.
    register(
        model,
        app="people",
        get_user=get_history_user,
        history_change_reason_field=models.TextField(null=True),
        bases=[ChainedHistory],  # in the audit chain, as audit.models.history() puts every history
        m2m_bases=[ChainedHistory],
        **kwargs,
    )


# Accounts and group memberships: who gave whom which rights (the password hash is never copied).
_history_of(
    get_user_model(),
    records_class=UserHistoricalRecords,
    m2m_fields=["groups", "user_permissions"],
    excluded_fields=["password"],
)
# Second-factor devices and recovery codes, created and removed: never their secrets, nor the counters
# every sign-in moves (the verification itself saves without history; see services.second_factor_verify).
_SECOND_FACTOR_BOOKKEEPING = ["throttling_failure_timestamp", "throttling_failure_count", "last_used_at"]
_history_of(TOTPDevice, excluded_fields=["key", "last_t", "drift", *_SECOND_FACTOR_BOOKKEEPING])
_history_of(StaticDevice, excluded_fields=_SECOND_FACTOR_BOOKKEEPING)
_history_of(StaticToken, excluded_fields=["token"])
