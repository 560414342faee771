"""Reading a person's preferences and the state of their second factor."""

from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from .models import Profile

# incidents.seeding.GROUP_ADMINS (people sits below incidents and cannot import it).
GROUP_ADMINS = "Admins"


def time_zone_name(user) -> str:
    """The zone `user` chose, else settings.TIME_ZONE (someone who never saved a profile). One query."""
    name = Profile.objects.filter(user=user).values_list("time_zone", flat=True).first()
    return name or settings.TIME_ZONE


def zone_or_default(name: str | None) -> ZoneInfo:
    """The zone called `name`; settings.TIME_ZONE for a name this machine does not know (never a 500)."""
    try:
        return ZoneInfo(name or settings.TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(settings.TIME_ZONE)


# Second factor -----------------------------------------------------------------------------------------

VERIFY = "verify"
ENROL = "enrol"


def second_factor_due(user) -> str | None:
    """What a signed-in, not yet verified `user` must do before using the portal: VERIFY (they have an
    authenticator app or recovery codes), ENROL (they need one and have none), or None.

    Needed by staff, superusers and Admins while settings.OTP_REQUIRED_FOR_STAFF is on; asked of anyone
    who has set one up. One query (the device tables and the Admins membership at once).
    """
    User = get_user_model()
    has = (
        User._base_manager.filter(pk=user.pk)
        .annotate(
            totp=Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)),
            codes=Exists(StaticToken.objects.filter(device__user=OuterRef("pk"), device__confirmed=True)),
            admin=Exists(User.groups.through.objects.filter(user=OuterRef("pk"), group__name=GROUP_ADMINS)),
        )
        .values("totp", "codes", "admin")
        .first()
    )
    if has is None:
        return None
    if has["totp"] or has["codes"]:
        return VERIFY
    if settings.OTP_REQUIRED_FOR_STAFF and (user.is_staff or user.is_superuser or has["admin"]):
        return ENROL
    return None


def second_factor_required(user) -> bool:
    """Whether `user` may not do without a second factor (settings.OTP_REQUIRED_FOR_STAFF)."""
    return settings.OTP_REQUIRED_FOR_STAFF and (
        user.is_staff or user.is_superuser or user.groups.filter(name=GROUP_ADMINS).exists()
    )


@dataclass
class SecondFactorStatus:
    app: object  # the confirmed TOTPDevice, or None
    recovery_codes_left: int
    required: bool


def second_factor_status(user) -> SecondFactorStatus:
    """What the two-factor page shows about `user`."""
    return SecondFactorStatus(
        app=TOTPDevice.objects.filter(user=user, confirmed=True).first(),
        recovery_codes_left=StaticToken.objects.filter(device__user=user, device__confirmed=True).count(),
        required=second_factor_required(user),
    )
