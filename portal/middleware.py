"""Request-level security: the Permissions-Policy header, session idle and absolute timeouts, and the
hooks django-axes calls around sign-ins (the client's address, the lockout rule, the sign-in itself)."""

import ipaddress
import time

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.db.models import Sum

from portal.display import duration_text

SIGNED_IN_AT = "portal_signed_in_at"
LAST_ACTIVITY = "portal_last_activity"
# Last activity is rewritten at most this often, so an active user does not cost a session write per request.
ACTIVITY_RESOLUTION_SECONDS = 60


class PermissionsPolicyMiddleware:
    """Sends `Permissions-Policy` from settings.PERMISSIONS_POLICY ({"camera": []} -> `camera=()`)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        header = ", ".join(
            f"{feature}=({' '.join(allowlist)})" for feature, allowlist in settings.PERMISSIONS_POLICY.items()
        )
        if header:
            response.headers.setdefault("Permissions-Policy", header)
        return response


class SessionIdleTimeoutMiddleware:
    """Signs a user out after SESSION_IDLE_TIMEOUT without a request, or SESSION_COOKIE_AGE after signing in.

    Django's own session expiry restarts whenever the session is saved, so on its own it is neither an
    idle timeout nor an absolute lifetime; both are kept in the session and checked here.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            now = time.time()
            session = request.session
            # Sign-in records both (SignInThrottleHandler.user_logged_in); a session from before this
            # middleware starts counting now.
            signed_in_at = session.setdefault(SIGNED_IN_AT, now)
            last_activity = session.setdefault(LAST_ACTIVITY, now)
            idle_timeout = settings.SESSION_IDLE_TIMEOUT
            if now - last_activity > idle_timeout.total_seconds():
                return self._sign_out(
                    request, f"You were signed out after {duration_text(idle_timeout)} without activity."
                )
            if now - signed_in_at > settings.SESSION_COOKIE_AGE:
                return self._sign_out(request, "Your session has reached its maximum length.")
            if now - last_activity >= ACTIVITY_RESOLUTION_SECONDS:
                session[LAST_ACTIVITY] = now

        return self.get_response(request)

    @staticmethod
    def _sign_out(request, message):
        logout(request)
        messages.info(request, f"{message} Sign in again to continue.")
        return redirect_to_login(request.get_full_path())


def client_ip(request) -> str | None:
    """The client's address for sign-in throttling (settings.AXES_CLIENT_IP_CALLABLE).

    Behind TRUSTED_PROXY_COUNT reverse proxies it is the address the outermost one saw: the entry that
    many places from the right of X-Forwarded-For. Entries left of it are whatever the client sent and
    are never trusted; a header too short or malformed falls back to the socket's address.
    """
    remote_addr = request.META.get("REMOTE_ADDR")
    count = settings.TRUSTED_PROXY_COUNT
    if not count:
        return remote_addr
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    if len(hops) < count:
        return remote_addr
    try:
        return str(ipaddress.ip_address(hops[-count]))
    except ValueError:
        return remote_addr


class SignInThrottleHandler(AxesDatabaseHandler):
    """django-axes' database handler with two limits instead of one.

    An (address, username) pair is locked after AXES_FAILURE_LIMIT failures; an address, whatever the
    usernames tried, after AXES_IP_FAILURE_LIMIT. Axes compares one count against one limit, so an
    address over its own limit is reported as being at the per-account limit.

    It also starts the session clocks that SessionIdleTimeoutMiddleware checks, on every sign-in.
    """

    def get_failures(self, request, credentials=None) -> int:
        recent = AccessAttempt.objects.filter(
            ip_address=request.axes_ip_address, attempt_time__gte=get_cool_off_threshold(request)
        )
        per_address = recent.aggregate(total=Sum("failures_since_start"))["total"] or 0
        per_account = (
            recent.filter(username=get_client_username(request, credentials)).aggregate(
                total=Sum("failures_since_start")
            )["total"]
            or 0
        )
        if per_address >= settings.AXES_IP_FAILURE_LIMIT:
            return max(per_account, get_failure_limit(request, credentials))
        return per_account

    def user_logged_in(self, sender, request, user, **kwargs):
        """Axes hears of every sign-in (the login pages, the admin's, a test's force_login): the session
        clocks start here, so the first request after signing in does not have to write the session."""
        super().user_logged_in(sender, request, user, **kwargs)
        session = getattr(request, "session", None)
        if session is not None:
            session[SIGNED_IN_AT] = session[LAST_ACTIVITY] = time.time()


def sign_in_username(request, credentials=None) -> str | None:
    """The username django-axes records for a sign-in: as typed, cut to its column's
    255 characters. Django's login forms do not enforce the username's length, so a
    300-character username reached axes' INSERT and answered 500 (found by the form fuzz)."""
    source = credentials if credentials else getattr(request, "data", request.POST)
    username = source.get("username")
    return username[:255] if isinstance(username, str) else username
