"""Every write to a person's preferences."""

from django.core.exceptions import ValidationError
from django.db import transaction

from audit.actors import acting_as

from .models import Profile, time_zone_names


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
