"""Requests per token per period (API_RATE, e.g. 600/min), counted in Django's default cache.

With the default local-memory cache each server process counts on its own, so the
effective limit is the rate times the number of processes; a shared cache (Redis)
makes it one limit for the whole portal."""

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from .models import PersonalToken

PERIODS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """ "600/min" -> (600, 60). ValueError for anything else: a number of at least 1, a slash and
    s, sec, m, min, h, hour, d or day."""
    number, sep, period = str(rate).strip().partition("/")
    if not sep or not number.strip().isdigit() or int(number) < 1 or period.strip().lower() not in PERIODS:
        raise ValueError(f"{rate!r} is not a rate like 600/min (a count per s, min, hour or day).")
    return int(number), PERIODS[period.strip().lower()]


class TokenRateThrottle(SimpleRateThrottle):
    scope = "token"

    def get_rate(self):
        # Read when used, not at import, so a changed setting (and a test's override) applies.
        return api_settings.DEFAULT_THROTTLE_RATES[self.scope]

    def parse_rate(self, rate):
        return parse_rate(rate)

    def get_cache_key(self, request, view):
        if not isinstance(request.auth, PersonalToken):
            return None  # refused before throttling anyway (401)
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}
