"""/account/: a person sees and changes their own time zone."""

import pytest
from django.urls import reverse

from people.middleware import SESSION_KEY
from people.models import Profile

pytestmark = pytest.mark.django_db

URL = "/account/"


def test_the_page_needs_a_login(client):
    response = client.get(URL)

    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_someone_without_a_profile_sees_the_portals_zone_chosen(client, viewer):
    client.force_login(viewer)  # viewers too: it is their own setting, not the incidents'

    response = client.get(URL)

    assert response.status_code == 200
    assert response.context["form"]["time_zone"].value() == "UTC"
    assert '<option value="UTC" selected>' in response.content.decode()
    assert not Profile.objects.exists()


def test_choosing_a_zone_saves_it_and_the_next_page_is_in_it(client, responder):
    client.force_login(responder)

    response = client.post(URL, {"time_zone": "Europe/Berlin"})

    assert response.status_code == 302 and response["Location"] == reverse("people:account")
    profile = Profile.objects.get(user=responder)
    assert profile.time_zone == "Europe/Berlin"
    assert profile.history.get().history_user == responder
    assert client.session[SESSION_KEY] == "Europe/Berlin"
    page = client.get(URL).content.decode()
    assert "Times are now shown in Europe/Berlin." in page
    assert '<option value="Europe/Berlin" selected>' in page
    assert "Account (Europe/Berlin)" in page
    assert " CET" in page or " CEST" in page  # "It is now … CET"


def test_an_unknown_zone_is_refused_with_the_reason(client, responder):
    client.force_login(responder)

    response = client.post(URL, {"time_zone": "Mars/Olympus_Mons"})

    assert response.status_code == 400
    assert "Select a valid choice." in response.content.decode()
    assert not Profile.objects.exists()
    assert client.session[SESSION_KEY] == "UTC"  # as cached at sign-in


def test_the_top_bar_links_to_the_account_page_next_to_the_name(client, responder):
    client.force_login(responder)

    body = client.get("/").content.decode()

    signout = body[body.index('class="signout"') : body.index("Sign out")]
    assert "Rita Responder" in signout and f'href="{URL}"' in signout
