"""The profile's defaults and choices."""

import pytest

from people.models import Profile, time_zone_choices

pytestmark = pytest.mark.django_db


def test_a_new_profile_starts_in_the_portals_zone(responder, settings):
    settings.TIME_ZONE = "Europe/London"

    assert Profile(user=responder).time_zone == "Europe/London"


def test_the_choices_are_the_iana_zones_and_not_the_servers_own():
    names = [value for value, _ in time_zone_choices()]

    assert {"UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires"} <= set(names)
    assert "localtime" not in names and names == sorted(names)
    assert dict(time_zone_choices())["America/Argentina/Buenos_Aires"] == "America/Argentina/Buenos Aires"
