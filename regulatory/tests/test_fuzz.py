"""The submission and flag forms, fuzzed: whatever is sent (bad dates, huge text, odd files), the
answer is never a server error, a refusal writes nothing, and an accepted submission is stored as
given. HYPOTHESIS_PROFILE=slow runs many more examples (make fuzz)."""

import os
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incidents.models import TimelineEntry
from incidents.tests.factories import declare
from regulatory.models import ReportableFlag, ReportClock

from .factories import obligation

EXAMPLES = 1000 if os.environ.get("HYPOTHESIS_PROFILE") == "slow" else 100

DATE_EDGES = [
    "",
    " ",
    "2026-03-02T10:00",
    "2026-03-02 10:00",
    "2026-03-02",
    "2026-02-30T10:00",
    "2026-13-01T10:00",
    "2026-03-29T02:30",  # a time that does not exist in some zones
    "0001-01-01T00:00",
    "9999-12-31T23:59",
    "99999-01-01T00:00",
    "1999-12-31T23:59",
    "2100-01-01T00:00",
    "yesterday",
    "\x00",
    "2026-03-02T10:00:00+14:00",
    "2026-03-02T25:00",
    "١٢٣",
]
text = st.text(max_size=60)
date = st.sampled_from(DATE_EDGES) | text
reference = st.sampled_from(["", " ", "REG-1", "a\x00b", "R" * 200, "R" * 201]) | text
body = st.sampled_from(["", "ok", "a\x00b", "x" * 50_000, "x" * 50_001, "x" * 200_000]) | text
files = st.sampled_from([None, "empty", "small", "big", "noname", "longname", "path"])


def upload(kind):
    return {
        None: None,
        "empty": SimpleUploadedFile("empty.pdf", b""),
        "small": SimpleUploadedFile("report.pdf", b"%PDF report"),
        "big": SimpleUploadedFile("big.pdf", b"x" * 2049),
        "noname": SimpleUploadedFile("...", b"data"),
        "longname": SimpleUploadedFile("n" * 150 + ".pdf", b"data"),
        "path": SimpleUploadedFile("../../etc/passwd", b"data"),
    }[kind]


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.REGULATORY_MAX_FILE_SIZE = 2048


@pytest.mark.fuzz
@pytest.mark.django_db
def test_no_submission_input_makes_a_server_error_or_a_half_write(client, responder, tmp_path):
    obligation(levels=(1,), due_after=timedelta(hours=4))
    clock = ReportClock.objects.get(incident=declare(responder, level=1, minutes_ago=400 * 24 * 60))
    client.force_login(responder)
    url = f"/regulatory/clocks/{clock.pk}/"
    outcomes = set()

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        data=st.fixed_dictionaries({}, optional={"submitted_at": date, "regulator_reference": reference, "text": body}),
        plausible=st.booleans(),
        file=files,
    )
    def check(data, plausible, file):
        if plausible:  # valid but for what the fuzz chose to spoil
            data = {"regulator_reference": "REG-1", "text": "Report", **data, "submitted_at": "2026-01-01T00:00"}
        payload = dict(data)
        if (found := upload(file)) is not None:
            payload["file"] = found
        history, lines = ReportClock.history.count(), TimelineEntry.objects.count()
        response = client.post(url, payload)
        assert response.status_code in (302, 400), (data, file, response.status_code)
        outcomes.add(response.status_code)
        stored = ReportClock.objects.get(pk=clock.pk)
        if response.status_code == 400:
            assert stored.submitted_at is None, data
            assert (ReportClock.history.count(), TimelineEntry.objects.count()) == (history, lines), data
            return
        try:
            assert stored.regulator_reference == data["regulator_reference"].strip()
            assert stored.text == data.get("text", "").strip()
            assert stored.file.name == "" or stored.file.path.startswith(str(tmp_path / "media" / "regulatory"))
        finally:
            # Undone behind the service's back so the next example can submit again (test only).
            ReportClock.objects.filter(pk=clock.pk).update(
                submitted_at=None, submitted_by=None, recorded_at=None, regulator_reference="", text="", file=""
            )

    check()
    assert outcomes == {302, 400}  # the fuzz reached both sides


@pytest.mark.fuzz
@pytest.mark.django_db
def test_no_flag_input_makes_a_server_error_or_a_half_write(client, responder):
    incident = declare(responder, level=3)
    client.force_login(responder)
    url = f"/regulatory/incidents/{incident.reference}/flag/"

    @settings(max_examples=EXAMPLES // 2, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        data=st.fixed_dictionaries(
            {},
            optional={
                "reportable": st.sampled_from(["yes", "no", "", "maybe", "\x00"]) | text,
                "reason": st.sampled_from(["", "why", "a\x00b", "x" * 1001]) | text,
            },
        )
    )
    def check(data):
        flags = ReportableFlag.history.count()
        response = client.post(url, data)
        assert response.status_code in (302, 400), (data, response.status_code)
        if response.status_code == 400:
            assert ReportableFlag.history.count() == flags

    check()
