"""The pages: the incident page's panel (each clock, time left or overdue, the flag, the submission
form prefilled from the regulator updates), the submission and flag actions with their refusals,
the list of open reports across incidents, the file download, and the post-mortem's verdicts."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from conftest import make_user
from incidents.services import status_update_post
from incidents.tests.factories import declare
from regulatory import services
from regulatory.models import ReportableFlag, ReportClock

from .factories import obligation

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def clock(responder):
    obligation("Initial notification", levels=(1,), due_after=timedelta(hours=4), addressee="The regulator")
    with time_machine.travel(T0, tick=False):
        return ReportClock.objects.get(incident=declare(responder, level=1))


@pytest.fixture
def rita(client, responder):
    client.force_login(responder)
    return client


def page_of(client, clock, moment):
    with time_machine.travel(moment, tick=False):
        response = client.get(clock.incident.get_absolute_url())
    assert response.status_code == 200
    return response.content.decode()


def test_the_panel_shows_the_time_left_then_overdue_in_red(rita, clock):
    html = page_of(rita, clock, T0 + timedelta(hours=1))
    assert "Initial notification" in html and "The regulator" in html
    assert "3 h" in html and "left" in html and "reg-overdue" not in html
    html = page_of(rita, clock, T0 + timedelta(hours=6))
    assert 'class="pm-overdue reg-overdue">Overdue by 2 h' in html


def test_the_submission_form_starts_from_the_latest_regulator_updates(rita, responder, clock):
    status_update_post(incident=clock.incident, actor=responder, audience="regulators", body="First regulator note")
    status_update_post(incident=clock.incident, actor=responder, audience="customers", body="Customer-only words")
    status_update_post(incident=clock.incident, actor=responder, audience="regulators", body="Second regulator note")
    html = rita.get(clock.incident.get_absolute_url()).content.decode()
    assert "First regulator note\n\nSecond regulator note</textarea>" in html
    assert "Customer-only words</textarea>" not in html


def test_a_viewer_sees_the_clocks_but_no_form_and_may_not_submit(client, viewer, clock):
    client.force_login(viewer)
    html = client.get(clock.incident.get_absolute_url()).content.decode()
    assert "Initial notification" in html and "Record the submission" not in html
    response = client.post(
        reverse("regulatory:clock", args=[clock.pk]),
        {"submitted_at": "2026-03-02T10:00", "regulator_reference": "R", "text": "x"},
    )
    assert response.status_code == 403
    assert client.post(reverse("regulatory:flag", args=[clock.incident.reference]), {}).status_code == 403
    clock.refresh_from_db()
    assert clock.submitted_at is None


def test_someone_without_the_permission_sees_no_panel(client, clock):
    nobody = make_user("nina")
    nobody.user_permissions.add(*Permission.objects.filter(codename="view_incident"))
    client.force_login(nobody)
    response = client.get(clock.incident.get_absolute_url())
    assert response.status_code == 200
    assert 'id="regulatory"' not in response.content.decode()
    assert client.get(reverse("regulatory:list")).status_code == 403


def test_recording_a_submission_with_a_file(rita, responder, clock):
    upload = SimpleUploadedFile("notification.pdf", b"%PDF-1.4 body", content_type="application/pdf")
    with time_machine.travel(T0 + timedelta(hours=3), tick=False):
        response = rita.post(
            reverse("regulatory:clock", args=[clock.pk]),
            {"submitted_at": "2026-03-02T11:30", "regulator_reference": "REG-42", "text": "", "file": upload},
        )
    assert response.status_code == 302
    assert response["Location"] == clock.get_absolute_url()
    clock.refresh_from_db()
    assert (clock.submitted_by, clock.regulator_reference, clock.met_on_time) == (responder, "REG-42", True)
    download = rita.get(reverse("regulatory:file", args=[clock.pk]))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"%PDF-1.4 body"
    assert "attachment" in download["Content-Disposition"]
    html = rita.get(reverse("regulatory:clock", args=[clock.pk])).content.decode()
    assert "Submitted on time" in html and "REG-42" in html


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"submitted_at": "", "regulator_reference": "R", "text": "x"}, "This field is required"),
        ({"submitted_at": "2026-02-30T10:00", "regulator_reference": "R", "text": "x"}, "Enter a valid date/time"),
        ({"submitted_at": "1999-12-31T10:00", "regulator_reference": "R", "text": "x"}, "from this century"),
        ({"submitted_at": "2026-03-02T11:00", "regulator_reference": "", "text": "x"}, "This field is required"),
        ({"submitted_at": "2026-03-02T11:00", "regulator_reference": "R", "text": ""}, "text of the report or"),
        ({"submitted_at": "2026-03-02T11:00", "regulator_reference": "R", "text": "x" * 50_001}, "at most 50000"),
        ({"submitted_at": "2026-03-03T11:00", "regulator_reference": "R", "text": "x"}, "in the future"),
        ({"submitted_at": "2026-03-01T11:00", "regulator_reference": "R", "text": "x"}, "before the incident was"),
    ],
)
def test_a_refused_submission_shows_the_reason_and_keeps_what_was_typed(rita, clock, data, message):
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        response = rita.post(reverse("regulatory:clock", args=[clock.pk]), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    clock.refresh_from_db()
    assert clock.submitted_at is None
    assert clock.history.count() == 1


def test_a_file_too_large_is_refused(rita, clock, settings):
    settings.REGULATORY_MAX_FILE_SIZE = 100
    upload = SimpleUploadedFile("big.pdf", b"x" * 101)
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        response = rita.post(
            reverse("regulatory:clock", args=[clock.pk]),
            {"submitted_at": "2026-03-02T10:00", "regulator_reference": "R", "file": upload},
        )
    assert response.status_code == 400
    assert "The file is at most 100 bytes; this one has 101." in response.content.decode()
    assert not (settings.MEDIA_ROOT / "regulatory").exists()


def test_flagging_starts_the_flagged_obligations(rita, responder):
    obligation("Major incident report", levels=(), when_flagged=True)
    incident = declare(responder, level=3)
    url = reverse("regulatory:flag", args=[incident.reference])
    refused = rita.post(url, {"reportable": "yes", "reason": ""})
    assert refused.status_code == 400 and "This field is required" in refused.content.decode()
    assert not ReportableFlag.objects.exists()
    response = rita.post(url, {"reportable": "yes", "reason": "Client money involved"})
    assert response.status_code == 302
    assert ReportClock.objects.filter(incident=incident).count() == 1
    again = rita.post(url, {"reportable": "yes", "reason": "Again"})
    assert again.status_code == 400 and "already flagged" in again.content.decode()


def test_the_list_shows_open_reports_soonest_first(rita, responder):
    obligation("Initial notification", levels=(1,), due_after=timedelta(hours=4), clock_from="declared")
    with time_machine.travel(T0, tick=False):
        incidents = [declare(responder, level=1, title=f"Incident {i}", minutes_ago=i) for i in range(3)]
    done = ReportClock.objects.get(incident=incidents[2])
    services.report_submit(clock=done, actor=responder, submitted_at=T0, regulator_reference="R", text="x")
    with time_machine.travel(T0 + timedelta(hours=5), tick=False):
        html = rita.get(reverse("regulatory:list")).content.decode()
        overdue = rita.get(reverse("regulatory:list") + "?overdue=1").content.decode()
    assert incidents[0].reference in html and incidents[1].reference in html
    assert incidents[2].reference not in html
    assert html.index(incidents[1].reference) < html.index(incidents[0].reference)  # soonest deadline first
    assert incidents[0].reference in overdue
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        assert "No report is overdue." in rita.get(reverse("regulatory:list") + "?overdue=1").content.decode()


def test_the_list_pages_with_cursors(rita, responder):
    obligation("Initial notification", levels=(1,))
    for i in range(3):
        declare(responder, level=1, title=f"Incident {i}")
    from regulatory import selectors

    first = selectors.open_clocks_page({}, now=T0, per_page=2)
    assert len(first) == 2 and first.has_next
    second = selectors.open_clocks_page({"after": first.next_cursor}, now=T0, per_page=2)
    assert len(second) == 1 and not second.has_next
    assert {c.pk for c in first} | {c.pk for c in second} == set(ReportClock.objects.values_list("pk", flat=True))
    assert rita.get(reverse("regulatory:list") + "?after=garbage").status_code == 200


def test_the_post_mortem_shows_whether_each_report_was_met_on_time(rita, responder, four_eyes_off):
    obligation("On time", levels=(1,), due_after=timedelta(hours=4))
    obligation("Late", levels=(1,), due_after=timedelta(hours=1))
    obligation("Missing", levels=(1,), due_after=timedelta(hours=2))
    with time_machine.travel(T0, tick=False):
        incident = declare(responder, level=1)
    at = T0 + timedelta(hours=3)
    with time_machine.travel(at, tick=False):
        for name in ("On time", "Late"):
            clock = ReportClock.objects.get(incident=incident, obligation__name=name)
            services.report_submit(clock=clock, actor=responder, submitted_at=at, regulator_reference="R", text="x")
    assert rita.post(reverse("postmortems:open", args=[incident.reference])).status_code == 302
    html = rita.get(reverse("postmortems:detail", args=[incident.reference])).content.decode()
    section = html[html.index('id="regulatory-reports"') :]
    assert "<strong>On time</strong> to Financial regulator" in section
    assert 'class="reg-met">met on time' in section
    assert 'class="pm-overdue reg-late">late' in section
    assert 'class="pm-overdue reg-missing">not submitted' in section
