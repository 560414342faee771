"""Fixtures for the health tests: heartbeats at chosen ages, and a clean banner cache."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache

from health import services
from health.sweeps import SWEEPS

T0 = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
METRICS_TOKEN = "metrics-token-0123456789abcdef"


def beat(sweep: str, at: datetime) -> None:
    services.heartbeat_record(task=SWEEPS[sweep], at=at)


def beat_all(at: datetime, *, except_: tuple[str, ...] = ()) -> None:
    for sweep in SWEEPS:
        if sweep not in except_:
            beat(sweep, at)


@pytest.fixture(autouse=True)
def _empty_banner_cache():
    cache.delete("health:banner")
    yield
    cache.delete("health:banner")


@pytest.fixture
def at(time_machine):
    """Move the clock to T0 + seconds (the clock stands still in between)."""

    def move(seconds: float = 0):
        time_machine.move_to(T0 + timedelta(seconds=seconds), tick=False)

    move(0)
    return move


@pytest.fixture
def metrics_token(settings):
    settings.METRICS_TOKEN = METRICS_TOKEN
    return METRICS_TOKEN
