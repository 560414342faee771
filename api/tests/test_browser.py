"""The token page in a real headless Chromium: create a token, see it once, use it, revoke it."""

import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from incidents.tests.test_browser import browser_type_launch_args, fits_the_screen, screenshot, sign_in  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_person_creates_uses_and_revokes_a_token(page: Page, live_server, responder):
    problems = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    sign_in(page, live_server, responder)

    page.goto(live_server.url + "/account/")
    page.get_by_role("link", name="Manage your API tokens").click()
    page.get_by_label("Name").fill("pager bot")
    page.get_by_label("Read and write").check()
    page.get_by_label("Expires in").select_option("30")
    page.get_by_role("button", name="Create token").click()

    secret = page.get_by_test_id("token-secret")
    expect(secret).to_be_visible()
    token = secret.input_value()
    assert re.fullmatch(r"ipt_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", token)
    screenshot(page, "api-token-created")
    answer = httpx.get(f"{live_server.url}/api/v1/", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200 and answer.json()["token"]["name"] == "pager bot"

    page.goto(live_server.url + "/account/tokens/")
    expect(page.get_by_test_id("token-secret")).to_have_count(0)
    assert token not in page.content()
    row = page.get_by_test_id("token-row").filter(has_text="pager bot")
    expect(row).to_contain_text("Active")
    row.get_by_role("button", name="Revoke pager bot").click()

    expect(page.get_by_test_id("token-row").filter(has_text="pager bot")).to_contain_text("Revoked")
    assert httpx.get(f"{live_server.url}/api/v1/", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    page.set_viewport_size({"width": 375, "height": 800})
    assert fits_the_screen(page)
    assert problems == []  # nothing the content security policy refused, no script errors
