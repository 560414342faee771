"""The update form's template drafts and the conference bridge in a real headless Chromium, without
any script of ours (the page's CSP allows none inline)."""

import pytest
from playwright.sync_api import Page, expect

from incidents.models import StatusUpdate
from incidents.tests.test_browser import (  # noqa: F401 (browser_type_launch_args: the system Chromium)
    browser_type_launch_args,
    screenshot,
    sign_in,
)

from .factories import declare

BRIDGE = "https://meet.example.com/incident-bridge"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_comms_lead_starts_from_the_template_edits_and_posts(page: Page, live_server, runbook, responder, settings):
    settings.CONFERENCE_BRIDGE_URL = BRIDGE
    incident = declare(responder, title="Trades reverting on mainnet")
    page.set_default_timeout(15_000)
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    sign_in(page, live_server, responder)

    page.goto(live_server.url + incident.get_absolute_url())
    expect(page.get_by_test_id("bridge").get_by_role("link", name=BRIDGE)).to_be_visible()

    # An empty box: the template for stakeholders fills it, with the incident's facts in place.
    updates = page.locator("#updates")
    updates.get_by_role("button", name="Stakeholders", exact=True).click()
    body = page.locator("#update-body")
    expect(page.locator("#update-audience")).to_have_value("stakeholders")
    draft = body.input_value()
    assert draft.startswith(
        f"Incident {incident.reference} (Sev1 (Critical)): Trades reverting on mainnet\nBusiness impact: —\n"
        "Status: Detected. <one or two sentences"
    ), draft
    assert draft.endswith(" UTC.") and "{" not in draft
    expect(page.locator("#update-audience")).to_have_value("stakeholders")
    expect(page.get_by_test_id("draft-note")).to_contain_text("Started from the Stakeholders template")
    screenshot(page, "update-draft")

    # Typed text is kept when another template is asked for.
    body.fill("Trading is paused for 20 minutes while we roll back.")
    updates.get_by_role("button", name="Internal", exact=True).click()
    expect(body).to_have_value("Trading is paused for 20 minutes while we roll back.")
    expect(page.get_by_test_id("draft-note")).to_contain_text("Your text is kept")
    assert not StatusUpdate.objects.exists()

    updates.get_by_role("button", name="Post update").click()
    expect(page.locator(".updates")).to_contain_text("Trading is paused for 20 minutes")
    update = StatusUpdate.objects.get()
    assert (update.audience, update.author) == ("internal", responder)
    assert not [e for e in errors if "Content Security Policy" in e]
