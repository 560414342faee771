"""The main responder flow in a real headless Chromium (Debian's package, never
a downloaded browser). Fails, never skips, when the browser is missing."""

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"Chromium is required for the browser tests and is not at {CHROMIUM} (bin/services installs it).")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "headless": True, "args": CHROMIUM_ARGS}


def screenshot(page: Page, name: str) -> None:
    """Screenshots for a person to look at, only when asked for (PORTAL_SCREENSHOTS=folder)."""
    folder = os.environ.get("PORTAL_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_responder_works_an_incident_from_declaration_to_history(page: Page, live_server, responder, other_responder):
    page.set_default_timeout(15_000)

    # 1. Sign in: the portal sends an anonymous visitor to the login page first.
    page.goto(live_server.url + "/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.get_by_label("Username").fill("rita")
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_test_id("signed-in-user")).to_have_text("Rita Responder")

    # 2. Declare a Sev1 trade-execution failure.
    page.get_by_role("link", name="Declare", exact=True).click()
    expect(page.get_by_role("heading", name="Declare an incident")).to_be_visible()
    expect(page.get_by_text("Complete system outage")).to_be_visible()  # the criteria beside the choice
    page.get_by_label("Title").fill("Trades reverting on mainnet")
    page.locator(".severity-option", has_text="Sev1").click()
    page.get_by_label("Type").select_option(label="Trade execution failures")
    page.get_by_label("Detected by").select_option(label="Automated alert")
    page.get_by_label("Trade executor").check()
    page.get_by_role("textbox", name="Impact").fill("Every trader's orders fail")
    page.get_by_role("button", name="Declare incident").click()
    expect(page.locator(".flash-success")).to_contain_text("declared")
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text("Trades reverting on mainnet")
    reference = heading.locator(".ref").inner_text()
    assert re.fullmatch(r"INC-\d{4}-\d{4}", reference)
    expect(page.get_by_test_id("status")).to_have_text("Detected")
    expect(page.get_by_test_id("severity")).to_contain_text("Sev1")
    expect(page.locator("#checklist")).to_contain_text("Check executor service logs")
    expect(page.locator(".facts")).to_contain_text("Rita Responder")  # initial responder

    # 3. Acknowledge it.
    page.get_by_role("button", name="Acknowledge", exact=True).click()
    expect(page.get_by_test_id("status")).to_have_text("Initial response")
    expect(page.get_by_role("button", name="Acknowledge", exact=True)).to_have_count(0)

    # 4. Assign an Incident Commander and a Technical Lead.
    page.get_by_label("Role", exact=True).select_option(label="Incident Commander")
    page.get_by_label("Person", exact=True).select_option(label="Rita Responder")
    page.get_by_role("button", name="Assign", exact=True).click()
    page.get_by_label("Role", exact=True).select_option(label="Technical Lead")
    page.get_by_label("Person", exact=True).select_option(label="Tom Tech")
    page.get_by_role("button", name="Assign", exact=True).click()
    expect(page.locator('[data-role="incident-commander"] .holder')).to_have_text("Rita Responder")
    expect(page.locator('[data-role="technical-lead"] .holder')).to_have_text("Tom Tech")
    expect(page.locator('[data-role="technical-lead"]')).to_contain_text("Root cause analysis")
    incident_url = page.url
    page.get_by_role("link", name="Dashboard").click()
    expect(page.locator(".my-role")).to_contain_text(f"Incident Commander on {reference}")
    expect(page.locator(f'.incident-row[data-reference="{reference}"]')).to_contain_text("Initial response")
    screenshot(page, "dashboard")
    page.goto(incident_url)

    # 5. Tick a runbook step.
    page.get_by_role("button", name="Tick: Check executor service logs").click()
    step = page.locator("#checklist li", has_text="Check executor service logs")
    expect(step).to_have_class(re.compile("done"))
    expect(step.locator(".done-by")).to_contain_text("Rita Responder")

    # 6. Post an internal and a customer update.
    updates = page.locator("#updates")
    updates.get_by_label("Audience").select_option("internal")
    updates.get_by_label("Update").fill("Executor rolled back; watching failure rate.")
    updates.get_by_role("button", name="Post update").click()
    updates.get_by_label("Audience").select_option("customers")
    updates.get_by_label("Update").fill("Some trades are failing; we are on it.")
    updates.get_by_role("button", name="Post update").click()
    expect(updates.locator(".update")).to_have_count(2)
    expect(updates.locator(".audience-customers")).to_contain_text("Some trades are failing")
    expect(updates.locator(".audience-internal")).to_contain_text("Executor rolled back")
    expect(page.get_by_test_id("next-update")).to_contain_text("every 30 min")
    screenshot(page, "incident")

    # 7. Add a backdated note.
    earlier = timezone.localtime(timezone.now() - timedelta(minutes=40)).strftime("%Y-%m-%dT%H:%M")
    note_form = page.locator(".note-form")
    note_form.get_by_label("Note").fill("First failed trade seen in the executor logs.")
    note_form.get_by_label("Happened at").fill(earlier)
    note_form.get_by_role("button", name="Add note").click()
    note = page.locator(".timeline .entry-note", has_text="First failed trade")
    expect(note).to_contain_text("backdated")
    expect(page.locator(".timeline .entry").first).to_contain_text("First failed trade")  # sorted by when it happened

    # 8. Resolve it, with how the resolution was verified.
    page.get_by_label("How was the resolution verified?").fill("Failure rate back to baseline for 20 minutes.")
    page.get_by_role("button", name="Resolve", exact=True).click()
    expect(page.get_by_test_id("status")).to_have_text("Post-incident")
    expect(page.locator(".facts")).to_contain_text("Failure rate back to baseline")

    # 9. Read its history.
    page.get_by_role("link", name="History", exact=True).click()
    expect(page.get_by_role("heading", name=f"History of {reference}")).to_be_visible()
    status_change = page.locator(".history-entry", has=page.locator("th", has_text="Status")).first
    expect(status_change).to_contain_text("Post-incident")
    expect(status_change).to_contain_text("Rita Responder")
    expect(status_change).to_contain_text("Incident: resolve")
    expect(page.locator(".history-entry", has_text="Technical Lead: Tom Tech")).to_have_count(1)
    expect(page.locator(".history-entry", has_text="Checklist item ticked")).to_contain_text("Done at")
    screenshot(page, "history")

    # The same pages on a phone: one column, nothing wider than the screen.
    page.set_viewport_size({"width": 390, "height": 844})
    for name, path in [("phone-dashboard", "/"), ("phone-list", "/incidents/"), ("phone-incident", incident_url)]:
        page.goto(path if path.startswith("http") else live_server.url + path)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), name
        screenshot(page, name)


# --- on a phone ------------------------------------------------------------------------------------

PHONE = {"width": 390, "height": 844}
# What a phone shows in its first two screens or so: the responder's first-minute actions must be there.
FIRST_SCREENS_PX = 1200
# WCAG 2.2's minimum target size (2.5.8), in CSS pixels.
MIN_TARGET_PX = 24


def sign_in(page: Page, live_server, user) -> None:
    """Sign `user` in by handing the browser a session made by Django's test client (the login form
    has its own test above)."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])


def fits_the_screen(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_on_a_phone_the_first_minute_actions_come_right_after_the_incident_header(
    page: Page, live_server, responder, incident
):
    page.set_default_timeout(15_000)
    page.set_viewport_size(PHONE)
    sign_in(page, live_server, responder)

    page.goto(live_server.url + incident.get_absolute_url())
    screenshot(page, "phone-incident-top")

    assert fits_the_screen(page)
    first_minute = {
        "acknowledge": page.get_by_role("button", name="Acknowledge", exact=True),
        "role form": page.locator("form.role-form"),
        "status update form": page.locator("#updates form.update-form"),
    }
    for name, locator in first_minute.items():
        box = locator.bounding_box()
        assert box is not None, name
        assert box["y"] < FIRST_SCREENS_PX, (name, box)
    # ...and above the long parts of the page.
    checklist_top = page.locator("#checklist").bounding_box()["y"]
    assert all(loc.bounding_box()["y"] < checklist_top for loc in first_minute.values())


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_on_a_phone_checklist_ticks_and_stand_down_are_big_enough_to_tap(
    page: Page, live_server, responder, other_responder, incident
):
    from incidents import services
    from incidents.models import Role

    for slug, user in [("incident-commander", responder), ("technical-lead", other_responder)]:
        services.role_assign(incident=incident, role=Role.objects.get(slug=slug), user=user, actor=responder)
    page.set_default_timeout(15_000)
    page.set_viewport_size(PHONE)
    sign_in(page, live_server, responder)

    page.goto(live_server.url + incident.get_absolute_url())

    targets = page.locator("#checklist button.tick").all() + page.get_by_role("button", name="Stand down").all()
    assert len(targets) >= 12
    for target in targets:
        box = target.bounding_box()
        label = target.get_attribute("aria-label") or target.inner_text()
        assert box["width"] >= MIN_TARGET_PX and box["height"] >= MIN_TARGET_PX, (label, box)
