"""Real processes for the fault tests: Celery workers, beats, sweeps and a private
Redis, each started in its own session and ended by its own pid."""

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter

from django.conf import settings
from django.db import connection

from conftest import _Mailbox, free_port
from portal.testing import wait_until


def database_url() -> str:
    """The test database (pytest-django's `test_…`), for processes outside this one."""
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def environment(*, broker_url: str, smtp_port: int, **extra) -> dict:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings",
        DATABASE_URL=database_url(),
        CELERY_BROKER_URL=broker_url,
        EMAIL_URL=f"smtp://127.0.0.1:{smtp_port}",
        SITE_URL="http://portal.test",
        LOG_LEVEL="INFO",
        # Beat ticks fast so a test sees several runs; production runs both every minute.
        POSTMORTEM_SWEEP_SECONDS="1",
        OUTBOX_SWEEP_SECONDS="2",
    )
    env.update({k: str(v) for k, v in extra.items()})
    return env


class Process:
    """A child process with its output in a file; ended by its own pid (and its process group, which it leads)."""

    def __init__(self, name, args, env, log_dir):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop())
        self.popen = subprocess.Popen(
            args, env=env, cwd=settings.BASE_DIR, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.pid = self.popen.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self):
        """SIGKILL, no warning: what an OOM killer or a power cut does."""
        os.killpg(self.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self, timeout=15):
        if self.popen.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGTERM)
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)
            except ProcessLookupError:
                pass
        else:
            # The leader has exited; end any of its children still in the group.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
        self._log.close()

    def wait(self, timeout=120):
        return self.popen.wait(timeout=timeout)


def worker(name, env, log_dir, *, pool="prefork", concurrency=2):
    args = [sys.executable, "-m", "celery", "-A", "portal", "worker", "--loglevel=INFO", f"--pool={pool}"]
    args += [f"--concurrency={concurrency}", f"--hostname={name}@%h", "--without-gossip", "--without-mingle"]
    return Process(name, args, env, log_dir)


def beat(name, env, log_dir):
    schedule = log_dir / f"{name}-schedule"
    args = [sys.executable, "-m", "celery", "-A", "portal", "beat", "--loglevel=INFO", f"--schedule={schedule}"]
    return Process(name, args, env, log_dir)


def enforce_deadlines(name, env, log_dir):
    args = [sys.executable, "manage.py", "enforce_deadlines", "--deliver"]
    return Process(name, args, env, log_dir)


def redis_server(name, port, log_dir):
    args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    args += ["--dir", str(log_dir)]
    process = Process(name, args, dict(os.environ), log_dir)
    import redis

    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
    wait_until(lambda: _pings(client), timeout=10)
    return process


def _pings(client):
    import redis

    try:
        return client.ping()
    except redis.exceptions.ConnectionError:
        return False


def purge(broker_url):
    """Empty the default queue, so a test's workers start from a clean broker."""
    from portal.celery import app

    with app.connection_for_write(broker_url) as conn:
        conn.default_channel.queue_purge(app.conf.task_default_queue)


@contextlib.contextmanager
def started(broker_url):
    """The processes a test starts (append them): every one is ended by its own pid, whatever
    happens, last started first, with the broker's queue emptied before and after."""
    processes: list[Process] = []
    purge(broker_url)
    try:
        yield processes
    finally:
        for process in reversed(processes):
            process.stop()
        purge(broker_url)


def tally(mailbox, expected_keys) -> dict:
    """What the SMTP server received: total, distinct reminder emails, duplicates, missing."""
    keys = Counter(m["X-Portal-Message"] for m in mailbox.messages if m["X-Portal-Message"] in expected_keys)
    return {
        "sent": sum(keys.values()),
        "expected": len(expected_keys),
        "distinct": len(keys),
        "duplicates": sum(count - 1 for count in keys.values()),
        "missing": len(expected_keys - set(keys)),
    }


def settle(mailbox, seconds=3.0):
    """Give anything still in flight the chance to show up as a duplicate."""
    count = -1
    while count != len(mailbox.messages):
        count = len(mailbox.messages)
        time.sleep(seconds)


class SlowMailbox(_Mailbox):
    """An SMTP server whose DATA is slow: the message is taken as its data ends, and the 250
    reply comes `delay` seconds later. A sender killed in that window has handed the message
    over without learning so: the one case the outbox sends twice."""

    def __init__(self, delay: float):
        super().__init__()
        self.delay = delay
        self.in_data: list[str] = []  # X-Portal-Message of each message now waiting for its 250
        self.data_count = 0  # DATA commands that reached their end so far

    async def handle_DATA(self, server, session, envelope):
        reply = await super().handle_DATA(server, session, envelope)  # no await inside: messages[-1] is this one
        key = self.messages[-1]["X-Portal-Message"]
        self.in_data.append(key)
        self.data_count += 1
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.in_data.remove(key)
        return reply


@contextlib.contextmanager
def slow_smtp_server(delay: float):
    """A real SMTP server (aiosmtpd) on a free port whose every DATA takes `delay` seconds (settable)."""
    from aiosmtpd.controller import Controller

    mailbox = SlowMailbox(delay)
    mailbox.port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port)
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()
