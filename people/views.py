"""A person's own settings page, signing in (password or single sign-on) and the second factor."""

import logging
import secrets
from base64 import b32encode
from binascii import unhexlify
from urllib.parse import urlencode

import requests
import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.exceptions import SuspiciousOperation, ValidationError
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView

from . import selectors, services
from .backends import REFUSAL_ATTRIBUTE
from .forms import EnrolForm, ProfileForm, VerifyForm
from .middleware import remember_time_zone

logger = logging.getLogger(__name__)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def account(request):
    """Anyone signed in sees and changes their own time zone (nobody else's: no permission needed)."""
    form = ProfileForm(request.POST or None, initial={"time_zone": timezone.get_current_timezone_name()})
    if request.method == "POST" and form.is_valid():
        try:
            profile = services.profile_update(
                user=request.user, actor=request.user, time_zone=form.cleaned_data["time_zone"]
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            remember_time_zone(request, profile.time_zone)
            messages.success(request, f"Times are now shown in {profile.time_zone}.")
            return redirect("people:account")
    return render(
        request,
        "people/profile_form.html",
        {"form": form, "now": timezone.now()},
        status=400 if form.errors else 200,
    )


# Signing in -------------------------------------------------------------------------------------------


def sso_button() -> dict | None:
    """The single sign-on button's address and provider name, or None when single sign-on is off."""
    if not settings.OIDC_ENABLED:
        return None
    try:
        url = reverse("oidc_authentication_init")
    except NoReverseMatch:  # on, but its URLs not routed: show no button that would 404
        return None
    return {"url": url, "provider": settings.OIDC_PROVIDER_NAME}


class SignInView(LoginView):
    """The password form (local accounts, always there for emergencies) and, when single sign-on is on,
    its "Sign in with …" button."""

    def get_context_data(self, **kwargs):
        return super().get_context_data(sso=sso_button(), **kwargs)


class SSOCallbackView(OIDCAuthenticationCallbackView):
    """Where the identity provider sends the browser back. mozilla-django-oidc does the exchange; every way
    it can fail ends on the sign-in page with a reason and nothing about any account changed."""

    def get(self, request):
        provider = settings.OIDC_PROVIDER_NAME
        if request.GET.get("error"):
            # The library forgets the state (no replay) and signs out whoever was signed in.
            setattr(request, REFUSAL_ATTRIBUTE, f"{provider} did not sign you in ({request.GET['error'][:100]}).")
            return super().get(request)
        state = request.GET.get("state")
        if not request.GET.get("code") or not state or state not in request.session.get("oidc_states", {}):
            return refuse_sign_in(
                request, "This sign-in link has expired or was already used: start again from the sign-in page.", 400
            )
        try:
            return super().get(request)
        except SuspiciousOperation:
            logger.warning("Single sign-on answer refused", exc_info=True)
            return refuse_sign_in(
                request,
                f"The answer from {provider} could not be verified, so nobody was signed in. Start again; "
                "if it happens again, tell an admin.",
                400,
            )
        except requests.RequestException:
            logger.exception("Single sign-on: the identity provider could not be reached")
            return refuse_sign_in(
                request,
                f"{provider} could not be reached. Try again in a minute, or sign in with a password if you have one.",
                502,
            )

    def login_failure(self):
        message = getattr(self.request, REFUSAL_ATTRIBUTE, None) or (
            f"{settings.OIDC_PROVIDER_NAME} did not sign you in."
        )
        return refuse_sign_in(self.request, message, 403)


def refuse_sign_in(request, message: str, status: int):
    """The sign-in page with `message` on it."""
    context = {"form": AuthenticationForm(request), "sso": sso_button(), "sso_error": message, "next": ""}
    return render(request, "registration/login.html", context, status=status)


# Second factor ----------------------------------------------------------------------------------------

PENDING_KEY = "people_otp_pending_key"


def _next_url(request) -> str:
    """Where to go after the second factor: the page asked for, if it is one of the portal's."""
    url = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return url
    return settings.LOGIN_REDIRECT_URL


def _to(name: str, next_url: str):
    return redirect(f"{reverse(name)}?{urlencode({'next': next_url})}")


@login_required
@require_http_methods(["GET", "HEAD"])
def two_factor(request):
    """The person's second factor: whether it is set up, recovery codes left, and what they can do."""
    status = selectors.second_factor_status(request.user)
    return render(request, "people/two_factor.html", {"status": status, "verified": request.user.is_verified()})


@never_cache
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def otp_enrol(request):
    """Set up an authenticator app: its secret as a QR code and as text, confirmed by a first code; then
    the recovery codes, shown once. Replacing an app already set up needs a verified session."""
    user = request.user
    next_url = _next_url(request)
    if not user.is_verified() and selectors.second_factor_due(user) == selectors.VERIFY:
        # A password alone must not be enough to swap someone's second factor for one's own.
        return _to("people:otp_verify", request.get_full_path())
    key = request.session.get(PENDING_KEY)
    if not key:
        key = request.session[PENDING_KEY] = secrets.token_hex(20)
    form = EnrolForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        enrolled = services.second_factor_enrol(user=user, key=key, code=form.cleaned_data["code"])
        if enrolled is None:
            form.add_error(
                "code",
                "That is not the code your app shows now. Check that the app was set up with the secret above "
                "and that the phone's clock is right, then type the newest code.",
            )
        else:
            device, codes = enrolled
            del request.session[PENDING_KEY]
            request.session.cycle_key()
            otp_login(request, device)
            return render(request, "people/recovery_codes.html", {"codes": codes, "next": next_url, "first": True})
    address = TOTPDevice(user=user, key=key).config_url  # unsaved: only for its otpauth:// address
    secret = b32encode(unhexlify(key)).decode()
    context = {
        "form": form,
        "next": next_url,
        # segno's SVG holds only its own path data; the portal's CSP allows no inline script or style.
        "qr_svg": mark_safe(segno.make(address, error="m").svg_inline(scale=5, dark="#000", light="#fff")),  # noqa: S308
        "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        "required": selectors.second_factor_required(user),
    }
    return render(request, "people/otp_enrol.html", context, status=400 if form.errors else 200)


@never_cache
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def otp_verify(request):
    """Verify a code from the authenticator app, or a recovery code (used up), for this session."""
    user = request.user
    next_url = _next_url(request)
    if user.is_verified():
        return redirect(next_url)
    due = selectors.second_factor_due(user)
    if due == selectors.ENROL:
        return _to("people:otp_enrol", next_url)
    if due is None:
        return redirect(next_url)
    form = VerifyForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        verification = services.second_factor_verify(user=user, code=form.cleaned_data["code"])
        if verification.device is not None:
            request.session.cycle_key()
            otp_login(request, verification.device)
            return redirect(next_url)
        if verification.locked_until is not None:
            wait = max(1, round((verification.locked_until - timezone.now()).total_seconds()))
            form.add_error("code", f"Too many wrong codes: wait {wait} s, then try again.")
            status = 429
        else:
            form.add_error(
                "code",
                "That code is not right, or was already used. Type the code your app shows now, or a recovery code.",
            )
    if form.errors and status == 200:
        status = 400
    return render(request, "people/otp_verify.html", {"form": form, "next": next_url}, status=status)


@never_cache
@login_required
@require_POST
def recovery_codes(request):
    """New recovery codes, shown once; the earlier ones stop working."""
    if not request.user.is_verified():
        return _to("people:otp_verify", reverse("people:two_factor"))
    codes = services.recovery_codes_replace(user=request.user)
    return render(request, "people/recovery_codes.html", {"codes": codes, "next": reverse("people:two_factor")})


@login_required
@require_POST
def otp_off(request):
    """Turn the second factor off: only for someone who may do without one, from a verified session."""
    user = request.user
    if not user.is_verified():
        return _to("people:otp_verify", reverse("people:two_factor"))
    status = selectors.second_factor_status(user)
    if status.required:
        context = {
            "status": status,
            "verified": True,
            "error": "Staff and Admins cannot turn the second factor off; set up a new app to replace it instead.",
        }
        return render(request, "people/two_factor.html", context, status=403)
    services.second_factor_remove(user=user, actor=user)
    messages.success(request, "Two-factor sign-in is off. Your authenticator app and recovery codes no longer work.")
    return redirect("people:two_factor")
