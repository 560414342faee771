"""Single sign-on with OpenID Connect: mozilla-django-oidc's code flow, with the checks the portal needs.

The library exchanges the code (with PKCE) and checks the ID token's signature and nonce. On top of that
this backend checks the token's audience, issuer and lifetime; that the userinfo answer is about the same
person as the ID token; and maps the provider's groups to the portal's before anything is written. A refusal
leaves every account as it was; its reason is kept on the request for the callback page to show.
"""

import logging

import jwt
from django.conf import settings
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from . import services

logger = logging.getLogger(__name__)

REFUSAL_ATTRIBUTE = "sso_refusal"


def mapped_groups(claims: dict) -> set[str]:
    """The portal groups the provider's groups claim maps to (settings.OIDC_GROUP_MAP)."""
    provider_groups = claims.get(settings.OIDC_GROUPS_CLAIM) or []
    if isinstance(provider_groups, str):
        provider_groups = [provider_groups]
    if not isinstance(provider_groups, list):
        return set()
    return {
        portal_group
        for provider_group in provider_groups
        if isinstance(provider_group, str)
        for portal_group in settings.OIDC_GROUP_MAP.get(provider_group, [])
    }


def managed_groups() -> set[str]:
    """The portal groups single sign-on adds and removes; it leaves every other group alone."""
    return {group for groups in settings.OIDC_GROUP_MAP.values() for group in groups}


class SSOBackend(OIDCAuthenticationBackend):
    """Signs in the person an identity provider vouches for, creating or updating their account."""

    def authenticate(self, request, **kwargs):
        # Only the callback view passes a nonce: a password sign-in whose address happens to carry
        # ?code=&state= must not start a token exchange.
        if request is None or "nonce" not in kwargs:
            return None
        return super().authenticate(request, **kwargs)

    def verify_token(self, token, **kwargs):
        try:
            return super().verify_token(token, **kwargs)
        except jwt.PyJWTError as exc:  # malformed, expired, wrong audience or issuer: the library lets these out
            raise SuspiciousOperation(f"ID token refused: {exc}") from exc

    def _verify_jws(self, payload, key):
        """The library's check plus audience, issuer and expiry (it skips the audience)."""
        algorithm = jwt.get_unverified_header(payload).get("alg")
        if algorithm != self.OIDC_RP_SIGN_ALGO:
            raise SuspiciousOperation(f"ID token signed with {algorithm!r}, not {self.OIDC_RP_SIGN_ALGO!r}.")
        return jwt.decode(
            payload,
            key,
            algorithms=[self.OIDC_RP_SIGN_ALGO],
            audience=self.OIDC_RP_CLIENT_ID,
            issuer=settings.OIDC_OP_ISSUER or None,
            options={"require": ["exp", "iss", "sub", "aud"]},
            leeway=60,  # clocks of two machines
        )

    def get_userinfo(self, access_token, id_token, payload):
        if not self.OIDC_OP_USER_ENDPOINT:
            return {}
        return super().get_userinfo(access_token, id_token, payload)

    def get_or_create_user(self, access_token, id_token, payload):
        userinfo = self.get_userinfo(access_token, id_token, payload)
        # OpenID Connect Core 5.3.2: a userinfo answer about someone else must not be used.
        if not isinstance(userinfo, dict) or userinfo.get("sub", payload["sub"]) != payload["sub"]:
            self._refuse(
                f"The answer from {settings.OIDC_PROVIDER_NAME} could not be verified, so nobody was signed in.",
                log="userinfo is not about the ID token's subject",
            )
        claims = {**payload, **userinfo}
        username = claims.get(settings.OIDC_USERNAME_CLAIM)
        if not isinstance(username, str) or not username.strip():
            self._refuse(f"{settings.OIDC_PROVIDER_NAME} did not send the “{settings.OIDC_USERNAME_CLAIM}” claim.")
        groups = mapped_groups(claims)
        if not groups:
            self._refuse(settings.OIDC_DENIED_MESSAGE)
        try:
            return services.sso_sign_in(
                issuer=str(payload["iss"]),
                subject=str(payload["sub"]),
                username=username.strip(),
                email=_text(claims.get("email")),
                first_name=_text(claims.get("given_name")),
                last_name=_text(claims.get("family_name")),
                groups=groups,
                managed=managed_groups(),
            )
        except services.SSORefused as exc:
            self._refuse(str(exc))

    def _refuse(self, message: str, log: str = ""):
        # Django's authenticate() stops at PermissionDenied and reports a failed sign-in (django-axes counts it).
        logger.warning("Single sign-on refused: %s", log or message)
        setattr(self.request, REFUSAL_ATTRIBUTE, message)
        raise PermissionDenied(message)


def _text(value) -> str:
    return value.strip() if isinstance(value, str) else ""
