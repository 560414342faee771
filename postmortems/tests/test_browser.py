"""The post-mortem page in a real headless Chromium, on a phone."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from incidents.tests.test_browser import (  # noqa: F401 (browser_type_launch_args: the system Chromium)
    PHONE,
    browser_type_launch_args,
    fits_the_screen,
    screenshot,
    sign_in,
)
from people.services import profile_update
from postmortems import services
from postmortems.models import Reminder
from postmortems.tests.factories import action_item

LONG_URL = (
    "https://grafana.example.com/d/executor-failures/trade-executor?orgId=1&from=now-24h&to=now&var-chain=mainnet"
)


@pytest.fixture
def busy_postmortem(postmortem, responder, commander):
    """A post-mortem as it looks a week on: deliverables with links and logs, action items, reminders sent."""
    services.postmortem_update(
        postmortem=postmortem,
        actor=responder,
        primary_cause=f"The gas oracle went stale; see {LONG_URL}.\n\n"
        "```\nERROR executor.submit: tx 0x5f1c9a3e7b2d4f60a8c1e9b7d3f2a6c4e8b0d1f3a5c7e9b2d4f6a8c0 reverted\n```",
        contributing_factors="| Signal | Threshold | Seen at | Paged at | Acknowledged at |\n|---|---|---|---|---|\n"
        "| executor_revert_ratio | 0.05 | 14:02 | 14:03 | 14:09 |",
    )
    for i in range(3):
        action_item(
            postmortem,
            commander,
            title=f"Alert on RPC gateway error rate per endpoint and chain ({i})",
            description=f"Dashboard: {LONG_URL}",
            success_metric="No unnoticed reverts for 30 days",
        )
    # Test data: reminders as the deadline sweep leaves them once it has sent them.
    Reminder.objects.filter(milestone__postmortem=postmortem).update(
        status=Reminder.Status.QUEUED,
        handled_at=timezone.now(),
        recipients=["cora.commander@example.com", "tom.tech@example.com", "incident-commanders@example.com"],
    )
    return postmortem


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_postmortem_page_fits_a_phone(page: Page, live_server, responder, busy_postmortem):
    profile_update(user=responder, actor=responder, time_zone="Europe/Berlin")
    page.set_default_timeout(15_000)
    page.set_viewport_size(PHONE)
    sign_in(page, live_server, responder)

    page.goto(live_server.url + busy_postmortem.get_absolute_url())
    page.get_by_text("Add an action item").click()  # its form open too
    screenshot(page, "phone-postmortem")

    assert page.locator("#action-items tbody tr").count() == 3
    # In the reader's zone, saying so, and the date-time inputs say which zone they are read in.
    expect(page.locator("#milestone-analysis")).to_contain_text(re.compile(r"Deadline \w{3} .* CES?T"))
    expect(page.locator("#id_meeting_meeting_held_at_helptext")).to_have_text("In Europe/Berlin time.")
    expect(page.locator("#id_action_due_at_helptext")).to_have_text("In Europe/Berlin time.")
    assert fits_the_screen(page), page.evaluate("document.documentElement.scrollWidth")
    # Every table is there to read: a wide one scrolls inside its own box, not the page.
    for table in page.locator("table").all():
        box = table.locator("xpath=..").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box

    for path in ["/postmortems/", "/postmortems/actions/"]:
        page.goto(live_server.url + path)
        assert fits_the_screen(page), (path, page.evaluate("document.documentElement.scrollWidth"))


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_preventive_measure_is_marked_done_verified_by_someone_else_and_the_milestone_completes(
    page: Page, live_server, postmortem, other_responder, commander
):
    """Tom marks his measure done with a link as evidence; Cora, who may verify it, does; then the
    preventive-measures milestone completes."""
    item = action_item(postmortem, other_responder, title="Alert on oracle age", success_metric="Paged in 5 min")
    page.set_default_timeout(15_000)

    sign_in(page, live_server, other_responder)
    page.goto(live_server.url + postmortem.get_absolute_url())
    row = page.locator(f"#action-item-{item.pk}")
    expect(row).to_contain_text("Preventive measure")
    expect(row).to_contain_text("Paged in 5 min")
    row.get_by_role("link", name="Edit or change status").click()
    page.get_by_label("Status").select_option("done")
    page.get_by_role("button", name="Change status").click()  # no evidence: refused, nothing lost
    expect(page.locator("#status")).to_contain_text("Marking a preventive measure done needs evidence")
    page.get_by_label("Evidence").fill("Drill paged in 2 minutes: https://grafana.example.com/d/oracle")
    page.get_by_label("Status").select_option("done")
    page.get_by_role("button", name="Change status").click()
    expect(page).to_have_url(re.compile(re.escape(postmortem.get_absolute_url()) + f"#action-item-{item.pk}$"))
    row = page.locator(f"#action-item-{item.pk}")
    expect(row).to_contain_text("Done, awaiting verification")
    expect(row.get_by_role("link", name="https://grafana.example.com/d/oracle")).to_have_attribute(
        "href", "https://grafana.example.com/d/oracle"
    )
    expect(row.get_by_role("button", name="Verify")).to_have_count(0)  # Tom owns it
    screenshot(page, "preventive-awaiting")

    page.context.clear_cookies()
    sign_in(page, live_server, commander)
    page.goto(live_server.url + postmortem.get_absolute_url())
    row = page.locator(f"#action-item-{item.pk}")
    screenshot(page, "preventive-verifier")
    row.get_by_label("Verification note").fill("Watched the drill: paged in 2 minutes.")
    row.get_by_role("button", name="Verify").click()
    row = page.locator(f"#action-item-{item.pk}")
    expect(row).to_contain_text("Verified by Cora Commander")
    expect(row).to_contain_text("Watched the drill: paged in 2 minutes.")

    milestone = page.locator("#milestone-preventive")
    milestone.get_by_label("Notes").fill("All measures verified.")
    milestone.get_by_role("button", name="Mark preventive measures implemented complete").click()
    expect(page.locator("#milestone-preventive")).to_contain_text("Completed by Cora Commander")
    screenshot(page, "preventive-verified")
    postmortem.refresh_from_db()
    assert postmortem.milestones.get(kind="preventive").completed_by == commander
