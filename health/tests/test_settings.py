"""The health settings fail loudly when malformed, as the portal's other settings do."""

import pytest

from portal.tests.test_settings import _manage


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("METRICS_TOKEN", "short", "METRICS_TOKEN must be at least 24 characters"),
        ("PROMETHEUS_MULTIPROC_DIR", "/nonexistent/portal-metrics", "is not an existing folder"),
        ("PROMETHEUS_MULTIPROC_DIR", "", "is not an existing folder"),
        ("HEALTH_BROKER_TIMEOUT_SECONDS", "0", "HEALTH_BROKER_TIMEOUT_SECONDS must be more than 0"),
        ("HEALTH_BANNER_CACHE_SECONDS", "-1", "HEALTH_BANNER_CACHE_SECONDS cannot be negative"),
    ],
)
def test_malformed_health_settings_stop_start_up(name, value, message):
    result = _manage("check", **{name: value})

    assert result.returncode != 0
    assert message in result.stderr


def test_a_multiprocess_folder_that_exists_is_accepted(tmp_path):
    result = _manage("check", PROMETHEUS_MULTIPROC_DIR=str(tmp_path), METRICS_TOKEN="m" * 24)

    assert result.returncode == 0, result.stderr
