"""Helpers for tests that wait on real processes."""

import time


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
