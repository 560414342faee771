"""Setting up and using the second factor in a real headless Chromium (Debian's package): an admin
signs in, scans nothing but types the shown secret's code, saves the recovery codes, reaches the
admin; signs in again and verifies, after a wrong code."""

import os
import re
from base64 import b32decode

import pytest
from django_otp.oath import TOTP
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


def code(key: bytes, steps_ahead: int = 0) -> str:
    totp = TOTP(key)
    totp.time = totp.time + 30 * steps_ahead
    return f"{totp.token():06d}"


def sign_in(page: Page, url: str):
    page.goto(url)
    expect(page).to_have_url(re.compile(r"/login/"))
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Sign in").click()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_admin_sets_up_a_second_factor_and_reaches_the_admin(page: Page, live_server, portal_admin):
    page.set_default_timeout(15_000)

    # 1. Password first; the admin sends her to set up an app.
    sign_in(page, live_server.url + "/accounts/login/?next=/admin/")
    expect(page.get_by_role("heading", name="Set up a second factor")).to_be_visible()
    expect(page.get_by_test_id("otp-qr").locator("svg")).to_be_visible()
    key = b32decode(page.get_by_test_id("otp-secret").inner_text().replace(" ", ""))

    # 2. A wrong code is refused; the right one sets it up and shows ten recovery codes once.
    page.get_by_label("Code from the app").fill("000000")
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator(".errorlist")).to_contain_text("not the code your app shows now")
    page.get_by_label("Code from the app").fill(code(key))
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    expect(page.get_by_test_id("recovery-codes").locator("li")).to_have_count(10)

    # 3. On to the admin.
    page.get_by_role("link", name="I have saved them — continue").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()

    # 4. Next time: password, then a code; a wrong one is refused with a reason.
    page.goto(live_server.url + "/")
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, live_server.url + "/accounts/login/?next=/admin/")
    expect(page.get_by_role("heading", name="Verify your second factor")).to_be_visible()
    page.get_by_label("Code").fill("999999")
    page.get_by_role("button", name="Verify").click()
    expect(page.locator(".errorlist")).to_contain_text("That code is not right")
    page.wait_for_timeout(1100)  # the wait a wrong code earns (django-otp's throttling), not a timing assert
    page.get_by_label("Code").fill(code(key, steps_ahead=1))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
