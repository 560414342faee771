"""Each signed-in person's pages in their own time zone: Django's forms read typed date-times in
the active zone and templates show times in it (`django.utils.timezone`).

The zone's name is kept in the session (at sign-in and when the person changes it), so a request
costs no query for it; a session from before this existed costs one query until it is next saved.

And the second factor: staff verify one before any page (SecondFactorMiddleware).
"""

from urllib.parse import urlencode

from django.conf import settings
from django.shortcuts import redirect
from django.urls import reverse
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


# Pages an unverified person still reaches: the second-factor pages themselves, signing in and out, and
# what is not the signed-in portal (the public status page, the token-authenticated API, static files,
# single sign-on's callback).
SECOND_FACTOR_EXEMPT = (
    "/account/two-factor/",
    "/accounts/login/",
    "/accounts/logout/",
    "/oidc/",
    "/status/",
    "/api/",
)


class SecondFactorMiddleware:
    """Sends someone signed in but not yet verified by a second factor to verify one (or to set one up,
    when they must have one: see selectors.second_factor_due) before any other page, /admin/ included.

    After django_otp's OTPMiddleware. Costs one query per request for people who have not verified
    (responders, mostly), none for those who have and none for anonymous requests.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if user.is_authenticated and not user.is_verified() and not self._exempt(request.path_info):
            due = selectors.second_factor_due(user)
            if due is not None:
                url = reverse("people:otp_verify" if due == selectors.VERIFY else "people:otp_enrol")
                return redirect(f"{url}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)

    @staticmethod
    def _exempt(path: str) -> bool:
        return path.startswith((*SECOND_FACTOR_EXEMPT, "/" + settings.STATIC_URL.lstrip("/")))
