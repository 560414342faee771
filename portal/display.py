"""How the portal shows a person, a length of time and a moment: one way each, for
pages, emails and history alike."""

from datetime import datetime, timedelta

from django.utils import formats, timezone


def person_name(user) -> str:
    """A user's full name, else their username; an em dash for nobody."""
    if user is None:
        return "—"
    return user.get_full_name() or user.username


def duration_text(value: timedelta | None) -> str:
    """45 min, 1 h, 2 h 05 min, 2 d, 3 d 4 h; empty for None. Negative lengths show as 0 min."""
    if value is None:
        return ""
    minutes = max(int(value.total_seconds() // 60), 0)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


# The ways a page shows a moment; each ends with the zone's abbreviation (see `when`).
WHEN_FORMATS = {
    "date": "j M Y, H:i",  # 3 Mar 2026, 14:05 CET
    "day": "D j M Y, H:i",  # Tue 3 Mar 2026, 14:05 CET (deadlines)
    "short": "j M H:i",  # 3 Mar 14:05 CET (within an incident)
    "time": "H:i",  # 14:05 CET
    "seconds": "j M Y, H:i:s",  # 3 Mar 2026, 14:05:09 CET (history)
}


def zone_abbreviation(moment: datetime) -> str:
    """CET, CEST, UTC; for a zone without letters (tzdata writes "+04") the offset from UTC: UTC+04."""
    name = moment.tzname() or ""
    return f"UTC{name}" if name.startswith(("+", "-")) else name


def moment_text(value: datetime | None, style: str = "date") -> str:
    """A moment in the active zone (the signed-in person's, activated by people.middleware;
    UTC in emails), always naming that zone. Styles: WHEN_FORMATS."""
    if not isinstance(value, datetime):
        return ""
    if timezone.is_naive(value):  # not from the database (USE_TZ): its zone is unknown, so none is named
        return formats.date_format(value, WHEN_FORMATS[style])
    value = timezone.localtime(value)
    return f"{formats.date_format(value, WHEN_FORMATS[style])} {zone_abbreviation(value)}"
