"""Whatever arrives, the answer is a 4xx in the one error format, never a 500, and a
refused request changes nothing."""

import json

import pytest

from incidents.models import Incident, TimelineEntry


def _assert_error(response, status, code=None):
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert isinstance(error["message"], str) and error["message"]
    if code:
        assert error["code"] == code
    return error


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b'{"title": }',
        b"\xff\xfe\x00",
        b'{"title": NaN}',
        b'{"n": 1' + b"0" * 5000 + b"}",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a": "\\ud800"}',
    ],
)
def test_malformed_json_is_a_400(rita, body):
    before = Incident.objects.count()

    response = rita.generic("POST", "/api/v1/incidents/", body, content_type="application/json")

    assert response.status_code == 400, response.content[:300]
    assert response.json()["error"]["code"] in {"malformed", "invalid"}
    assert Incident.objects.count() == before


@pytest.mark.parametrize("body", ["[]", "1", '"text"', "null", "true"])
def test_a_body_that_is_not_an_object_is_a_400(rita, body):
    response = rita.generic("POST", "/api/v1/incidents/", body, content_type="application/json")

    error = _assert_error(response, 400, "invalid")
    assert "dictionary" in error["message"] or "No data" in error["message"]


def test_a_form_body_is_refused_as_unsupported(rita):
    response = rita.post("/api/v1/incidents/", {"title": "x"}, format="multipart")

    _assert_error(response, 415, "unsupported_media_type")


def test_an_unknown_charset_is_a_400(rita):
    response = rita.generic("POST", "/api/v1/incidents/", b"{}", content_type="application/json; charset=rot13")

    _assert_error(response, 400, "malformed")


def test_a_body_larger_than_djangos_upload_limit_is_a_413(rita, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"title": "x" * 2000}).encode()

    response = rita.generic("POST", "/api/v1/incidents/", body, content_type="application/json")

    _assert_error(response, 413, "too_large")


@pytest.mark.parametrize(
    "patch, field",
    [
        ({"title": None}, "title"),
        ({"title": ["a"]}, "title"),
        ({"title": {"a": 1}}, "title"),
        ({"title": "a\x00b"}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"severity": "one"}, "severity"),
        ({"severity": 10**30}, "severity"),
        ({"severity": -1}, "severity"),
        ({"severity": 1.5}, "severity"),
        ({"severity": True}, "severity"),
        ({"severity": [1]}, "severity"),
        ({"incident_type": "a\x00"}, "incident_type"),
        ({"incident_type": 7}, "incident_type"),
        ({"services": "executor"}, "services"),
        ({"services": {"executor": 1}}, "services"),
        ({"services": [None]}, "services.0"),
        ({"services": ["x" * 60]}, "services.0"),
        ({"services": ["executor"] * 101}, "services"),
        ({"detection_source": "psychic"}, "detection_source"),
        ({"detection_source": ["alert"]}, "detection_source"),
        ({"detected_at": "yesterday"}, "detected_at"),
        ({"detected_at": "2026-02-30T10:00:00Z"}, "detected_at"),
        ({"detected_at": "9999-12-31T23:59:59Z"}, "detected_at"),
        ({"detected_at": "9999-12-31T23:59:59-05:00"}, "detected_at"),
        ({"detected_at": "0001-01-01T00:00:00+05:00"}, "detected_at"),
        ({"detected_at": 1700000000}, "detected_at"),
        ({"description": "x" * 50_001}, "description"),
    ],
)
def test_wrong_types_and_values_are_named_in_fields(rita, patch, field):
    body = {
        "title": "Executor failing",
        "severity": 1,
        "incident_type": "other",
        "detection_source": "alert",
        **patch,
    }

    response = rita.post("/api/v1/incidents/", body)

    error = _assert_error(response, 400, "invalid")
    assert field in error["fields"], error
    assert not Incident.objects.exists()


def test_a_declaration_at_the_calendars_start_is_accepted_as_the_page_does(rita, incident):
    # The pages take any past moment; the year-1 incident gets a year-1 reference.
    response = rita.post(
        "/api/v1/incidents/",
        {
            "title": "Old",
            "severity": 4,
            "incident_type": "other",
            "detection_source": "alert",
            "detected_at": "0001-01-01T00:00:00Z",
        },
    )

    assert response.status_code == 201, response.json()
    assert response.json()["detected_at"].startswith("0001-01-01")
    first = rita.get("/api/v1/incidents/?sort=oldest&limit=1").json()
    assert first["results"][0]["detected_at"].startswith("0001-01-01")
    assert rita.get(first["next"]).status_code == 200


def test_a_note_backdated_to_the_calendars_start_pages_like_any_other(rita, incident):
    url = f"/api/v1/incidents/{incident.reference}/"
    assert rita.post(url + "notes/", {"text": "Long ago", "occurred_at": "0001-01-01T00:00:00Z"}).status_code == 201

    seen, page = [], rita.get(url + "timeline/?limit=1").json()
    while True:
        seen += [entry["text"] for entry in page["results"]]
        if not page["next"]:
            break
        page = rita.get(page["next"]).json()

    assert seen[-1] == "Long ago" and len(seen) == TimelineEntry.objects.filter(incident=incident).count()


def test_notes_refuse_nul_overlong_and_future_text(rita, incident):
    url = f"/api/v1/incidents/{incident.reference}/notes/"
    before = TimelineEntry.objects.count()

    for body in (
        {"text": "a\x00"},
        {"text": "x" * 5001},
        {"text": " "},
        {"text": "x", "occurred_at": "9999-12-31T00:00:00Z"},
        {"text": "x", "occurred_at": "+275760-09-13T00:00:00Z"},
    ):
        _assert_error(rita.post(url, body), 400)
    assert TimelineEntry.objects.count() == before


@pytest.mark.parametrize("reference", ["%00", "INC%00", "x" * 300, "%F0%9F%92%A5", "..%2F..%2Fadmin"])
def test_odd_references_are_404s(rita, reference):
    _assert_error(rita.get(f"/api/v1/incidents/{reference}/"), 404, "not_found")
    _assert_error(rita.post(f"/api/v1/incidents/{reference}/notes/", {"text": "x"}), 404, "not_found")


@pytest.mark.parametrize(
    "query",
    [
        "severity=%00",
        "severity=99999999999999999999999",
        "type=%00",
        "service=" + "x" * 500,
        "detected_from=0000-01-01",
        "q=" + "x" * 201,
        "sort=%00",
    ],
)
def test_odd_filters_are_400s(rita, query):
    _assert_error(rita.get(f"/api/v1/incidents/?{query}"), 400, "invalid")


@pytest.mark.parametrize("query", ["detected_from=0001-01-01", "detected_to=9999-12-31", "q=%00x"])
def test_filters_at_the_calendars_ends_or_with_nul_never_fail(rita, query):
    assert rita.get(f"/api/v1/incidents/?{query}").status_code in {200, 400}


def test_an_unknown_format_is_a_json_404_and_an_unknown_accept_a_406(rita):
    _assert_error(rita.get("/api/v1/incidents/?format=xml"), 404)
    response = rita.get("/api/v1/incidents/", HTTP_ACCEPT="text/html")
    assert response.status_code == 406
