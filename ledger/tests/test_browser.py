"""The ledger in a real headless Chromium (Debian's package, never a downloaded browser): one
responder enters an estimate and asks for its confirmation, a second confirms it, and the totals
show on the incident page and the dashboard. Fails, never skips, when the browser is missing."""

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from incidents.tests.test_browser import browser_type_launch_args, screenshot, sign_in  # noqa: F401 (fixture)
from ledger.models import ImpactEntry


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_estimate_is_confirmed_by_a_second_person(
    page: Page, browser: Browser, live_server, responder, other_responder, incident
):
    page.set_default_timeout(15_000)
    sign_in(page, live_server, responder)

    # 1. Rita enters an estimate on the incident page.
    page.goto(live_server.url + incident.get_absolute_url())
    panel = page.locator("#impact")
    expect(panel.get_by_role("heading", name="Financial impact")).to_be_visible()
    expect(panel).to_contain_text("No financial impact entered.")
    panel.get_by_label("Affected").select_option(label="Orders")
    panel.get_by_label("How many").fill("1,200")
    panel.get_by_label("Amount", exact=True).fill("12,500.00")
    panel.get_by_label("Currency").fill("usd")
    panel.get_by_label("An estimate").check()
    panel.get_by_label("Note").fill("Failed orders × average size, from the executor logs")
    panel.get_by_role("button", name="Add entry").click()
    expect(page.locator(".flash-success")).to_contain_text("USD 12,500.00")
    entry = ImpactEntry.objects.get()
    row = page.locator(f"#entry-{entry.pk}")
    expect(row).to_contain_text("Estimated")
    expect(row).to_contain_text("× 1,200")
    usd = page.locator('#impact .impact-totals tr[data-currency="USD"]')
    expect(usd.locator(".total")).to_have_text("≈ USD 12,500.00")
    expect(usd.locator(".confirmed")).to_have_text("USD 0.00")

    # A mistyped second entry: refused, with the reason, and what was typed kept.
    panel = page.locator("#impact")
    panel.get_by_text("Add an impact entry").click()  # folded away once the incident has entries
    panel.get_by_label("Affected").select_option(label="Fees")
    panel.get_by_label("Amount", exact=True).fill("300,50")
    panel.get_by_label("Currency").fill("EUR")
    panel.get_by_role("button", name="Add entry").click()
    expect(page.get_by_role("heading", name=re.compile("Financial impact:"))).to_be_visible()
    form = page.locator("#impact-add")
    expect(form).to_contain_text("never the decimal point")
    expect(form.get_by_label("Amount", exact=True)).to_have_value("300,50")
    expect(form.get_by_label("Currency")).to_have_value("EUR")
    assert ImpactEntry.objects.count() == 1

    # 2. The dashboard shows it, compact, on the incident's row.
    page.goto(live_server.url + "/")
    badge = page.locator(f'.incident-row[data-reference="{incident.reference}"] .badge-impact')
    expect(badge).to_have_text("≈ USD 12,500.00 est.")

    # 3. Rita asks for a second person's confirmation; she cannot give it herself.
    page.goto(live_server.url + incident.get_absolute_url())
    page.get_by_role("button", name=f"Request confirmation of entry #{entry.pk}").click()
    row = page.locator(f"#entry-{entry.pk}")
    expect(row).to_contain_text("Confirmation requested by Rita Responder")
    expect(row).to_contain_text("Awaiting a second person's confirmation")
    expect(page.get_by_role("button", name=f"Confirm entry #{entry.pk}")).to_have_count(0)

    # 4. Tom, in a browser of his own, finds it on his dashboard and confirms it.
    context = browser.new_context()
    try:
        tom = context.new_page()
        tom.set_default_timeout(15_000)
        sign_in(tom, live_server, other_responder)
        tom.goto(live_server.url + "/")
        awaiting = tom.locator(".impact-awaiting-panel")
        expect(awaiting).to_contain_text("Impact entries awaiting your confirmation")
        awaiting.get_by_role("link", name=f"{incident.reference} #{entry.pk}").click()
        tom.get_by_role("button", name=f"Confirm entry #{entry.pk}").click()
        expect(tom.locator(".flash-success")).to_contain_text(f"Entry #{entry.pk} confirmed")
        expect(tom.locator(f"#entry-{entry.pk}")).to_contain_text("Confirmed by Tom Tech")
        screenshot(tom, "impact-ledger")
        tom.goto(live_server.url + "/")
        expect(tom.locator(".impact-awaiting-panel")).to_contain_text("Nothing awaits your confirmation.")
    finally:
        context.close()

    # 5. The confirmed figure on the incident page and the dashboard.
    page.goto(live_server.url + incident.get_absolute_url())
    usd = page.locator('#impact .impact-totals tr[data-currency="USD"]')
    expect(usd.locator(".confirmed")).to_have_text("USD 12,500.00")
    expect(usd.locator(".total")).to_have_text("USD 12,500.00")
    expect(page.locator("#timeline")).to_contain_text(f"Tom Tech confirmed impact entry #{entry.pk}")
    screenshot(page, "impact-incident")
    page.goto(live_server.url + "/")
    expect(badge).to_have_text("USD 12,500.00 confirmed")
