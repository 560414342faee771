"""Profiles in the admin, written through the service."""

import pytest
from django.contrib.admin.models import LogEntry

from people.models import Profile
from people.services import profile_update

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "correct-horse-battery")
    client.force_login(admin)
    client.admin = admin
    return client


def test_an_admin_corrects_someones_zone_and_history_names_them(superuser_client, responder):
    profile = profile_update(user=responder, actor=responder, time_zone="Europe/Berlin")

    response = superuser_client.post(
        f"/admin/people/profile/{profile.pk}/change/", {"user": responder.pk, "time_zone": "Asia/Tokyo"}
    )

    assert response.status_code == 302
    profile.refresh_from_db()
    assert profile.time_zone == "Asia/Tokyo"
    latest = profile.history.first()
    assert latest.history_user == superuser_client.admin and latest.history_change_reason == "Time zone changed"


def test_an_admin_adds_a_profile_through_the_service(superuser_client, responder):
    response = superuser_client.post("/admin/people/profile/add/", {"user": responder.pk, "time_zone": "Asia/Tokyo"})

    assert response.status_code == 302 and response["Location"] == "/admin/people/profile/"
    profile = Profile.objects.get(user=responder)
    assert profile.history.get().history_change_reason == "Time zone changed"
    assert LogEntry.objects.get().object_id == str(profile.pk)


def test_profiles_are_not_deleted_or_reverted_in_the_admin(superuser_client, responder):
    profile = profile_update(user=responder, actor=responder, time_zone="Europe/Berlin")
    first = profile.history.get()
    profile_update(user=responder, actor=responder, time_zone="Asia/Tokyo")

    delete = superuser_client.post(f"/admin/people/profile/{profile.pk}/delete/", {"post": "yes"})
    revert = superuser_client.post(
        f"/admin/people/profile/{profile.pk}/history/{first.history_id}/", {"user": responder.pk, "time_zone": "UTC"}
    )

    assert delete.status_code == 403 and revert.status_code == 403
    assert Profile.objects.get(user=responder).time_zone == "Asia/Tokyo"
