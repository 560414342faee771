"""The security review's hardening: sign-in throttling, the browser policies on every kind of response,
session timeouts, and who may make superusers."""

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.test import Client, RequestFactory

from portal.middleware import SIGNED_IN_AT, client_ip

PASSWORD = "correct-horse-battery"  # conftest's make_user
LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"
T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
LOCKOUT_TEXT = "Too many failed sign-ins from this address; try again in 15 min or ask an admin to clear it."


def sign_in(username, password, ip, path=LOGIN, **extra):
    """One sign-in attempt from `ip`, in a fresh browser."""
    client = Client()
    data = {"username": username, "password": password}
    if path == ADMIN_LOGIN:
        data["next"] = "/admin/"
    response = client.post(path, data, REMOTE_ADDR=ip, **extra)
    response.client = client
    return response


def fail(times, username, ip, path=LOGIN, **extra):
    return [sign_in(username, "wrong-password", ip, path, **extra).status_code for _ in range(times)]


# Sign-in throttling


def test_wrong_passwords_from_one_address_answer_429_with_a_message(responder, settings):
    assert settings.AXES_FAILURE_LIMIT == 10

    codes = fail(10, "rita", "10.0.0.1")

    assert codes == [200] * 9 + [429]
    locked = sign_in("rita", PASSWORD, "10.0.0.1")
    assert locked.status_code == 429
    assert LOCKOUT_TEXT in locked.content.decode()
    assert "_auth_user_id" not in locked.client.session


def test_a_locked_out_username_still_signs_in_from_another_address(responder):
    fail(10, "rita", "10.0.0.1")

    response = sign_in("rita", PASSWORD, "10.0.0.2")

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert response.client.session["_auth_user_id"] == str(responder.pk)


def test_failures_for_one_username_do_not_lock_out_the_others_at_that_address(responder, other_responder):
    fail(10, "rita", "10.0.0.1")

    assert sign_in("tom", PASSWORD, "10.0.0.1").status_code == 302


def test_an_address_trying_many_usernames_is_locked_out_at_its_own_limit(responder, settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_IP_FAILURE_LIMIT = 5
    for name in ("ann", "bob", "cat", "dan"):
        fail(1, name, "10.0.0.9")
    assert sign_in("rita", PASSWORD, "10.0.0.9").status_code == 302  # four failures: under both limits

    assert fail(1, "eve", "10.0.0.9") == [429]
    assert sign_in("rita", PASSWORD, "10.0.0.9").status_code == 429
    assert sign_in("rita", PASSWORD, "10.0.0.10").status_code == 302


def test_the_admin_login_is_throttled_too(portal_admin):
    codes = fail(10, "ada", "10.0.0.3", path=ADMIN_LOGIN)

    assert codes == [200] * 9 + [429]
    locked = sign_in("ada", PASSWORD, "10.0.0.3", path=ADMIN_LOGIN)
    assert locked.status_code == 429
    assert LOCKOUT_TEXT in locked.content.decode()
    assert sign_in("ada", PASSWORD, "10.0.0.3").status_code == 429  # one count for both login pages
    assert sign_in("ada", PASSWORD, "10.0.0.4", path=ADMIN_LOGIN).status_code == 302


def test_a_lockout_ends_after_the_cool_off(responder, time_machine):
    time_machine.move_to(T0, tick=False)
    fail(10, "rita", "10.0.0.1")

    time_machine.move_to(T0 + timedelta(minutes=16), tick=False)

    assert sign_in("rita", PASSWORD, "10.0.0.1").status_code == 302


def test_a_lockout_lasts_the_cool_off_from_the_last_attempt(responder, time_machine):
    time_machine.move_to(T0, tick=False)
    fail(10, "rita", "10.0.0.1")

    time_machine.move_to(T0 + timedelta(minutes=14), tick=False)
    assert sign_in("rita", PASSWORD, "10.0.0.1").status_code == 429
    time_machine.move_to(T0 + timedelta(minutes=28), tick=False)  # 28 after the first, 14 after the last
    assert sign_in("rita", PASSWORD, "10.0.0.1").status_code == 429
    time_machine.move_to(T0 + timedelta(minutes=44), tick=False)  # 16 after the last
    assert sign_in("rita", PASSWORD, "10.0.0.1").status_code == 302


def test_a_script_asking_gets_the_lockout_as_json_for_the_portal_origin_only(responder, settings):
    fail(9, "rita", "10.0.0.1")

    response = sign_in("rita", "wrong-password", "10.0.0.1", HTTP_X_REQUESTED_WITH="XMLHttpRequest")

    assert response.status_code == 429
    assert response.json()["failure_limit"] == 10
    assert response.headers["Access-Control-Allow-Origin"] == settings.SITE_URL


def test_an_admin_sees_and_clears_a_lockout_in_the_admin(responder, client):
    fail(10, "rita", "10.0.0.1")
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD))

    listing = client.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200
    assert "10.0.0.1" in listing.content.decode()
    ids = list(AccessAttempt.objects.values_list("pk", flat=True))
    cleared = client.post(
        "/admin/axes/accessattempt/", {"action": "delete_selected", "_selected_action": ids, "post": "yes"}
    )

    assert cleared.status_code == 302
    assert not AccessAttempt.objects.exists()
    assert sign_in("rita", PASSWORD, "10.0.0.1").status_code == 302


def test_the_reset_command_clears_a_lockout(responder):
    fail(10, "rita", "10.0.0.1")

    call_command("axes_reset_ip", "10.0.0.1")

    assert sign_in("rita", PASSWORD, "10.0.0.1").status_code == 302


def test_behind_a_proxy_clients_are_told_apart_and_cannot_choose_their_address(responder, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    for i in range(10):  # the attacker makes up a new left-hand entry every time
        sign_in("rita", "wrong-password", "10.0.0.254", HTTP_X_FORWARDED_FOR=f"192.0.2.{i}, 198.51.100.7")

    assert sign_in("rita", PASSWORD, "10.0.0.254", HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 429
    assert sign_in("rita", PASSWORD, "10.0.0.254", HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 302


@pytest.mark.parametrize(
    "proxies, forwarded_for, expected",
    [
        (0, "198.51.100.7", "10.0.0.254"),
        (1, "192.0.2.1, 198.51.100.7", "198.51.100.7"),
        (2, "192.0.2.1, 198.51.100.7, 10.0.0.253", "198.51.100.7"),
        (2, "198.51.100.7", "10.0.0.254"),  # shorter than the proxies it must have passed
        (1, "", "10.0.0.254"),
        (1, "not-an-address", "10.0.0.254"),
        (1, "2001:db8::1", "2001:db8::1"),
    ],
)
def test_client_address_is_the_one_the_outermost_trusted_proxy_saw(settings, proxies, forwarded_for, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.254", HTTP_X_FORWARDED_FOR=forwarded_for)

    assert client_ip(request) == expected


# Content-Security-Policy and Permissions-Policy on every kind of response

PAGES = [
    # (what, who signs in, path; {incident} and {user} are filled in)
    ("staff page", "responder", "/"),
    ("incident page", "responder", "{incident}"),
    ("login page", None, LOGIN),
    ("public status page", None, "/status/"),
    ("status feed", None, "/status/feed/"),
    ("admin index", "portal_admin", "/admin/"),
    ("admin change list", "portal_admin", "/admin/incidents/incident/"),
    ("admin change form", "portal_admin", "/admin/auth/user/{user}/change/"),
    ("admin login", None, ADMIN_LOGIN),
    ("not found", "responder", "/no-such-page/"),
]
INLINE = {
    "inline script": re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.IGNORECASE),
    "style element": re.compile(r"<style\b", re.IGNORECASE),
    "style attribute": re.compile(r"<[^>]*\sstyle\s*=", re.IGNORECASE),
    "event handler attribute": re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE),
    "javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
}


def policy(response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    return {name: values for name, *values in (part.split() for part in header.split(";") if part.strip())}


def assert_security_headers(response):
    csp = policy(response)
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response.headers["Content-Security-Policy"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["form-action"] == ["'self'"]
    assert csp["base-uri"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    features = response.headers["Permissions-Policy"].split(", ")
    assert {"camera=()", "microphone=()", "geolocation=()", "payment=()"} <= set(features)


@pytest.fixture
def fetch(client, request, incident):
    def fetch(who, path):
        if who:
            client.force_login(request.getfixturevalue(who))
        return client.get(path.format(incident=incident.get_absolute_url(), user=incident.declared_by.pk))

    return fetch


@pytest.mark.parametrize("what, who, path", PAGES, ids=[page[0] for page in PAGES])
def test_every_page_carries_the_security_headers(fetch, what, who, path):
    response = fetch(who, path)

    assert response.status_code == (404 if what == "not found" else 200)
    assert_security_headers(response)


@pytest.mark.parametrize("what, who, path", [p for p in PAGES if p[0] != "status feed"], ids=lambda v: v)
def test_pages_need_no_inline_script_or_style(fetch, what, who, path):
    html = fetch(who, path).content.decode()

    found = {kind: pattern.findall(html) for kind, pattern in INLINE.items() if pattern.search(html)}
    assert found == {}


def test_the_lockout_page_carries_the_security_headers(responder):
    fail(9, "rita", "10.0.0.1")

    assert_security_headers(sign_in("rita", "wrong-password", "10.0.0.1"))


@pytest.mark.parametrize("token, status", [(None, 401), ("test-token-0123456789abcdefghij", 200)])
def test_the_alert_webhook_response_carries_the_security_headers(client, runbook, settings, token, status):
    settings.ALERTMANAGER_WEBHOOK_TOKEN = "test-token-0123456789abcdefghij"
    payload = {
        "version": "4",
        "groupKey": "{}:{alertname='DiskFull'}",
        "status": "firing",
        "receiver": "portal",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "DiskFull", "severity": "warning"},
                "annotations": {"summary": "Disk full"},
                "startsAt": "2026-11-27T03:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": "0123456789abcdef",
            }
        ],
    }
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}

    response = client.post(
        "/api/alerts/alertmanager/", data=json.dumps(payload), content_type="application/json", **headers
    )

    assert response.status_code == status, response.content
    assert_security_headers(response)


# Sessions: idle timeout and absolute lifetime


def test_an_idle_session_is_signed_out_with_a_message(client, responder, time_machine, settings):
    idle_timeout = settings.SESSION_IDLE_TIMEOUT
    assert idle_timeout == timedelta(hours=12)  # the default the messages below spell out
    time_machine.move_to(T0, tick=False)
    client.force_login(responder)
    assert client.get("/").status_code == 200

    time_machine.move_to(T0 + timedelta(hours=11, minutes=59), tick=False)
    assert client.get("/").status_code == 200
    time_machine.move_to(T0 + timedelta(hours=24), tick=False)  # 12 h 01 min after the last request
    response = client.get("/incidents/", follow=True)

    assert response.redirect_chain[0] == ("/accounts/login/?next=/incidents/", 302)
    assert "You were signed out after 12 h without activity. Sign in again to continue." in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert client.get("/").status_code == 302


def test_a_session_in_use_outlives_the_idle_timeout(client, responder, time_machine):
    time_machine.move_to(T0, tick=False)
    client.force_login(responder)
    for hours in range(0, 49, 6):
        time_machine.move_to(T0 + timedelta(hours=hours), tick=False)
        assert client.get("/").status_code == 200, hours


def test_a_session_ends_at_its_maximum_length_however_active(client, responder, time_machine, settings):
    settings.SESSION_COOKIE_AGE = int(timedelta(days=1).total_seconds())
    time_machine.move_to(T0, tick=False)
    assert client.post(LOGIN, {"username": "rita", "password": PASSWORD}).status_code == 302
    assert client.session[SIGNED_IN_AT] == T0.timestamp()
    for hours in (6, 12, 18, 23):
        time_machine.move_to(T0 + timedelta(hours=hours), tick=False)
        assert client.get("/").status_code == 200

    time_machine.move_to(T0 + timedelta(hours=24, minutes=1), tick=False)
    response = client.get("/", follow=True)

    assert response.redirect_chain[0] == ("/accounts/login/?next=/", 302)
    assert "Your session has reached its maximum length." in response.content.decode()


def test_signing_in_again_starts_a_fresh_session(client, responder, time_machine):
    time_machine.move_to(T0, tick=False)
    client.force_login(responder)
    client.get("/")
    time_machine.move_to(T0 + timedelta(hours=13), tick=False)
    client.get("/")  # signed out

    assert client.post(LOGIN, {"username": "rita", "password": PASSWORD}).status_code == 302
    assert client.get("/").status_code == 200


# Only superusers make superusers


def user_form(user, **changes):
    """The admin change form's POST for `user`, as the page would send it unchanged, with `changes`."""
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "groups": [group.pk for group in user.groups.all()],
        "user_permissions": [perm.pk for perm in user.user_permissions.all()],
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
    }
    data.update({flag: "on" for flag in ("is_active", "is_staff", "is_superuser") if getattr(user, flag)})
    data.update(changes)
    return data


def change_user(client, user, **changes):
    return client.post(f"/admin/auth/user/{user.pk}/change/", user_form(user, **changes))


@pytest.mark.parametrize("target", ["responder", "portal_admin"], ids=["another user", "themselves"])
def test_an_admins_member_cannot_make_a_superuser(client, request, portal_admin, target):
    user = request.getfixturevalue(target)
    client.force_login(portal_admin)

    response = change_user(client, user, is_superuser="on", first_name="Renamed")

    assert response.status_code == 302  # the rest of the form was saved ...
    user.refresh_from_db()
    assert user.first_name == "Renamed"
    assert not user.is_superuser  # ... but not the flag


def test_a_superuser_can_make_a_superuser(client, responder):
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD))

    assert change_user(client, responder, is_superuser="on").status_code == 302

    responder.refresh_from_db()
    assert responder.is_superuser


def test_an_admins_member_cannot_take_over_a_superuser_account(client, portal_admin):
    root = get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)
    client.force_login(portal_admin)

    password_change = client.post(
        f"/admin/auth/user/{root.pk}/password/", {"password1": "a-new-Passw0rd-99", "password2": "a-new-Passw0rd-99"}
    )
    edit = change_user(client, root, email="attacker@example.com")

    assert password_change.status_code == 403
    assert edit.status_code == 403
    root.refresh_from_db()
    assert root.check_password(PASSWORD)
    assert root.email == "root@example.com"


def test_an_admins_member_grants_no_permission_they_lack(client, portal_admin, responder):
    # Admins may clear lockouts but not rewrite the admin's own log.
    beyond = Permission.objects.get(content_type__app_label="admin", codename="delete_logentry")
    assert not portal_admin.has_perm("admin.delete_logentry")
    client.force_login(portal_admin)

    response = change_user(client, responder, user_permissions=[beyond.pk])

    assert response.status_code == 200  # the form comes back with an error
    assert not responder.user_permissions.filter(pk=beyond.pk).exists()


def test_an_admins_member_adds_no_one_to_a_group_holding_more_than_they_do(client, portal_admin, responder):
    powerful = Group.objects.create(name="Log editors")
    powerful.permissions.add(Permission.objects.get(content_type__app_label="admin", codename="delete_logentry"))
    client.force_login(portal_admin)

    grant = change_user(client, responder, groups=[*responder.groups.values_list("pk", flat=True), powerful.pk])
    widen = client.post(
        f"/admin/auth/group/{Group.objects.get(name='Responders').pk}/change/",
        {"name": "Responders", "permissions": [powerful.permissions.get().pk]},
    )

    assert grant.status_code == 200
    assert not responder.groups.filter(pk=powerful.pk).exists()
    assert widen.status_code == 200
    assert not Group.objects.get(name="Responders").permissions.filter(content_type__app_label="admin").exists()


def test_an_admins_member_still_manages_ordinary_accounts(client, portal_admin, responder):
    viewers = Group.objects.get(name="Viewers")
    client.force_login(portal_admin)

    response = change_user(client, responder, groups=[viewers.pk], is_staff="on")

    assert response.status_code == 302
    responder.refresh_from_db()
    assert list(responder.groups.all()) == [viewers]
    assert responder.is_staff


def test_admins_can_see_and_clear_sign_in_lockouts(portal_admin):
    assert portal_admin.has_perm("axes.view_accessattempt")
    assert portal_admin.has_perm("axes.delete_accessattempt")


def test_a_username_longer_than_any_column_is_a_failed_sign_in_not_a_server_error(client, db):
    response = client.post("/accounts/login/", {"username": "Ω" * 300, "password": "wrong"})

    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
