"""Helpers for tests that wait on real processes."""

import time
from contextlib import contextmanager


def wait_until(predicate, timeout: float = 20, interval: float = 0.05):
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"Condition not met within {timeout}s")
        time.sleep(interval)


@contextmanager
def broker_at(url: str):
    """Point the Celery app at another broker for the block (a closed port, a private Redis)."""
    from portal.celery import app

    def reset_pools():
        # Drop the app's handles on its pools; kombu's registry hands out fresh
        # ones for the new URL (closing them would poison that registry).
        app._pool = None
        app.amqp._producer_pool = None

    keys = ("broker_url", "broker_read_url", "broker_write_url")
    previous = {key: app.conf[key] for key in keys}
    reset_pools()
    app.conf.update(dict.fromkeys(keys, url))
    try:
        yield app
    finally:
        reset_pools()
        app.conf.update(previous)


# Figures that tests measure (sent, expected, duplicates …), printed at the end
# of the run by conftest's pytest_terminal_summary so they show in CI's output.
FIGURES: list[str] = []


def report_figures(name: str, **figures) -> None:
    line = f"[{name}] " + " ".join(f"{key}={value}" for key, value in figures.items())
    FIGURES.append(line)
    print("\n" + line)
