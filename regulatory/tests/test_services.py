"""Report clocks start when an obligation comes to apply, count from the right moment, arm their
reminder rows, and a submission is recorded once, with its history and actor; a refusal changes
nothing."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from incidents import services as incidents
from incidents.models import Severity
from incidents.tests.factories import declare
from regulatory import services
from regulatory.models import ReportableFlag, ReportClock, ReportObligation

from .factories import obligation

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
C = ReportObligation.ClockFrom


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def schedule(clock):
    return {r.kind: (r.due_at, r.status) for r in clock.reminders.all()}  # postmortems' rows


def test_a_sev1_declaration_starts_the_clock_and_arms_one_reminder_of_each_kind(responder):
    initial = obligation(levels=(1,), due_after=timedelta(hours=4))
    with time_machine.travel(T0, tick=False):
        incident = declare(responder, level=1)
    clock = ReportClock.objects.get(incident=incident)
    assert clock.obligation == initial
    assert (clock.started_at, clock.due_at) == (T0, T0 + timedelta(hours=4))
    assert schedule(clock) == {
        "before": (T0 + timedelta(hours=3), "pending"),
        "overdue": (T0 + timedelta(hours=4), "pending"),
        "escalation": (T0 + timedelta(hours=5), "pending"),
    }
    record = clock.history.get()
    assert record.history_user == responder and record.history_type == "+"
    assert incident.timeline.filter(text__startswith="Regulatory report clock started: Initial notification").exists()


def test_no_clock_for_a_severity_or_type_it_does_not_name_nor_for_an_inactive_obligation(responder):
    obligation("Sev1 only", levels=(1,))
    obligation("Security breaches", levels=(), type_slugs=["security-incident"])
    obligation("Switched off", levels=(2,), is_active=False)
    incident = declare(responder, level=2)
    assert not ReportClock.objects.filter(incident=incident).exists()


def test_every_named_criterion_must_hold(responder):
    obligation("Sev1 trade failures", levels=(1,), type_slugs=["trade-execution-failure"])
    trade = declare(responder, level=1, type_slug="trade-execution-failure")
    other = declare(responder, level=1, type_slug="other")
    assert ReportClock.objects.filter(incident=trade).count() == 1
    assert not ReportClock.objects.filter(incident=other).exists()


def test_raising_the_severity_starts_the_clock_at_the_change_and_lowering_it_keeps_it(responder):
    obligation(levels=(1,), due_after=timedelta(hours=4))
    with time_machine.travel(T0, tick=False):
        incident = declare(responder, level=3)
    assert not ReportClock.objects.filter(incident=incident).exists()
    later = T0 + timedelta(hours=2)
    with time_machine.travel(later, tick=False):
        incidents.incident_change_severity(
            incident=incident, severity=Severity.objects.get(level=1), actor=responder, reason="Clients affected"
        )
    clock = ReportClock.objects.get(incident=incident)
    assert (clock.started_at, clock.due_at) == (later, later + timedelta(hours=4))
    incidents.incident_change_severity(
        incident=incident, severity=Severity.objects.get(level=2), actor=responder, reason="Contained"
    )
    incidents.incident_change_severity(
        incident=incident, severity=Severity.objects.get(level=1), actor=responder, reason="Spreading again"
    )
    assert ReportClock.objects.filter(incident=incident).count() == 1  # one clock, never restarted


def test_a_clock_from_declaration_counts_from_the_detected_time(responder):
    obligation(levels=(1,), clock_from=C.DECLARED, due_after=timedelta(hours=24))
    detected = T0 - timedelta(hours=3)
    with time_machine.travel(T0, tick=False):
        incident = declare(responder, level=1, minutes_ago=180)
    clock = ReportClock.objects.get(incident=incident)
    assert (clock.started_at, clock.due_at) == (detected, detected + timedelta(hours=24))


def test_a_clock_from_resolution_starts_only_when_the_incident_is_resolved(responder, four_eyes_off):
    obligation("Final report", levels=(1,), clock_from=C.RESOLVED, due_after=timedelta(days=30))
    with time_machine.travel(T0, tick=False):
        incident = declare(responder, level=1)
        incidents.incident_transition(incident=incident, action="acknowledge", actor=responder)
    assert not ReportClock.objects.filter(incident=incident).exists()
    resolved_at = T0 + timedelta(days=1)
    with time_machine.travel(resolved_at, tick=False):
        incidents.incident_transition(incident=incident, action="resolve", actor=responder, note="Verified")
    clock = ReportClock.objects.get(incident=incident)
    assert (clock.started_at, clock.due_at) == (resolved_at, resolved_at + timedelta(days=30))


def test_the_reportable_flag_starts_flagged_obligations_and_clearing_it_keeps_the_clock(responder, other_responder):
    obligation("Major incident report", levels=(), when_flagged=True, due_after=timedelta(hours=4))
    incident = declare(responder, level=2)
    assert not ReportClock.objects.filter(incident=incident).exists()
    with time_machine.travel(T0, tick=False):
        flag = services.reportable_flag_set(
            incident=incident, actor=other_responder, reportable=True, reason="Client funds affected"
        )
    clock = ReportClock.objects.get(incident=incident)
    assert clock.started_at == T0
    assert flag.history.get().history_user == other_responder
    assert clock.history.get().history_user == other_responder
    services.reportable_flag_set(incident=incident, actor=responder, reportable=False, reason="Internal only")
    assert ReportClock.objects.filter(incident=incident).count() == 1
    assert [r.history_user for r in ReportableFlag.history.order_by("history_id")] == [other_responder, responder]


def test_setting_the_flag_twice_is_refused_and_changes_nothing(responder):
    incident = declare(responder, level=2)
    services.reportable_flag_set(incident=incident, actor=responder, reportable=True, reason="Reportable")
    before = (ReportableFlag.history.count(), incident.timeline.count())
    with pytest.raises(ValidationError, match="already flagged"):
        services.reportable_flag_set(incident=incident, actor=responder, reportable=True, reason="Again")
    with pytest.raises(ValidationError, match="reason is required"):
        services.reportable_flag_set(incident=incident, actor=responder, reportable=False, reason="  ")
    assert (ReportableFlag.history.count(), incident.timeline.count()) == before


@pytest.fixture
def clock(responder):
    obligation(levels=(1,), due_after=timedelta(hours=4))
    with time_machine.travel(T0, tick=False):
        return ReportClock.objects.get(incident=declare(responder, level=1))


def test_a_submission_on_time_is_recorded_with_who_and_when_and_stops_the_reminders(clock, other_responder):
    at = T0 + timedelta(hours=3)
    with time_machine.travel(at + timedelta(minutes=10), tick=False):
        services.report_submit(
            clock=clock, actor=other_responder, submitted_at=at, regulator_reference="REG-2026-0042", text="Dear …"
        )
    clock.refresh_from_db()
    assert (clock.submitted_by, clock.submitted_at, clock.regulator_reference) == (other_responder, at, "REG-2026-0042")
    assert clock.recorded_at == at + timedelta(minutes=10)
    assert clock.met_on_time is True
    assert {status for _, status in schedule(clock).values()} == {"cancelled"}
    latest = clock.history.latest()
    assert latest.history_user == other_responder and latest.history_change_reason == "Regulatory report submitted"
    assert clock.incident.timeline.filter(text__contains="as submitted to Financial regulator (on time)").exists()


def test_a_late_submission_is_recorded_as_late(clock, responder):
    at = T0 + timedelta(hours=5)
    with time_machine.travel(at, tick=False):
        services.report_submit(clock=clock, actor=responder, submitted_at=at, regulator_reference="R-1", text="x")
    clock.refresh_from_db()
    assert clock.met_on_time is False


def test_a_file_is_kept_with_the_submission(clock, responder, settings):
    upload = SimpleUploadedFile("notification.pdf", b"%PDF-1.4 report", content_type="application/pdf")
    services.report_submit(
        clock=clock, actor=responder, submitted_at=timezone.now(), regulator_reference="R-1", file=upload
    )
    clock.refresh_from_db()
    assert clock.file.name.endswith("notification.pdf")
    with clock.file.open("rb") as handle:
        assert handle.read() == b"%PDF-1.4 report"


def _submission_refused(clock, responder, message, **fields):
    values = {"submitted_at": timezone.now(), "regulator_reference": "R-1", "text": "The report", **fields}
    before = (clock.history.count(), clock.reminders.filter(status="pending").count())
    with pytest.raises(ValidationError, match=message):
        services.report_submit(clock=clock, actor=responder, **values)
    clock.refresh_from_db()
    assert clock.submitted_at is None
    assert (clock.history.count(), clock.reminders.filter(status="pending").count()) == before


@pytest.mark.parametrize(
    ("message", "fields"),
    [
        ("reference is required", {"regulator_reference": "  "}),
        ("at most 200 characters", {"regulator_reference": "R" * 201}),
        ("null characters", {"text": "a\x00b"}),
        ("at most 50,000 characters", {"text": "x" * 50_001}),
        ("text of the report or the file", {"text": ""}),
        ("in the future", {"submitted_at": "FUTURE"}),
        ("before the incident was detected", {"submitted_at": T0 - timedelta(days=1)}),
        ("date and time", {"submitted_at": datetime(2026, 3, 2, 9, 0)}),  # noqa: DTZ001 (naive on purpose)
        ("at most 1,000 bytes", {"file": "BIG"}),
        ("file is empty", {"file": "EMPTY"}),
    ],
)
def test_a_bad_submission_is_refused_with_the_reason_and_changes_nothing(clock, responder, settings, message, fields):
    settings.REGULATORY_MAX_FILE_SIZE = 1000
    if fields.get("submitted_at") == "FUTURE":
        fields["submitted_at"] = timezone.now() + timedelta(hours=1)
    if fields.get("file") == "BIG":
        fields["file"] = SimpleUploadedFile("big.pdf", b"x" * 1001)
    if fields.get("file") == "EMPTY":
        fields["file"] = SimpleUploadedFile("empty.pdf", b"")
    _submission_refused(clock, responder, message, **fields)


def test_a_second_submission_is_refused(clock, responder, other_responder):
    services.report_submit(
        clock=clock, actor=responder, submitted_at=timezone.now(), regulator_reference="R-1", text="x"
    )
    with pytest.raises(ValidationError, match="already recorded as submitted by Rita Responder"):
        services.report_submit(
            clock=clock, actor=other_responder, submitted_at=timezone.now(), regulator_reference="R-2", text="y"
        )
    clock.refresh_from_db()
    assert (clock.submitted_by, clock.regulator_reference) == (responder, "R-1")
