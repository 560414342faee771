"""The health banner in a real headless Chromium: on the dashboard when a sweep has stopped."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from incidents.tests.test_browser import browser_type_launch_args, screenshot, sign_in  # noqa: F401 (system Chromium)

from .conftest import beat, beat_all


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_dashboard_shows_the_banner_when_a_sweep_is_stale(page: Page, live_server, responder):
    now = timezone.now()
    beat_all(now)
    page.set_default_timeout(15_000)
    sign_in(page, live_server, responder)

    page.goto(live_server.url + "/")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_test_id("health-banner")).to_have_count(0)

    beat("deadlines", now - timedelta(minutes=10))
    page.reload()

    banner = page.get_by_test_id("health-banner")
    expect(banner).to_be_visible()
    expect(banner.get_by_role("heading", name="The portal itself needs attention")).to_be_visible()
    expect(banner).to_contain_text("The deadlines sweep (post-mortem deadline reminders and escalations) has not run")
    expect(banner).to_contain_text("(10 min ago)")
    screenshot(page, "health-banner")
