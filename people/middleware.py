"""Each signed-in person's pages in their own time zone: Django's forms read typed date-times in
the active zone and templates show times in it (`django.utils.timezone`).

The zone's name is kept in the session (at sign-in and when the person changes it), so a request
costs no query for it; a session from before this existed costs one query until it is next saved.
"""

from django.utils import timezone

from . import selectors

SESSION_KEY = "people_time_zone"


def remember_time_zone(request, name: str) -> None:
    request.session[SESSION_KEY] = name


def remember_time_zone_on_sign_in(sender, request, user, **kwargs):
    """`user_logged_in` receiver: cache the zone for the session that starts."""
    if request is not None and hasattr(request, "session"):
        remember_time_zone(request, selectors.time_zone_name(user))


class UserTimeZoneMiddleware:
    """Activates the signed-in user's zone for the request (after AuthenticationMiddleware)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.user.is_authenticated:
            return self.get_response(request)
        user_pk = request.user.pk
        name = request.session.get(SESSION_KEY)
        looked_up = name is None
        if looked_up:
            name = selectors.time_zone_name(request.user)
        # override, not activate: the zone ends with the request instead of staying on the thread.
        with timezone.override(selectors.zone_or_default(name)):
            response = self.get_response(request)
        # Keep a looked-up zone only if the session is saved anyway: caching it must not cost a write.
        # Not across a sign-out or a switch of user during the request (sign-in caches its own).
        if looked_up and request.session.modified and getattr(request.user, "pk", None) == user_pk:
            request.session.setdefault(SESSION_KEY, name)
        return response
