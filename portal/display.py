"""How the portal shows a person and a length of time: one way each, for pages,
emails and history alike."""

from datetime import timedelta


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
