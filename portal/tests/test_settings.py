"""Production settings fail loudly when incomplete and pass Django's deploy checks when complete."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
PROD_KEY = "k" * 20 + "-production-only-test-key-0123456789"
# Everything production needs; each test leaves out or changes what it is about.
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": PROD_KEY,
    "ALLOWED_HOSTS": "portal.example.com",
    "DATABASE_URL": "postgres://portal:secret@db.example.com:5432/portal",
    "CELERY_BROKER_URL": "redis://redis.example.com:6379/0",
    "EMAIL_URL": "smtp+tls://portal:secret@mail.example.com:587",
}
# Variables a test's environment may carry (make test sets some) that would hide what is being tested.
CONFIGURED = {*PRODUCTION, "DJANGO_ALLOW_ASYNC_UNSAFE", "TRUSTED_PROXY_COUNT", "SESSION_IDLE_TIMEOUT"}


def _manage(*args, **env):
    clean = {k: v for k, v in os.environ.items() if k not in CONFIGURED}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _production_settings(*names, **env):
    """The named settings as production start-up reads them from `env`, printed one per line."""
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='portal.settings'; django.setup();"
        "from django.conf import settings as s;"
        f"print(*(getattr(s, name) for name in {names!r}), sep='\\n')"
    )
    clean = {k: v for k, v in os.environ.items() if k not in CONFIGURED}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=60
    )


def test_production_refuses_to_start_without_secret_key():
    result = _manage("check", DEBUG="false", ALLOWED_HOSTS="portal.example.com")

    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_refuses_a_short_secret_key():
    result = _manage("check", DEBUG="false", ALLOWED_HOSTS="portal.example.com", SECRET_KEY="short")

    assert result.returncode != 0
    assert "at least 50 characters" in result.stderr


def test_production_refuses_to_start_without_allowed_hosts():
    result = _manage("check", DEBUG="false", SECRET_KEY=PROD_KEY)

    assert result.returncode != 0
    assert "ALLOWED_HOSTS must list" in result.stderr


@pytest.mark.parametrize(
    "name, fallback",
    [
        ("DATABASE_URL", "an SQLite file"),
        ("CELERY_BROKER_URL", "the filesystem broker"),
        ("EMAIL_URL", "printing emails to the console"),
    ],
)
def test_production_refuses_to_start_without_its_services(name, fallback):
    env = {k: v for k, v in PRODUCTION.items() if k != name}

    result = _manage("check", **env)

    assert result.returncode != 0
    assert f"ImproperlyConfigured: {name} must be set when DEBUG is false" in result.stderr
    assert f"does not fall back to {fallback}" in result.stderr


@pytest.mark.parametrize("name", ["DATABASE_URL", "CELERY_BROKER_URL", "EMAIL_URL"])
def test_production_refuses_an_empty_service_url(name):
    result = _manage("check", **{**PRODUCTION, name: ""})

    assert result.returncode != 0
    assert f"{name} must be set when DEBUG is false" in result.stderr


def test_production_uses_the_configured_services():
    result = _production_settings("DATABASES", "CELERY_BROKER_URL", "EMAIL_BACKEND", "EMAIL_HOST", **PRODUCTION)

    assert result.returncode == 0, result.stderr
    databases, broker, email_backend, email_host = result.stdout.strip().splitlines()[-4:]
    assert "django.db.backends.postgresql" in databases and "db.example.com" in databases
    assert broker == "redis://redis.example.com:6379/0"
    assert email_backend == "django.core.mail.backends.smtp.EmailBackend"
    assert email_host == "mail.example.com"


def test_deploy_checks_pass_with_production_settings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_counts_the_address_one_proxy_saw_by_default():
    assert _production_settings("TRUSTED_PROXY_COUNT", **PRODUCTION).stdout.split()[-1] == "1"
    assert _production_settings("TRUSTED_PROXY_COUNT", **PRODUCTION, TRUSTED_PROXY_COUNT="2").stdout.split()[-1] == "2"


def test_session_idle_timeout_is_read_as_a_duration():
    result = _production_settings("SESSION_IDLE_TIMEOUT", **PRODUCTION, SESSION_IDLE_TIMEOUT="30m")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "0:30:00"


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("SESSION_IDLE_TIMEOUT", "0h", "must be longer than zero"),
        ("SESSION_IDLE_TIMEOUT", "twelve", "is not a duration"),
        ("AXES_COOLOFF_MINUTES", "0", "AXES_COOLOFF_MINUTES must be at least 1"),
        ("AXES_FAILURE_LIMIT", "0", "AXES_FAILURE_LIMIT must be at least 1"),
        ("TRUSTED_PROXY_COUNT", "-1", "TRUSTED_PROXY_COUNT cannot be negative"),
    ],
)
def test_malformed_security_settings_stop_start_up(name, value, message):
    result = _manage("check", **PRODUCTION, **{name: value})

    assert result.returncode != 0
    assert message in result.stderr


def test_development_defaults_need_no_configuration(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "DEBUG", "SECRET_KEY"}}
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='portal.settings'; django.setup();"
        "from django.conf import settings as s;"
        "print(s.DEBUG, s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL, s.USE_TZ)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "django.db.backends.sqlite3", "filesystem://", "True"]


@pytest.mark.skipif(
    not os.environ.get("REQUIRE_SERVICES"), reason="only the full suite (make test) promises PostgreSQL"
)
def test_the_suite_runs_on_postgresql(db):
    assert connection.vendor == "postgresql"
