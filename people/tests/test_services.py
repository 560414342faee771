"""Writing a person's time zone."""

import pytest
from django.core.exceptions import ValidationError

from people.models import Profile
from people.services import profile_update

pytestmark = pytest.mark.django_db


def test_the_first_change_creates_the_profile_with_its_history(responder):
    assert not Profile.objects.filter(user=responder).exists()  # users from before profiles have none

    profile = profile_update(user=responder, actor=responder, time_zone="Europe/Berlin")

    assert profile.user == responder and profile.time_zone == "Europe/Berlin"
    row = profile.history.get()
    assert row.history_type == "+" and row.history_user == responder
    assert row.history_change_reason == "Time zone changed"


def test_a_change_updates_the_one_profile_and_names_who_made_it(responder, portal_admin):
    profile_update(user=responder, actor=responder, time_zone="Europe/Berlin")

    profile = profile_update(user=responder, actor=portal_admin, time_zone="America/New_York")

    assert Profile.objects.get(user=responder).time_zone == "America/New_York"
    latest = profile.history.first()
    assert latest.history_type == "~" and latest.history_user == portal_admin


def test_the_same_zone_again_writes_nothing(responder):
    profile_update(user=responder, actor=responder, time_zone="Europe/Berlin")

    profile = profile_update(user=responder, actor=responder, time_zone="Europe/Berlin")

    assert profile.history.count() == 1


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "", "localtime", "europe/berlin"])
def test_an_unknown_zone_is_refused_and_nothing_is_written(responder, name):
    with pytest.raises(ValidationError) as refused:
        profile_update(user=responder, actor=responder, time_zone=name)

    assert "time_zone" in refused.value.message_dict
    assert not Profile.objects.exists()
