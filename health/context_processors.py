"""The health banner's findings for base.html, on every page a signed-in person sees."""

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from .selectors import banner_problems

CACHE_KEY = "health:banner"


def current_problems() -> list[dict]:
    """banner_problems, kept in Django's cache for HEALTH_BANNER_CACHE_SECONDS: two indexed queries at
    most once per that many seconds (per process with the default local-memory cache), none in between."""
    seconds = settings.HEALTH_BANNER_CACHE_SECONDS
    if seconds <= 0:
        return banner_problems(timezone.now())
    problems = cache.get(CACHE_KEY)
    if problems is None:
        problems = banner_problems(timezone.now())
        cache.set(CACHE_KEY, problems, seconds)
    return problems


def health_banner(request) -> dict:
    """`health_problems`, evaluated only when a template shows it: base.html, for signed-in people.
    Lazy, so a page that does not show the banner (the public status page) costs nothing."""
    return {"health_problems": SimpleLazyObject(current_problems)}
