"""Reading a person's preferences."""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings

from .models import Profile


def time_zone_name(user) -> str:
    """The zone `user` chose, else settings.TIME_ZONE (someone who never saved a profile). One query."""
    name = Profile.objects.filter(user=user).values_list("time_zone", flat=True).first()
    return name or settings.TIME_ZONE


def zone_or_default(name: str | None) -> ZoneInfo:
    """The zone called `name`; settings.TIME_ZONE for a name this machine does not know (never a 500)."""
    try:
        return ZoneInfo(name or settings.TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(settings.TIME_ZONE)
