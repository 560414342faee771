"""`manage.py ensure_login`: the first login, whose password passes AUTH_PASSWORD_VALIDATORS."""

import re
from io import StringIO

import pytest
from django.contrib.auth import get_user_model, password_validation
from django.core.management import CommandError, call_command


@pytest.fixture(autouse=True)
def no_admin_env(monkeypatch):
    monkeypatch.delenv("PORTAL_ADMIN_USERNAME", raising=False)
    monkeypatch.delenv("PORTAL_ADMIN_PASSWORD", raising=False)


def ensure_login() -> str:
    out = StringIO()
    call_command("ensure_login", stdout=out)
    return out.getvalue()


@pytest.mark.parametrize(
    "password, reason",
    [
        ("password", "This password is too common."),
        ("Xy7-ab", "This password is too short."),
        ("8417309265", "This password is entirely numeric."),
        ("oncall-lead", "The password is too similar to the username."),
    ],
)
def test_a_weak_admin_password_stops_with_the_reason(runbook, monkeypatch, password, reason):
    monkeypatch.setenv("PORTAL_ADMIN_USERNAME", "oncall-lead")
    monkeypatch.setenv("PORTAL_ADMIN_PASSWORD", password)

    with pytest.raises(CommandError, match="PORTAL_ADMIN_PASSWORD is too weak") as excinfo:
        ensure_login()

    assert reason in str(excinfo.value)
    assert not get_user_model().objects.filter(username="oncall-lead").exists()


def test_a_strong_admin_password_creates_the_login(runbook, monkeypatch):
    monkeypatch.setenv("PORTAL_ADMIN_USERNAME", "oncall-lead")
    monkeypatch.setenv("PORTAL_ADMIN_PASSWORD", "fjord-Quartz-lantern-48")

    output = ensure_login()

    user = get_user_model().objects.get(username="oncall-lead")
    assert user.is_superuser
    assert user.check_password("fjord-Quartz-lantern-48")
    assert set(user.groups.values_list("name", flat=True)) == {"Admins", "Responders"}
    assert "Created login  username: oncall-lead" in output


def test_a_generated_password_passes_the_validators_and_signs_in(runbook):
    output = ensure_login()

    password = re.search(r"password: (\S+)", output).group(1)
    user = get_user_model().objects.get(username="admin")
    password_validation.validate_password(password, user=user)  # raises if it does not pass
    assert user.check_password(password)


def test_an_existing_login_is_left_alone(runbook, monkeypatch):
    existing = get_user_model().objects.create_user("admin", password="unchanged-Password-77")
    monkeypatch.setenv("PORTAL_ADMIN_PASSWORD", "password")  # would be refused, but is never used

    assert "Login 'admin' already exists." in ensure_login()

    existing.refresh_from_db()
    assert existing.check_password("unchanged-Password-77")
    assert not existing.is_superuser
