"""Four eyes in a real headless Chromium: one responder asks to close a resolved Sev1,
another sees it on the dashboard and approves, and the incident is closed."""

import pytest
from playwright.sync_api import Page, expect

from approvals.models import ApprovalRequest
from incidents.models import Incident
from incidents.tests.factories import declare
from incidents.tests.test_browser import browser_type_launch_args, screenshot, sign_in  # noqa: F401

from .helpers import resolve


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_second_responder_approves_a_close_from_the_dashboard(
    page: Page, browser, live_server, sev1_no_postmortem, responder, other_responder
):
    page.set_default_timeout(15_000)
    incident = resolve(declare(responder, title="Trades reverting on mainnet"), responder)
    incident_url = live_server.url + incident.get_absolute_url()

    # Rita cannot close it alone: the page says why, and the Close button is refused with the reason.
    sign_in(page, live_server, responder)
    page.goto(incident_url)
    panel = page.locator("#approvals")
    expect(panel).to_contain_text("Closing a Sev1 needs a second person's approval")
    page.get_by_role("button", name="Close", exact=True).click()
    expect(page.locator(".flash-error")).to_contain_text("Closing a Sev1 needs a second person's approval")

    # She asks for the approval, with a comment.
    panel.get_by_label("Why should it be approved?").fill("Failure rate flat for an hour; executor rolled back.")
    panel.get_by_role("button", name="Request approval to close").click()
    expect(page.locator(".flash-success")).to_contain_text("Approval requested")
    expect(panel).to_contain_text("Waiting for someone other than you")
    expect(panel.get_by_role("button", name="Approve and close")).to_have_count(0)
    screenshot(page, "approval-requested")

    # Tom sees it waiting for him on the dashboard, opens it and approves.
    tom = browser.new_context().new_page()
    tom.set_default_timeout(15_000)
    sign_in(tom, live_server, other_responder)
    tom.goto(live_server.url + "/")
    waiting = tom.locator(f'.waiting-approval[data-reference="{incident.reference}"]')
    expect(waiting).to_contain_text("asked by Rita Responder")
    screenshot(tom, "approval-dashboard")
    waiting.get_by_role("link", name="Close the incident").click()
    expect(tom.get_by_role("heading", level=1)).to_contain_text(incident.reference)
    expect(tom.locator(".approvals")).to_contain_text("Failure rate flat for an hour")
    tom.get_by_label("Your comment").fill("Dashboards agree; closing.")
    tom.get_by_role("button", name="Approve and close").click()

    expect(tom.locator(".flash-success")).to_contain_text(f"Approved: {incident.reference} is now closed.")
    tom.goto(incident_url)
    expect(tom.get_by_test_id("status")).to_have_text("Closed")
    expect(tom.locator("#approvals")).to_contain_text("Approved by Tom Tech")
    expect(tom.locator("#timeline")).to_contain_text("Tom Tech approved closing the incident")
    screenshot(tom, "approval-closed")
    incident.refresh_from_db()
    assert incident.status == Incident.Status.CLOSED
    approval = incident.approval_requests.get()
    assert (approval.state, approval.requested_by, approval.decided_by) == (
        ApprovalRequest.State.USED,
        responder,
        other_responder,
    )
    # Nothing waits for Tom any more.
    tom.goto(live_server.url + "/")
    expect(tom.locator(".approvals-panel")).to_contain_text("Nothing waits for your approval.")
