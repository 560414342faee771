"""`Authorization: Bearer ipt_…`: the API's only way in (no session, no basic auth).

One indexed query finds the token by its prefix; the digest of what was sent is
compared in constant time. An unknown, wrong, expired or revoked token, or one whose
owner was deactivated, answers 401."""

import hmac
import re

from django.utils import timezone
from rest_framework import authentication, exceptions

from . import services
from .models import TOKEN_LEADER, PersonalToken

TOKEN_PATTERN = re.compile(rf"^{TOKEN_LEADER}(?P<prefix>[0-9a-f]{{12}})_[A-Za-z0-9_-]{{43}}$")
REALM = "api"


class PersonalTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None  # no credentials of ours: NotAuthenticated (401) unless the view is open
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Send the token as “Authorization: Bearer <token>”.")
        try:
            sent = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        match = TOKEN_PATTERN.match(sent)
        if match is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        token = PersonalToken.objects.select_related("user").filter(prefix=match["prefix"]).first()
        if token is None or not hmac.compare_digest(token.digest, services.token_digest(sent)):
            raise exceptions.AuthenticationFailed("Invalid token.")
        now = timezone.now()
        if token.is_revoked:
            raise exceptions.AuthenticationFailed("This token has been revoked.")
        if token.is_expired(now):
            raise exceptions.AuthenticationFailed("This token has expired.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("This token's account is deactivated.")
        services.token_mark_used(token=token, now=now)
        return token.user, token

    def authenticate_header(self, request):
        return f'{self.keyword} realm="{REALM}"'
