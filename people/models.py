"""A person's own settings for the portal, kept apart from the account itself."""

import zoneinfo
from functools import cache

from django.conf import settings
from django.db import models

from audit.models import TimeStamped, history
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
