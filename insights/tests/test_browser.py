"""The Insights page in a real headless Chromium, under the portal's own Content-Security-Policy:
the charts are drawn (styled by the stylesheet, not by pygal's inline <style>, which the
CSP refuses), the tables are there, the period and a filter change the figures, and the
console stays clean."""

import re

import pytest
from playwright.sync_api import Page, expect

from incidents import services
from incidents.tests.factories import declare
from incidents.tests.test_browser import (  # noqa: F401 (browser_type_launch_args: the system Chromium)
    PHONE,
    browser_type_launch_args,
    fits_the_screen,
    screenshot,
    sign_in,
)

DAY = 24 * 60

# Records what the CSP refuses, before any of the page's own code runs.
WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(event.violatedDirective + " " + (event.blockedURI || "inline"));
});
"""


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_insights_page_draws_its_charts_under_the_csp_and_follows_the_period_and_filters(
    page: Page, live_server, responder
):
    recent = declare(responder, title="Executor failing", level=1, minutes_ago=3 * DAY)
    services.incident_transition(incident=recent, action="acknowledge", actor=responder)
    services.status_update_post(incident=recent, actor=responder, audience="internal", body="Rolling back.")
    declare(responder, title="Risk checks slow", level=3, type_slug="risk-control-block", minutes_ago=2 * DAY)
    declare(responder, title="Signals delayed", level=2, type_slug="signal-processing-delay", minutes_ago=40 * DAY)

    problems = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.add_init_script(WATCH_CSP)
    page.set_default_timeout(15_000)
    sign_in(page, live_server, responder)

    page.goto(live_server.url + "/")
    page.get_by_role("link", name="Insights").click()
    expect(page.get_by_role("heading", name="Insights", level=1)).to_be_visible()
    expect(page.get_by_test_id("incident-count")).to_have_text("2")

    chart = page.locator("figure[data-testid=chart-severity] svg")
    expect(chart).to_be_visible()
    assert chart.bounding_box()["width"] > 300
    expect(chart).to_have_attribute("role", "img")
    expect(page.get_by_test_id("table-severity")).to_be_visible()
    expect(page.get_by_test_id("table-severity").locator("tbody tr").first).to_be_visible()
    # The stylesheet paints the bars: Sev1 in the portal's Sev1 red, not pygal's palette.
    sev1_bar = chart.locator(".series.serie-0 rect").last
    assert page.evaluate("e => getComputedStyle(e).fill", sev1_bar.element_handle()) == "rgb(179, 38, 30)"
    for name in ("trend", "rates"):
        expect(page.locator(f"figure[data-testid=chart-{name}] svg")).to_be_visible()
        expect(page.get_by_test_id(f"table-{name}")).to_be_visible()
    screenshot(page, "insights")

    # A longer period takes in the older incident.
    page.get_by_label("Period", exact=True).select_option(label="Last 90 days")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"period=90"))
    expect(page.get_by_test_id("period")).to_contain_text("Last 90 days")
    expect(page.get_by_test_id("incident-count")).to_have_text("3")

    # A severity narrows every figure to it.
    page.get_by_label("Severity", exact=True).select_option(label="Sev1 – Critical")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"severity="))
    expect(page.get_by_label("Period", exact=True)).to_have_value("90")  # the form keeps what was chosen
    expect(page.get_by_test_id("incident-count")).to_have_text("1")
    expect(page.get_by_test_id("table-rates").locator("tr[data-target='1'] td").first).to_have_text("0")

    assert problems == []
    assert page.evaluate("window.__cspViolations") == []

    # Bad dates: the form says what is wrong, the page does not break (a 400, which the console notes).
    page.get_by_label("Period", exact=True).select_option(label="Between two dates")
    page.get_by_label("From", exact=True).fill("2026-03-01")
    page.get_by_label("To", exact=True).fill("2026-02-01")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator(".errorlist")).to_contain_text("The end date is before the start date.")
    expect(page.get_by_test_id("no-figures")).to_be_visible()
    assert problems == ["Failed to load resource: the server responded with a status of 400 (Bad Request)"]
    problems.clear()

    # On a phone the page fits the screen; charts and tables stack.
    page.set_viewport_size(PHONE)
    page.goto(live_server.url + "/insights/?period=365")
    expect(page.locator("figure[data-testid=chart-trend] svg")).to_be_visible()
    assert fits_the_screen(page), page.evaluate("document.documentElement.scrollWidth")
    screenshot(page, "phone-insights")

    assert problems == []
    assert page.evaluate("window.__cspViolations") == []
    # The watch itself works: an inline style, as pygal would have written, is refused and recorded.
    page.evaluate("document.body.insertAdjacentHTML('beforeend', '<svg><style>svg{fill:red}</style></svg>')")
    page.wait_for_function("window.__cspViolations.length > 0")
    assert any("style-src" in v for v in page.evaluate("window.__cspViolations"))
