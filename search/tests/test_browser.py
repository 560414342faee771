"""Search in a real headless Chromium: the header's box, the highlighted result, and the way to it."""

import re

import pytest
from playwright.sync_api import Page, expect

from incidents import services
from incidents.tests.factories import declare
from incidents.tests.test_browser import browser_type_launch_args, screenshot, sign_in  # noqa: F401 (system Chromium)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_responder_searches_from_the_header_and_opens_the_result(page: Page, live_server, responder):
    incident = declare(responder, title="Executor reverting on mainnet")
    services.timeline_add_note(
        incident=incident, actor=responder, text="Nonce gap after the <b>failover</b>; resubmitted the stuck trades."
    )
    declare(responder, title="Signals late", description="Nothing about nonces here.")
    page.set_default_timeout(15_000)
    sign_in(page, live_server, responder)
    page.goto(live_server.url + "/")

    box = page.get_by_role("searchbox", name="Search incidents and post-mortems")
    box.fill("failover")
    box.press("Enter")

    expect(page).to_have_url(re.compile(r"/search/\?q=failover$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Search")
    timeline = page.locator("#results-timeline")
    hit = timeline.locator(".hit")
    expect(hit).to_have_count(1)
    expect(hit.locator("mark")).to_have_text("failover")
    expect(hit.locator(".passage")).to_contain_text("after the <b>failover</b>; resubmitted")  # shown, not run
    expect(page.locator("#results-incident")).to_contain_text("No incidents match.")
    screenshot(page, "search")

    hit.get_by_role("link").click()

    expect(page).to_have_url(re.compile(re.escape(incident.get_absolute_url()) + "#timeline$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Executor reverting on mainnet")
    expect(page.locator("#timeline")).to_contain_text("resubmitted the stuck trades")
