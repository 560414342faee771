"""The second factor: staff set up an authenticator app and verify a code (or a recovery code, once)
before the admin or any other page; others are not forced."""

import os
import re
import subprocess
import sys
from base64 import b32decode
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from people import services

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse-battery"
ENROL = "/account/two-factor/set-up/"
VERIFY = "/account/two-factor/verify/"


def sign_in(client, username):
    """Through the sign-in form, as a person does (force_login would pass the second factor too)."""
    response = client.post("/accounts/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.content
    return response


def code_for(key_hex: str, *, steps_ahead: int = 0) -> str:
    totp = TOTP(bytes.fromhex(key_hex))
    totp.time = totp.time + 30 * steps_ahead
    return f"{totp.token():06d}"


def enrolled(user):
    """`user` with an authenticator app and recovery codes; returns (app key, codes)."""
    key = TOTPDevice(user=user).key
    device, codes = services.second_factor_enrol(user=user, key=key, code=code_for(key))
    return device.key, codes


def test_staff_without_an_app_are_sent_to_set_one_up_before_the_admin(client, staff):
    sign_in(client, staff.username)

    for page in ("/admin/", "/", "/incidents/"):
        response = client.get(page)
        assert response.status_code == 302, page
        assert response["Location"] == f"{ENROL}?next={page.replace('/', '%2F')}"


def test_setting_up_with_the_shown_secret_reaches_the_admin(client, portal_admin):
    sign_in(client, "ada")
    page = client.get(f"{ENROL}?next=/admin/")
    assert page.status_code == 200 and page["Cache-Control"].startswith("max-age=0")
    html = page.content.decode()
    assert "<svg" in html and 'class="segno"' in html  # the QR code, inline
    secret = re.search(r'data-testid="otp-secret">([A-Z2-7 ]+)<', html).group(1)
    key_hex = b32decode(secret.replace(" ", "")).hex()
    assert client.get("/admin/").status_code == 302  # not before confirming

    response = client.post(ENROL, {"code": code_for(key_hex), "next": "/admin/"})

    assert response.status_code == 200
    codes = response.context["codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(code in response.content.decode() for code in codes)
    assert "no-store" in response["Cache-Control"]
    assert client.get("/admin/").status_code == 200
    device = TOTPDevice.objects.get(user=portal_admin)
    assert device.confirmed and device.key == key_hex
    # History names who and why, and never holds the secrets.
    created = device.history.get()
    assert (created.history_user, created.history_change_reason) == (portal_admin, "Second factor set up")
    assert not hasattr(created, "key")
    assert StaticToken.history.filter(history_type="+", history_user=portal_admin).count() == 10
    assert not hasattr(StaticToken.history.first(), "token")


def test_a_wrong_code_does_not_set_up_the_app(client, portal_admin):
    sign_in(client, "ada")
    client.get(ENROL)

    response = client.post(ENROL, {"code": "000000"})

    assert response.status_code == 400
    assert "not the code your app shows now" in response.content.decode()
    assert not TOTPDevice.objects.exists()
    assert client.get("/admin/").status_code == 302
    assert client.post(ENROL, {"code": "12ab"}).status_code == 400  # not six digits: told so, no 500


def test_after_the_next_sign_in_the_admin_waits_for_a_code(client, portal_admin):
    key, _ = enrolled(portal_admin)
    sign_in(client, "ada")

    response = client.get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith(VERIFY)

    wrong = client.post(VERIFY, {"code": "123456", "next": "/admin/"})
    assert wrong.status_code == 400
    assert "That code is not right" in wrong.content.decode()
    assert client.get("/admin/").status_code == 302

    with time_machine.travel(timezone.now() + timedelta(seconds=5)):  # past the 1 s wait the wrong code earned
        right = client.post(VERIFY, {"code": code_for(key, steps_ahead=1), "next": "/admin/"})
        assert right.status_code == 302 and right["Location"] == "/admin/"
        assert client.get("/admin/").status_code == 200


def test_wrong_codes_are_throttled(client, portal_admin):
    key, _ = enrolled(portal_admin)
    sign_in(client, "ada")
    with time_machine.travel(timezone.now(), tick=False):
        assert client.post(VERIFY, {"code": "123456"}).status_code == 400

        throttled = client.post(VERIFY, {"code": code_for(key, steps_ahead=1)})  # right, but too soon

        assert throttled.status_code == 429
        assert "Too many wrong codes: wait 1 s" in throttled.content.decode()
        assert client.get("/admin/").status_code == 302


def test_a_recovery_code_works_once(client, portal_admin):
    _, codes = enrolled(portal_admin)
    sign_in(client, "ada")

    response = client.post(VERIFY, {"code": codes[0].upper(), "next": "/admin/"})

    assert response.status_code == 302 and client.get("/admin/").status_code == 200
    used = StaticToken.history.get(history_type="-")
    assert (used.history_user, used.history_change_reason) == (portal_admin, "Recovery code used")
    assert StaticToken.objects.count() == 9

    client.post("/accounts/logout/")
    sign_in(client, "ada")
    again = client.post(VERIFY, {"code": codes[0]})
    assert again.status_code == 400 and client.get("/admin/").status_code == 302
    with time_machine.travel(timezone.now() + timedelta(seconds=5)):
        assert client.post(VERIFY, {"code": codes[1]}).status_code == 302
        assert client.get("/admin/").status_code == 200


def test_new_recovery_codes_replace_the_old_ones(client, portal_admin):
    _, old = enrolled(portal_admin)
    client.force_login(portal_admin)  # verified

    response = client.post("/account/two-factor/recovery-codes/")

    assert response.status_code == 200
    new = response.context["codes"]
    assert set(StaticToken.objects.values_list("token", flat=True)) == set(new)
    assert not set(old) & set(new)


def test_someone_with_an_app_proves_it_before_replacing_it(client, portal_admin):
    enrolled(portal_admin)
    sign_in(client, "ada")

    response = client.get(ENROL)

    assert response.status_code == 302 and response["Location"].startswith(VERIFY)
    assert client.post("/account/two-factor/recovery-codes/").status_code == 302
    assert StaticToken.objects.count() == 10


def test_responders_are_not_forced(client, responder):
    sign_in(client, "rita")

    assert client.get("/").status_code == 200
    assert client.get("/account/two-factor/").status_code == 200


def test_a_responder_may_set_one_up_and_is_then_asked_for_it(client, responder):
    key, _ = enrolled(responder)
    sign_in(client, "rita")

    assert client.get("/").status_code == 302
    assert client.post(VERIFY, {"code": code_for(key, steps_ahead=1)}).status_code == 302
    assert client.get("/").status_code == 200

    response = client.post("/account/two-factor/turn-off/")

    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=responder).exists()
    assert not StaticToken.objects.filter(device__user=responder).exists()
    assert client.get("/").status_code == 200


def test_staff_cannot_turn_it_off(client, portal_admin):
    enrolled(portal_admin)
    client.force_login(portal_admin)

    response = client.post("/account/two-factor/turn-off/")

    assert response.status_code == 403
    assert TOTPDevice.objects.filter(user=portal_admin).exists()


def test_an_admins_member_without_staff_status_needs_one_too(client, responder):
    responder.groups.add(Group.objects.get(name="Admins"))
    sign_in(client, "rita")

    assert client.get("/").status_code == 302


def test_with_the_requirement_off_staff_go_straight_in(client, portal_admin, settings):
    settings.OTP_REQUIRED_FOR_STAFF = False
    sign_in(client, "ada")

    assert client.get("/admin/").status_code == 200


def test_the_pages_a_person_needs_meanwhile_stay_open(client, portal_admin):
    sign_in(client, "ada")

    assert client.get("/account/two-factor/").status_code == 200
    assert client.get("/status/").status_code == 200
    assert client.post("/accounts/logout/").status_code == 302


def test_verification_sends_only_to_the_portals_own_pages(client, portal_admin):
    key, _ = enrolled(portal_admin)
    sign_in(client, "ada")

    response = client.post(VERIFY, {"code": code_for(key, steps_ahead=1), "next": "https://evil.example.com/"})

    assert response.status_code == 302 and response["Location"] == "/"


def test_the_forms_need_a_csrf_token(portal_admin):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    sign_in_page = client.get("/accounts/login/")
    assert sign_in_page.status_code == 200
    client.post(
        "/accounts/login/",
        {"username": "ada", "password": PASSWORD, "csrfmiddlewaretoken": sign_in_page.context["csrf_token"]},
    )

    assert client.post(ENROL, {"code": "123456"}).status_code == 403


@pytest.mark.parametrize(
    "env, required",
    [
        ({}, "False"),  # development: the login `make run` prints works without an app
        ({"OTP_REQUIRED_FOR_STAFF": "true"}, "True"),
        (
            {
                "DEBUG": "false",
                "SECRET_KEY": "k" * 60,
                "ALLOWED_HOSTS": "portal.example.com",
                "DATABASE_URL": "postgres://portal:secret@db.example.com:5432/portal",
                "CELERY_BROKER_URL": "redis://redis.example.com:6379/0",
                "EMAIL_URL": "smtp+tls://portal:secret@mail.example.com:587",
            },
            "True",
        ),
    ],
    ids=["development", "development, asked for", "production"],
)
def test_required_by_default_in_production_only(env, required):
    code = "import django; django.setup(); from django.conf import settings; print(settings.OTP_REQUIRED_FOR_STAFF)"
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "OTP_REQUIRED_FOR_STAFF"}}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "portal.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == required


def test_a_user_is_never_asked_about_someone_elses_device(client, portal_admin, responder):
    enrolled(responder)
    sign_in(client, "ada")

    assert client.get("/").status_code == 302
    assert client.get("/")["Location"].startswith(ENROL)  # ada has none of her own
