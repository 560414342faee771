"""Single sign-on against a real (local, fake) OpenID Connect provider over HTTP: the full redirect flow,
accounts and groups made to match the provider's claims with history, and every refusal leaving
accounts untouched."""

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import NoReverseMatch, reverse

from audit.actors import system_user
from people.models import SsoIdentity
from people.services import SSO_REASON

from .fake_idp import FakeIdP, other_key

pytestmark = pytest.mark.django_db

User = get_user_model()
ROOT = Path(__file__).resolve().parents[2]
GROUP_MAP = {
    "idp-oncall": ["Responders"],
    "idp-readonly": ["Viewers"],
    "idp-admins": ["Admins", "Responders"],
}
SAM = {
    "sub": "00u-sam-4711",
    "preferred_username": "sam",
    "email": "sam@example.com",
    "given_name": "Sam",
    "family_name": "Oncall",
}


@pytest.fixture
def idp(settings, runbook):
    """Single sign-on on, pointed at a fake provider running on 127.0.0.1."""
    provider = FakeIdP().start()
    for name, value in provider.settings().items():
        setattr(settings, name, value)
    settings.OIDC_ENABLED = True
    settings.OIDC_PROVIDER_NAME = "Example ID"
    settings.OIDC_GROUP_MAP = GROUP_MAP
    settings.AUTHENTICATION_BACKENDS = [*settings.AUTHENTICATION_BACKENDS, "people.backends.SSOBackend"]
    settings.ROOT_URLCONF = "people.tests.sso_urls"
    yield provider
    provider.stop()


def start(client, next_url=None):
    """The browser's trip to the provider and back: the callback address the provider sends it to."""
    response = client.get("/oidc/authenticate/", {"next": next_url} if next_url else {})
    assert response.status_code == 302
    assert response["Location"].startswith(f"{client.idp.url}/authorize?")
    at_provider = requests.get(response["Location"], allow_redirects=False, timeout=10)
    assert at_provider.status_code == 302, at_provider.text
    back = urlsplit(at_provider.headers["Location"])
    assert (back.scheme, back.netloc, back.path) == ("http", "testserver", "/oidc/callback/")
    return f"{back.path}?{back.query}"


def sign_in_with_sso(client, idp, next_url=None):
    client.idp = idp
    return client.get(start(client, next_url))


def groups_of(user) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


def user_history_count() -> int:
    return User.history.count()


def test_sign_in_creates_the_account_maps_groups_and_records_it_as_the_system(client, idp):
    idp.claims = {**SAM, "groups": ["idp-oncall", "some-other-team"]}

    response = sign_in_with_sso(client, idp, next_url="/incidents/")

    assert response.status_code == 302 and response["Location"] == "/incidents/"
    sam = User.objects.get(username="sam")
    assert (sam.email, sam.first_name, sam.last_name) == ("sam@example.com", "Sam", "Oncall")
    assert groups_of(sam) == {"Responders"}
    assert not sam.has_usable_password() and not sam.is_staff
    assert SsoIdentity.objects.get(user=sam).subject == "00u-sam-4711"
    assert SsoIdentity.objects.get(user=sam).issuer == idp.url
    # Who and why: the account's creation and its group change, both by the system, "SSO login".
    rows = list(sam.history.order_by("history_id"))
    assert rows[0].history_type == "+"
    by_sso = [r for r in rows if r.history_change_reason == SSO_REASON]
    assert len(by_sso) >= 2 and {r.history_user for r in by_sso} == {system_user()}
    assert {g.group.name for g in by_sso[-1].groups.all()} == {"Responders"}
    assert SsoIdentity.history.get().history_user == system_user()
    # The provider checked the client secret and the PKCE verifier before it answered (else no user).
    assert idp.token_requests[0]["code_verifier"]
    # Signed in, as Sam.
    page = client.get("/")
    assert page.status_code == 200 and page.context["user"] == sam


def test_each_sign_in_brings_the_mapped_groups_in_line_and_leaves_others_alone(client, idp):
    custom = Group.objects.create(name="Release managers")
    idp.claims = {**SAM, "groups": ["idp-oncall", "idp-readonly"]}
    sign_in_with_sso(client, idp)
    sam = User.objects.get(username="sam")
    sam.groups.add(custom)  # given in the portal, not by the provider
    assert groups_of(sam) == {"Responders", "Viewers", "Release managers"}

    client.logout()
    idp.claims = {**SAM, "groups": ["idp-admins"]}
    sign_in_with_sso(client, idp)

    sam.refresh_from_db()
    assert groups_of(sam) == {"Admins", "Responders", "Release managers"}
    assert sam.is_staff  # Admins use the admin site
    by_sso = sam.history.filter(history_change_reason=SSO_REASON).order_by("-history_id")
    assert {row.history_user for row in by_sso} == {system_user()}
    assert by_sso[0].is_staff
    assert {g.group.name for g in by_sso[0].groups.all()} == {"Admins", "Responders", "Release managers"}
    # The sign-in itself (last_login) is recorded as Sam's own.
    assert sam.history.order_by("-history_id")[0].history_user == sam

    client.logout()
    idp.claims = {**SAM, "groups": ["idp-oncall"], "email": "sam.oncall@example.com"}
    sign_in_with_sso(client, idp)

    sam.refresh_from_db()
    assert groups_of(sam) == {"Responders", "Release managers"}
    assert not sam.is_staff and sam.email == "sam.oncall@example.com"
    assert SsoIdentity.objects.filter(user=sam).count() == 1


def test_the_account_is_found_by_subject_not_by_name(client, idp):
    idp.claims = {**SAM, "groups": ["idp-oncall"]}
    sign_in_with_sso(client, idp)
    client.logout()

    idp.claims = {**SAM, "preferred_username": "samuel", "groups": ["idp-oncall"]}
    sign_in_with_sso(client, idp)

    assert client.get("/").context["user"].username == "sam"
    assert not User.objects.filter(username="samuel").exists()


def test_a_local_account_of_the_same_name_is_linked(client, idp, responder):
    idp.claims = {**SAM, "preferred_username": "rita", "groups": ["idp-readonly"]}

    response = sign_in_with_sso(client, idp)

    assert response.status_code == 302
    responder.refresh_from_db()
    assert groups_of(responder) == {"Viewers"}
    assert SsoIdentity.objects.get().user == responder
    assert responder.has_usable_password()  # the password keeps working too


def test_a_superusers_account_is_never_taken_over(client, idp, superuser):
    idp.claims = {**SAM, "preferred_username": "root", "groups": ["idp-admins"]}
    before = user_history_count()

    response = sign_in_with_sso(client, idp)

    assert response.status_code == 403
    assert "local account kept for emergencies" in response.content.decode()
    assert not SsoIdentity.objects.exists() and user_history_count() == before
    assert "_auth_user_id" not in client.session


def test_someone_in_no_mapped_group_is_refused_and_nothing_changes(client, idp, settings):
    settings.OIDC_DENIED_MESSAGE = "Ask the on-call lead to add you to idp-oncall."
    idp.claims = {**SAM, "groups": ["some-other-team"]}
    before = user_history_count()

    response = sign_in_with_sso(client, idp)

    assert response.status_code == 403
    assert response.context["sso_error"] == "Ask the on-call lead to add you to idp-oncall."
    assert "Ask the on-call lead to add you to idp-oncall." in response.content.decode()
    assert not User.objects.filter(username="sam").exists()
    assert user_history_count() == before and not SsoIdentity.objects.exists()
    assert "_auth_user_id" not in client.session


def test_an_existing_user_who_lost_every_mapped_group_keeps_their_groups_and_is_refused(client, idp):
    idp.claims = {**SAM, "groups": ["idp-oncall"]}
    sign_in_with_sso(client, idp)
    client.logout()
    before = user_history_count()

    idp.claims = {**SAM, "groups": []}
    response = sign_in_with_sso(client, idp)

    assert response.status_code == 403
    assert groups_of(User.objects.get(username="sam")) == {"Responders"}
    assert user_history_count() == before


def test_a_deactivated_account_is_refused(client, idp):
    idp.claims = {**SAM, "groups": ["idp-oncall"]}
    sign_in_with_sso(client, idp)
    client.logout()
    User.objects.filter(username="sam").update(is_active=False)  # deactivated by an admin
    before = user_history_count()

    idp.claims = {**SAM, "groups": ["idp-admins"]}
    response = sign_in_with_sso(client, idp)

    assert response.status_code == 403 and "deactivated" in response.content.decode()
    assert groups_of(User.objects.get(username="sam")) == {"Responders"} and user_history_count() == before


def test_a_wrong_state_is_refused(client, idp):
    idp.claims = {**SAM, "groups": ["idp-oncall"]}
    client.idp = idp
    callback = start(client)
    query = parse_qs(urlsplit(callback).query)

    response = client.get("/oidc/callback/", {"code": query["code"][0], "state": "forged-state"})

    assert response.status_code == 400
    assert "expired or was already used" in response.context["sso_error"]
    assert not User.objects.filter(username="sam").exists()
    assert idp.token_requests == []  # the code was never even exchanged


def test_a_callback_cannot_be_replayed(client, idp):
    idp.claims = {**SAM, "groups": ["idp-oncall"]}
    client.idp = idp
    callback = start(client)
    assert client.get(callback).status_code == 302
    client.logout()

    response = client.get(callback)

    assert response.status_code == 400
    assert "_auth_user_id" not in client.session


def test_a_token_signed_with_an_unpublished_key_is_refused(client, idp):
    idp.claims = {**SAM, "groups": ["idp-oncall"]}
    idp.signing_key = other_key()

    response = sign_in_with_sso(client, idp)

    assert response.status_code == 400
    assert "could not be verified" in response.context["sso_error"]
    assert not User.objects.filter(username="sam").exists() and not SsoIdentity.objects.exists()


@pytest.mark.parametrize("change", ["audience", "issuer"])
def test_a_token_for_another_client_or_from_another_issuer_is_refused(client, idp, change):
    idp.claims = {**SAM, "groups": ["idp-oncall"]}
    setattr(idp, change, "someone-else")

    response = sign_in_with_sso(client, idp)

    assert response.status_code == 400
    assert not User.objects.filter(username="sam").exists()


def test_userinfo_about_someone_else_is_refused(client, idp):
    idp.claims = {**SAM, "groups": ["idp-oncall"]}
    idp.userinfo = {"sub": "00u-mallory", "groups": ["idp-admins"]}

    response = sign_in_with_sso(client, idp)

    assert response.status_code == 403
    assert "could not be verified" in response.context["sso_error"]
    assert not User.objects.filter(username="sam").exists()


def test_groups_sent_only_in_userinfo_are_used(client, idp):
    idp.claims = dict(SAM)
    idp.userinfo = {"groups": ["idp-readonly"]}

    sign_in_with_sso(client, idp)

    assert groups_of(User.objects.get(username="sam")) == {"Viewers"}


def test_an_unreachable_provider_is_a_clear_error(client, idp):
    idp.claims = {**SAM, "groups": ["idp-oncall"]}
    client.idp = idp
    callback = start(client)
    idp.stop()

    response = client.get(callback)

    assert response.status_code == 502
    assert "Example ID could not be reached" in response.context["sso_error"]
    assert not User.objects.filter(username="sam").exists()


def test_the_provider_refusing_is_shown(client, idp):
    client.idp = idp
    response = client.get("/oidc/authenticate/")
    state = parse_qs(urlsplit(response["Location"]).query)["state"][0]

    response = client.get("/oidc/callback/", {"error": "access_denied", "state": state})

    assert response.status_code == 403
    assert "Example ID did not sign you in (access_denied)" in response.context["sso_error"]


def test_the_sign_in_page_offers_both_ways(client, idp, responder):
    page = client.get("/accounts/login/?next=/incidents/")

    assert page.status_code == 200
    assert 'href="/oidc/authenticate/?next=/incidents/"' in page.content.decode()
    assert "Sign in with Example ID" in page.content.decode()
    # Break-glass: the password form still signs in a local account.
    response = client.post("/accounts/login/", {"username": "rita", "password": "correct-horse-battery"})
    assert response.status_code == 302 and client.get("/").context["user"] == responder


def test_an_admin_signed_in_by_sso_still_verifies_a_second_factor(client, idp):
    idp.claims = {**SAM, "groups": ["idp-admins"]}
    sign_in_with_sso(client, idp)

    response = client.get("/admin/")

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("people:otp_enrol"))


def test_off_by_default_no_addresses_no_button(client, db, settings):
    assert not settings.OIDC_ENABLED
    assert "people.backends.SSOBackend" not in settings.AUTHENTICATION_BACKENDS
    with pytest.raises(NoReverseMatch):
        reverse("oidc_authentication_init")
    page = client.get("/accounts/login/").content.decode()
    assert "Sign in with" not in page and "/oidc/" not in page
    assert client.get("/oidc/callback/?code=x&state=y").status_code == 404


# Start-up from the environment (a process of its own: settings are read once).

PROVIDER = {
    "OIDC_RP_CLIENT_ID": "portal",
    "OIDC_RP_CLIENT_SECRET": "secret",
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "https://id.example.com/authorize",
    "OIDC_OP_TOKEN_ENDPOINT": "https://id.example.com/token",
    "OIDC_OP_JWKS_ENDPOINT": "https://id.example.com/jwks",
    "OIDC_GROUP_MAP": "idp-oncall=Responders, idp-admins=Admins, idp-admins=Responders",
}


def _start_up(**env):
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='portal.settings'; django.setup();"
        "from django.conf import settings as s; from django.urls import reverse;"
        "print(s.OIDC_ENABLED, s.AUTHENTICATION_BACKENDS[-1], s.OIDC_GROUP_MAP,"
        " reverse('oidc_authentication_callback'))"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OIDC_") and k != "DEBUG"}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=60
    )


def test_configured_from_the_environment_it_is_on():
    result = _start_up(**PROVIDER)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[0] == (
        "True people.backends.SSOBackend "
        "{'idp-oncall': ['Responders'], 'idp-admins': ['Admins', 'Responders']} /oidc/callback/"
    )


@pytest.mark.parametrize(
    "change, message",
    [
        ({"OIDC_OP_TOKEN_ENDPOINT": ""}, "OIDC_OP_TOKEN_ENDPOINT must be set"),
        ({"OIDC_GROUP_MAP": ""}, "OIDC_GROUP_MAP must map at least one"),
        ({"OIDC_GROUP_MAP": "idp-oncall=Oncallers"}, "is not provider-group=portal-group"),
        ({"DEBUG": "false", "OIDC_OP_TOKEN_ENDPOINT": "http://id.example.com/token"}, "must be an https://"),
    ],
)
def test_an_incomplete_configuration_stops_start_up(change, message):
    env = {**PROVIDER, **change}
    if env.get("DEBUG") == "false":
        env.update(
            SECRET_KEY="k" * 60,
            ALLOWED_HOSTS="portal.example.com",
            DATABASE_URL="postgres://portal:secret@db.example.com:5432/portal",
            CELERY_BROKER_URL="redis://redis.example.com:6379/0",
            EMAIL_URL="smtp+tls://portal:secret@mail.example.com:587",
        )

    result = _start_up(**env)

    assert result.returncode != 0
    assert message in result.stderr
