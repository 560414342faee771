"""Every write to a person's preferences, their single sign-on account and their second factor."""

from binascii import unhexlify
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.actors import acting_as, system_user

from .models import Profile, SsoIdentity, time_zone_names
from .selectors import GROUP_ADMINS


def profile_update(*, user, actor, time_zone: str) -> Profile:
    """Set `user`'s time zone, creating their profile on first use."""
    if time_zone not in time_zone_names():
        raise ValidationError({"time_zone": f"“{time_zone}” is not a time zone this portal knows."})
    with transaction.atomic(), acting_as(actor, "Time zone changed"):
        profile, created = Profile.objects.select_for_update().get_or_create(
            user=user, defaults={"time_zone": time_zone}
        )
        if not created and profile.time_zone != time_zone:
            profile.time_zone = time_zone
            profile.save()
    return profile


# Single sign-on ------------------------------------------------------------------------------------

# The change reason of every write single sign-on makes; the actor is the system user (see sso_sign_in).
SSO_REASON = "SSO login"


class SSORefused(Exception):
    """A sign-in the portal refuses; its text is shown on the sign-in page."""


def sso_sign_in(
    *,
    issuer: str,
    subject: str,
    username: str,
    email: str,
    first_name: str,
    last_name: str,
    groups: set[str],
    managed: set[str],
):
    """The account of the identity provider's `subject`, created or updated from its claims.

    Found by the (issuer, subject) link; on the first sign-in, a local account of the same name is linked
    (a superuser's never: those stay local for emergencies). Its memberships of the `managed` groups are
    made to match `groups` (other groups are left alone) and, when Admins is managed, staff status follows
    Admins. Every write is recorded under the system user with the reason "SSO login": the portal makes
    these changes on the provider's word, not the person by their own choice. Raises SSORefused, having
    changed nothing, for a deactivated account or one that may not be linked.
    """
    User = get_user_model()
    provider = settings.OIDC_PROVIDER_NAME
    with transaction.atomic(), acting_as(system_user(), SSO_REASON):
        identity = SsoIdentity.objects.filter(issuer=issuer, subject=subject).first()
        if identity is not None:
            user = User.objects.select_for_update().get(pk=identity.user_id)
        else:
            user = User.objects.select_for_update().filter(username=username).first()
            if user is not None and user.is_superuser:
                raise SSORefused(
                    f"“{username}” is a local account kept for emergencies: sign in with its password instead."
                )
            if user is not None and user.sso_identities.exists():
                raise SSORefused(f"“{username}” already signs in with another {provider} account.")
        if user is not None and not user.is_active:
            raise SSORefused("This account has been deactivated in the portal. Ask an admin to reactivate it.")
        wanted = list(Group.objects.filter(name__in=groups))
        if not wanted:
            raise SSORefused("The portal's groups are not set up yet (manage.py seed_runbook). Ask an admin.")

        if user is None:
            user = User(username=username, email=email, first_name=first_name, last_name=last_name)
            try:
                user.full_clean(exclude=["password"])
            except ValidationError:
                raise SSORefused(f"“{username}” cannot be a portal username; ask an admin.") from None
            user.set_unusable_password()
            user.save()
        if identity is None:
            SsoIdentity.objects.create(user=user, issuer=issuer, subject=subject)

        changed = []
        for field, value in (("email", email), ("first_name", first_name), ("last_name", last_name)):
            if value and getattr(user, field) != value:
                setattr(user, field, value)
                changed.append(field)
        if GROUP_ADMINS in managed and not user.is_superuser and user.is_staff != (GROUP_ADMINS in groups):
            user.is_staff = GROUP_ADMINS in groups
            changed.append("is_staff")
        if changed:
            user.save(update_fields=changed)

        held = set(user.groups.filter(name__in=managed))
        if leaving := [group for group in held if group.name not in groups]:
            user.groups.remove(*leaving)
        if joining := [group for group in wanted if group not in held]:
            user.groups.add(*joining)
    return user


# Second factor ----------------------------------------------------------------------------------------

RECOVERY_CODE_COUNT = 10


@dataclass
class Verification:
    """What a code was: the device it matched, or why none did."""

    device: object = None
    locked_until: datetime | None = None


def second_factor_enrol(*, user, key: str, code: str):
    """Confirm an authenticator app holding `key` (hex) with a code it shows: returns the new device and
    RECOVERY_CODE_COUNT fresh recovery codes (replacing any earlier app and codes), or None for a wrong
    code. The code confirming the app is spent: it cannot also verify a sign-in."""
    totp = TOTP(unhexlify(key))
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and totp.verify(int(code), tolerance=1)):
        return None
    with transaction.atomic(), acting_as(user, "Second factor set up"):
        for old in TOTPDevice.objects.filter(user=user):
            old.delete()
        device = TOTPDevice.objects.create(
            user=user, name="Authenticator app", key=key, confirmed=True, last_t=totp.t(), drift=totp.drift
        )
        codes = _new_recovery_codes(user)
    return device, codes


def recovery_codes_replace(*, user) -> list[str]:
    """RECOVERY_CODE_COUNT new recovery codes for `user`; the earlier ones stop working."""
    with transaction.atomic(), acting_as(user, "Recovery codes replaced"):
        return _new_recovery_codes(user)


def _new_recovery_codes(user) -> list[str]:
    for old in StaticDevice.objects.filter(user=user):
        old.delete()  # its codes go with it, each recorded
    device = StaticDevice.objects.create(user=user, name="Recovery codes", confirmed=True)
    codes = []
    while len(codes) < RECOVERY_CODE_COUNT:
        code = StaticToken.random_token()  # 8 characters of base32: 40 random bits
        if code not in codes:
            codes.append(code)
            StaticToken.objects.create(device=device, token=code)
    return codes


def second_factor_remove(*, user, actor, reason: str = "Second factor removed") -> None:
    """Remove `user`'s authenticator apps and recovery codes."""
    with transaction.atomic(), acting_as(actor, reason):
        for device in [*TOTPDevice.objects.filter(user=user), *StaticDevice.objects.filter(user=user)]:
            device.delete()


def second_factor_verify(*, user, code: str) -> Verification:
    """Check `code`: six digits against `user`'s authenticator app, anything else against their recovery
    codes (a matching one is used up). django-otp's throttling applies: each wrong code doubles the wait
    before the next try (1 s, 2 s, 4 s ...), and a code sent before the wait is over is not even checked."""
    code = code.strip().replace(" ", "").replace("-", "").lower()
    if code.isdigit() and len(code) == 6:
        devices = TOTPDevice.objects.filter(user=user, confirmed=True)
        reason = "Second factor verified"
    else:
        devices = StaticDevice.objects.filter(user=user, confirmed=True)
        reason = "Recovery code used"
    with transaction.atomic(), acting_as(user, reason):
        for device in devices.select_for_update():
            allowed, details = device.verify_is_allowed()
            if not allowed:
                return Verification(locked_until=(details or {}).get("locked_until"))
            # The device's counters and timestamps move on every try: bookkeeping, not a change to review.
            # A recovery code used up is recorded (its deletion), under `reason`.
            device.skip_history_when_saving = True
            if device.verify_token(code):
                return Verification(device=device)
    return Verification()
