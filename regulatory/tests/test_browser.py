"""Report clocks in a real headless Chromium (Debian's package, never a downloaded browser): the
clocks on the incident page, flagging the incident as reportable, a refused then an accepted
submission with its file, the overdue report in red on the list, and the post-mortem's verdicts.
Fails, never skips, when the browser is missing."""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from incidents.services import status_update_post
from incidents.tests.factories import declare
from incidents.tests.test_browser import browser_type_launch_args, screenshot, sign_in  # noqa: F401 (fixture)
from regulatory.models import ReportClock

from .factories import obligation

RED = "rgb(179, 38, 30)"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_responder_flags_the_incident_and_records_the_reports(page: Page, live_server, responder, tmp_path):
    obligation("Initial notification", levels=(1,), due_after=timedelta(hours=4), addressee="The regulator")
    obligation(
        "Immediate notice", levels=(1,), clock_from="declared", due_after=timedelta(minutes=1), addressee="The exchange"
    )
    obligation("Major incident report", levels=(), when_flagged=True, due_after=timedelta(hours=72))
    incident = declare(responder, level=1, title="Client withdrawals delayed", minutes_ago=5)
    status_update_post(incident=incident, actor=responder, audience="regulators", body="Withdrawals delayed 40 min.")
    page.set_default_timeout(15_000)
    sign_in(page, live_server, responder)

    # 1. The incident page: two clocks, one with time left, the other overdue in red.
    page.goto(live_server.url + incident.get_absolute_url())
    panel = page.locator("#regulatory")
    expect(panel.get_by_role("heading", name="Regulatory reports")).to_be_visible()
    initial = ReportClock.objects.get(obligation__name="Initial notification")
    expect(page.locator(f"#report-clock-{initial.pk}")).to_contain_text(re.compile(r"3 h 5\d min left"))
    immediate = ReportClock.objects.get(obligation__name="Immediate notice")
    overdue = page.locator(f"#report-clock-{immediate.pk} .reg-overdue")
    expect(overdue).to_contain_text("Overdue by")
    assert overdue.evaluate("e => getComputedStyle(e).color") == RED

    # 2. Flagged as reportable: the flagged obligation's clock starts.
    panel.get_by_text("Flag as reportable to regulators").click()
    panel.get_by_label("Reportable to regulators", exact=True).check()
    panel.get_by_label("Reason").fill("Client money is delayed")
    panel.get_by_role("button", name="Save").click()
    expect(page.locator(".flash-success")).to_contain_text("Flagged as reportable")
    expect(page.locator("#regulatory")).to_contain_text("Major incident report")
    expect(page.locator("#regulatory")).to_contain_text("Flagged as reportable to regulators by Rita Responder")

    # 3. A submission dated before the incident is refused with the reason, nothing recorded.
    clock = page.locator(f"#report-clock-{initial.pk}")
    clock.get_by_text("Record as submitted").click()
    expect(clock.get_by_label("Text sent")).to_have_value("Withdrawals delayed 40 min.")
    now_local = clock.get_by_label("Submitted at").input_value()  # the form starts at the current minute
    clock.get_by_label("Submitted at").fill("2020-01-01T09:00")
    clock.get_by_label("Regulator's reference").fill("REG-2026-17")
    clock.get_by_role("button", name="Record the submission").click()
    expect(page.locator(".form-errors")).to_contain_text("before the incident was detected")
    initial.refresh_from_db()
    assert initial.submitted_at is None

    # 4. Corrected, with the file sent: recorded on time, the file downloadable.
    report = tmp_path / "initial-notification.pdf"
    report.write_bytes(b"%PDF-1.4 initial notification")
    form = page.locator("form").filter(has=page.get_by_label("Regulator's reference"))
    form.get_by_label("Submitted at").fill(now_local)
    form.get_by_label("File sent").set_input_files(str(report))
    form.get_by_role("button", name="Record the submission").click()
    expect(page.locator(".flash-success")).to_contain_text("recorded as submitted (on time)")
    done = page.locator(f"#report-clock-{initial.pk}")
    expect(done).to_contain_text("Submitted on time")
    expect(done).to_contain_text("Regulator's reference: REG-2026-17")
    with page.expect_download() as download:
        done.get_by_role("link", name="File sent").click()
    assert download.value.suggested_filename == "initial-notification.pdf"

    # 5. The list across incidents: the two open reports, the overdue one first and in red.
    page.get_by_role("link", name="Reports due").click()
    rows = page.locator(".reg-row")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Immediate notice")
    assert rows.first.locator(".reg-overdue").evaluate("e => getComputedStyle(e).color") == RED
    expect(page.locator("main")).not_to_contain_text("Initial notification")
    screenshot(page, "regulatory-list")
