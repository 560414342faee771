"""Fixtures shared by every app's tests: users by role, the seeded runbook, and
the real parts (PostgreSQL, Redis, a Celery worker, an SMTP server)."""

import logging
import os
import socket
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from hypothesis import settings as hypothesis_settings

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # live_server + Playwright

# Fuzz tests run 150 examples each by default; HYPOTHESIS_PROFILE=slow runs 10,000 (make fuzz).
hypothesis_settings.register_profile("default", max_examples=150)
hypothesis_settings.register_profile("slow", max_examples=10_000)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Key stretching is the point in production and only slows the suite here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _health_banner_uncached(settings):
    # Query-count tests compare two requests: a banner cached by the first would hide its queries from the second.
    settings.HEALTH_BANNER_CACHE_SECONDS = 0


@pytest.fixture(autouse=True)
def _second_factor_required(settings, monkeypatch):
    """The second factor is required of staff, as in production (development's default is off), and
    `client.force_login` stands for a finished sign-in, second factor included: a staff user it signs in
    is verified with an authenticator app (made for them if they have none). people/tests go through
    the sign-in and second-factor pages themselves."""
    from django.test import Client

    settings.OTP_REQUIRED_FOR_STAFF = True
    force_login = Client.force_login

    def force_login_verified(self, user, backend=None):
        force_login(self, user, backend)
        verify_second_factor(self, user)

    monkeypatch.setattr(Client, "force_login", force_login_verified)


def verify_second_factor(client, user) -> None:
    """Mark `client`'s session as verified by `user`'s authenticator app, if they have or need one."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from people.selectors import second_factor_due

    if second_factor_due(user) is None:
        return
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        # bulk_create: a test's stand-in, not a change its history should show.
        [device] = TOTPDevice.objects.bulk_create([TOTPDevice(user=user, name="Test app", confirmed=True)])
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, django_db_blocker):
    """Give each run its own test database (test_portal_<pid>), so two runs on one
    machine (two checkouts, a run beside CI) never drop each other's database."""
    from django.db import connections

    for alias in connections:
        test = connections[alias].settings_dict.setdefault("TEST", {})
        if connections[alias].vendor == "postgresql":
            base = test.get("NAME") or f"test_{connections[alias].settings_dict['NAME']}"
            test["NAME"] = f"{base}_{os.getpid()}"
            with django_db_blocker.unblock():
                _drop_abandoned_test_databases(connections[alias], base)


def _drop_abandoned_test_databases(connection, base: str) -> None:
    """Test databases of runs that died before their teardown (test_portal_<pid> of no live process)."""
    with connection._nodb_cursor() as cursor:
        cursor.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", [f"{base}_%"])
        for (name,) in cursor.fetchall():
            pid = name.rsplit("_", 1)[1]
            if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Seed the runbook once for the session; each test's transaction rolls back to it.

    At the end, end any connection a test left open (a thread, a killed worker's),
    so the test database can be dropped rather than left behind."""
    from django.db import connection

    from incidents.seeding import seed_runbook

    with django_db_blocker.unblock():
        seed_runbook()
    yield
    if connection.vendor == "postgresql":
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


@pytest.fixture
def runbook(db):
    """The runbook's data and the permission groups, as `seed_runbook` loads them.

    Seeded once per session; transactional tests flush the database, so seed again then.
    """
    from django.contrib.auth.models import Group

    from incidents.seeding import seed_runbook

    if not Group.objects.filter(name="Responders").exists():
        seed_runbook()


@pytest.fixture
def postmortems_not_required(runbook):
    """No severity requires a post-mortem or a second person's approval, so incidents close without either.

    For tests of the incidents app's own lifecycle; postmortems and approvals test their closure checks.
    """
    from incidents.models import Severity

    Severity.objects.update(postmortem_required=False, four_eyes=False)  # reference data, no history needed in a test


@pytest.fixture
def four_eyes_off(runbook):
    """No severity needs a second person's approval to close or to complete a post-mortem's analysis.

    For tests about something else that close Sev1/Sev2 incidents or complete their analysis; approvals tests it.
    """
    from incidents.models import Severity

    Severity.objects.update(four_eyes=False)  # reference data, no history needed in a test


SEV1_LIST = ["sev1-oncall@example.com", "execs@example.com"]
SEV2_LIST = ["sev2-oncall@example.com"]


@pytest.fixture
def distribution_lists(settings):
    """Email lists for Sev1 and Sev2 (none for Sev3/4), and Slack off."""
    settings.INCIDENT_EMAIL_LISTS = {1: SEV1_LIST, 2: SEV2_LIST, 3: [], 4: []}
    settings.SLACK_WEBHOOK_URL = ""


def make_user(username, *groups, **extra):
    user = get_user_model().objects.create_user(
        username=username, password="correct-horse-battery", email=f"{username}@example.com", **extra
    )
    user.groups.add(*Group.objects.filter(name__in=groups))
    return user


@pytest.fixture
def responder(runbook):
    return make_user("rita", "Responders", first_name="Rita", last_name="Responder")


@pytest.fixture
def other_responder(runbook):
    return make_user("tom", "Responders", first_name="Tom", last_name="Tech")


@pytest.fixture
def viewer(runbook):
    return make_user("vic", "Viewers", first_name="Vic", last_name="Viewer")


@pytest.fixture
def portal_admin(runbook):
    return make_user("ada", "Admins", "Responders", first_name="Ada", last_name="Admin", is_staff=True)


@pytest.fixture
def superuser(runbook):
    return get_user_model().objects.create_superuser("root", "root@example.com", "correct-horse-battery")


@pytest.fixture(params=["portal_admin", "superuser"])
def staff(request):
    """Each admin user the portal has: an Admins member and a superuser."""
    return request.getfixturevalue(request.param)


@pytest.fixture
def portal_admin_client(client, portal_admin):
    client.force_login(portal_admin)
    return client


@pytest.fixture
def incident(responder):
    from incidents import services
    from incidents.models import Incident, IncidentType, Service, Severity

    return services.incident_declare(
        actor=responder,
        title="Executor failing to land trades",
        severity=Severity.objects.get(level=1),
        incident_type=IncidentType.objects.get(slug="trade-execution-failure"),
        detection_source=Incident.DetectionSource.ALERT,
        description="Trades revert on submission.",
        user_impact="All traders",
        services=Service.objects.filter(slug__in=["executor"]),
    )


def _redis_reachable(url: str) -> None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.fail(f"Redis is required at {url} and is not reachable ({exc}); start it (see README).")


@pytest.fixture(scope="session")
def redis_broker_url():
    """The Redis the suite's broker tests use. Fails, never skips, when it is down."""
    from django.conf import settings

    url = settings.CELERY_BROKER_URL
    if not url.startswith("redis://"):
        pytest.fail("CELERY_BROKER_URL must point at Redis for this test (make test sets it).")
    _redis_reachable(url)
    return url


@pytest.fixture
def celery_worker(redis_broker_url, transactional_db):
    """A real Celery worker (in a thread of this process) consuming from Redis."""
    from celery.contrib.testing.worker import start_worker

    from portal.celery import app

    app.loader.import_module("celery.contrib.testing.tasks")
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(app.conf.task_default_queue)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10) as worker:
        yield worker


class _Mailbox:
    """What the SMTP server received, as parsed messages."""

    def __init__(self):
        self.messages: list[EmailMessage] = []
        self.arrived = threading.Condition()

    async def handle_DATA(self, server, session, envelope):
        with self.arrived:
            self.messages.append(message_from_bytes(envelope.original_content, policy=policy.default))
            self.arrived.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 20) -> list[EmailMessage]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.messages) >= count, timeout=timeout)
            return list(self.messages)


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server (aiosmtpd) on a free port, with Django's SMTP backend pointed at it."""
    from aiosmtpd.controller import Controller

    logging.getLogger("mail.log").setLevel(logging.WARNING)
    mailbox = _Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    mailbox.port = port
    yield mailbox
    controller.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Figures a test measured (`portal.testing.report_figures`) travel with its report, so they reach the
    summary from pytest-xdist's worker processes too."""
    outcome = yield
    from portal.testing import FIGURES

    if FIGURES:
        outcome.get_result().user_properties.extend(("measured figure", line) for line in FIGURES)
        FIGURES.clear()


_MEASURED: dict[tuple[str, str], None] = {}  # in order, once each (a test's reports share its properties)


def pytest_runtest_logreport(report):
    for name, line in report.user_properties:
        if name == "measured figure":
            _MEASURED.setdefault((report.nodeid, line))


def pytest_terminal_summary(terminalreporter):
    if _MEASURED:
        terminalreporter.section("measured figures")
        for _, line in _MEASURED:
            terminalreporter.write_line(line)
