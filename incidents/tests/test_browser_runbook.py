"""The runbook as data and stalled incidents, in a real headless Chromium."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from playwright.sync_api import Page, expect

from incidents import services
from incidents.models import Incident, IncidentType, Severity
from incidents.tests.test_browser import browser_type_launch_args, screenshot  # noqa: F401 - the fixture


def sign_in(page: Page, live_server):
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill("rita")
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_quiet_incident_shows_stalled_and_the_portal_ticks_its_own_steps(page: Page, live_server, responder):
    page.set_default_timeout(15_000)
    with time_machine.travel(timezone.now() - timedelta(minutes=90), tick=False):
        incident = services.incident_declare(
            actor=responder,
            title="Signals stuck",
            severity=Severity.objects.get(level=1),
            incident_type=IncidentType.objects.get(slug="signal-processing-delay"),
            detection_source=Incident.DetectionSource.MANUAL_CHECK,
        )
    sign_in(page, live_server)

    page.goto(live_server.url + incident.get_absolute_url())
    expect(page.get_by_test_id("stalled")).to_contain_text("Stalled: no activity")
    checklist = page.locator("#checklist")
    expect(checklist).to_contain_text("Post-incident activities")
    expect(checklist.locator("li", has_text="create incident ticket")).to_contain_text("by the portal")
    status_step = checklist.locator("li", has_text="Implement fix: communicate progress")
    expect(status_step).to_contain_text("the portal ticks this")

    updates = page.locator("#updates")
    updates.get_by_label("Audience").select_option("customers")
    updates.get_by_label("Update").fill("Signals are delayed; we are on it.")
    updates.get_by_role("button", name="Post update").click()
    expect(updates.locator(".audience-customers")).to_contain_text("Signals are delayed")
    expect(page.get_by_test_id("stalled")).to_have_count(0)  # activity: no longer stalled
    expect(page.locator("#checklist li", has_text="Implement fix: communicate progress")).to_contain_text(
        "by the portal"
    )
    screenshot(page, "runbook-incident")

    page.goto(live_server.url + "/runbooks/")
    expect(page.locator("#general")).to_contain_text("Develop resolution plan: prepare rollback plan")
    expect(page.locator("#general")).to_contain_text("Post-mortem analysis: document root cause")
