"""Incidents through the API: the list page's filters and orders, paging by cursor, and
every write through the page's service, recorded in history as the token's owner."""

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents import services
from incidents.models import Incident, StatusUpdate, TimelineEntry
from incidents.tests.factories import declare

from .conftest import make_token

DECLARE = {
    "title": "Executor failing to land trades",
    "severity": 2,
    "incident_type": "trade-execution-failure",
    "services": ["executor", "rpc-gateway"],
    "detection_source": "alert",
    "user_impact": "All traders",
}


def test_declaring_makes_the_owner_the_declarer_and_initial_responder(rita, responder):
    response = rita.post("/api/v1/incidents/", DECLARE)

    assert response.status_code == 201, response.json()
    body = response.json()
    incident = Incident.objects.get(reference=body["reference"])
    assert response["Location"] == body["url"] == f"http://testserver/api/v1/incidents/{incident.reference}/"
    assert body["severity"] == {"level": 2, "code": "Sev2", "name": incident.severity.name}
    assert {s["slug"] for s in body["services"]} == {"executor", "rpc-gateway"}
    assert body["status"] == "detected" and body["allowed_actions"] == ["acknowledge", "investigate"]
    assert body["declared_by"]["username"] == body["initial_responder"]["username"] == "rita"
    assert incident.checklist.count() > 9  # the runbook became its checklist, as on the page
    record = incident.history.get()
    assert record.history_user == responder and record.history_change_reason == "Incident declared"


def test_a_declaration_with_unknown_names_says_which(rita):
    response = rita.post(
        "/api/v1/incidents/",
        {**DECLARE, "severity": 9, "incident_type": "nope", "services": ["executor", "ghost"], "colour": "red"},
    )

    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert set(fields) == {"severity", "incident_type", "services", "colour"}
    assert "ghost" in fields["services"][0] and fields["colour"] == ["Unknown field."]
    assert not Incident.objects.exists()


def test_a_declaration_dated_in_the_future_is_refused(rita):
    later = (timezone.now() + timedelta(hours=1)).isoformat()

    response = rita.post("/api/v1/incidents/", {**DECLARE, "detected_at": later})

    assert response.status_code == 400 and "future" in response.json()["error"]["fields"]["detected_at"][0]


def test_the_same_service_twice_is_one_service(rita):
    response = rita.post("/api/v1/incidents/", {**DECLARE, "services": ["executor", "executor"]})

    assert response.status_code == 201
    assert [s["slug"] for s in response.json()["services"]] == ["executor"]


def test_a_transition_moves_the_incident_and_names_the_owner(rita, responder, incident):
    url = f"/api/v1/incidents/{incident.reference}/transition/"

    response = rita.post(url, {"action": "acknowledge", "note": "On it"})

    assert response.status_code == 200
    assert response.json()["status"] == "acknowledged"
    incident.refresh_from_db()
    assert incident.status == Incident.Status.ACKNOWLEDGED
    latest = incident.history.first()
    assert latest.history_user == responder and latest.history_change_reason == "Incident: acknowledge: On it"


def test_a_transition_the_runbook_forbids_is_refused_with_the_services_words(rita, incident):
    url = f"/api/v1/incidents/{incident.reference}/transition/"

    close = rita.post(url, {"action": "close"})
    resolve = rita.post(url, {"action": "resolve"})
    unknown = rita.post(url, {"action": "explode"})

    assert close.status_code == resolve.status_code == unknown.status_code == 400
    assert close.json()["error"] == {"code": "refused", "message": "Cannot close an incident that is detected."}
    assert resolve.json()["error"]["code"] == "refused"
    assert unknown.json()["error"]["code"] == "invalid" and "action" in unknown.json()["error"]["fields"]
    incident.refresh_from_db()
    assert incident.status == Incident.Status.DETECTED and incident.history.count() == 1


def test_resolving_needs_a_note_as_on_the_page(rita, incident):
    services.incident_transition(incident=incident, action="acknowledge", actor=incident.declared_by)
    url = f"/api/v1/incidents/{incident.reference}/transition/"

    refused = rita.post(url, {"action": "resolve", "note": "  "})
    done = rita.post(url, {"action": "resolve", "note": "Error rate back to zero"})

    assert refused.status_code == 400 and "verified" in refused.json()["error"]["message"]
    assert done.status_code == 200 and done.json()["resolution_note"] == "Error rate back to zero"


def test_severity_change_needs_a_reason_and_records_it(rita, responder, incident):
    url = f"/api/v1/incidents/{incident.reference}/severity/"

    missing = rita.post(url, {"severity": 2})
    same = rita.post(url, {"severity": 1, "reason": "Still bad"})
    changed = rita.post(url, {"severity": 2, "reason": "Only some traders"})

    assert missing.status_code == 400 and "reason" in missing.json()["error"]["fields"]
    assert same.status_code == 400 and same.json()["error"]["message"] == "The incident is already Sev1."
    assert changed.status_code == 200 and changed.json()["severity"]["level"] == 2
    latest = Incident.objects.get(pk=incident.pk).history.first()
    assert latest.history_user == responder and latest.history_change_reason == "Severity changed: Only some traders"


def test_a_note_goes_on_the_timeline_backdated_if_asked(rita, responder, incident):
    earlier = timezone.now() - timedelta(minutes=30)

    response = rita.post(
        f"/api/v1/incidents/{incident.reference}/notes/", {"text": "Gas spiked", "occurred_at": earlier.isoformat()}
    )

    assert response.status_code == 201
    entry = TimelineEntry.objects.get(pk=response.json()["id"])
    assert (
        entry.kind == "note" and entry.author == responder and abs(entry.occurred_at - earlier) < timedelta(seconds=1)
    )
    assert entry.history.get().history_user == responder


def test_a_status_update_is_posted_and_listed(rita, responder, incident):
    url = f"/api/v1/incidents/{incident.reference}/updates/"

    posted = rita.post(url, {"audience": "internal", "body": "Rolling back the executor"})
    listed = rita.get(url)

    assert posted.status_code == 201
    update = StatusUpdate.objects.get(pk=posted.json()["id"])
    assert update.author == responder and update.history.get().history_user == responder
    assert [u["body"] for u in listed.json()["results"]] == ["Rolling back the executor"]


def test_the_timeline_lists_newest_first(rita, incident, responder):
    services.timeline_add_note(incident=incident, actor=responder, text="Second")

    response = rita.get(f"/api/v1/incidents/{incident.reference}/timeline/")

    texts = [entry["text"] for entry in response.json()["results"]]
    assert texts[0] == "Second" and texts[-1].startswith("Incident declared")


def test_an_unknown_incident_is_a_json_404(rita):
    for path in ("", "transition/", "severity/", "notes/", "updates/", "timeline/"):
        method = rita.get if path in ("", "timeline/", "updates/") else rita.post
        response = method(f"/api/v1/incidents/INC-1999-0001/{path}", {})
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"


# The list ----------------------------------------------------------------------------------------------------


def test_the_list_takes_the_list_pages_filters(rita, responder):
    sev1 = declare(responder, title="Executor down", level=1)
    sev3 = declare(responder, title="Risk blocking pairs", level=3, type_slug="risk-control-block", services=[])
    services.incident_transition(incident=sev3, action="acknowledge", actor=responder)

    def refs(query):
        response = rita.get(f"/api/v1/incidents/?{query}")
        assert response.status_code == 200, response.json()
        return [row["reference"] for row in response.json()["results"]]

    assert refs("severity=1") == [sev1.reference]
    assert refs("type=risk-control-block") == [sev3.reference]
    assert refs("service=executor") == [sev1.reference]
    assert refs("status=acknowledged") == [sev3.reference]
    assert refs("q=executor") == [sev1.reference]
    assert refs("sort=oldest") == [sev1.reference, sev3.reference]
    assert refs("sort=severity") == [sev1.reference, sev3.reference]
    assert refs("detected_from=9999-12-31") == []
    assert refs("detected_to=0001-01-01") == []


def test_a_bad_filter_is_a_400_naming_it(rita):
    response = rita.get("/api/v1/incidents/?severity=x&sort=sideways&detected_from=2026-02-30")

    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"severity", "sort", "detected_from"}


@pytest.mark.parametrize("sort", ["newest", "oldest", "severity", "reference", "status", "title"])
def test_paging_by_cursor_visits_every_incident_once(rita, responder, sort):
    made = {i.reference for i in (declare(responder, title=f"I{i}", level=1 + i % 4) for i in range(7))}

    seen, url, pages = [], f"/api/v1/incidents/?sort={sort}&limit=3", 0
    while url:
        body = rita.get(url).json()
        seen += [row["reference"] for row in body["results"]]
        url, pages = body["next"], pages + 1

    assert sorted(seen) == sorted(made) and pages == 3


def test_paging_back_returns_the_previous_page(rita, responder):
    for i in range(5):
        declare(responder, title=f"I{i}")
    first = rita.get("/api/v1/incidents/?limit=2").json()
    second = rita.get(first["next"]).json()

    back = rita.get(second["previous"]).json()

    assert back["results"] == first["results"]
    assert first["previous"] is None


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=201", "limit=-1", "limit=1e3", "limit=" + "9" * 40, "after=garbage", "before=%00"]
)
def test_bad_paging_is_a_400(rita, query):
    response = rita.get(f"/api/v1/incidents/?{query}")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_a_cursor_holding_nul_is_refused(rita):
    import base64
    import json

    cursor = base64.urlsafe_b64encode(json.dumps(["a\x00"]).encode()).decode().rstrip("=")

    response = rita.get(f"/api/v1/incidents/?sort=reference&after={cursor}")

    assert response.status_code == 400


def test_the_default_page_is_fifty_and_the_limit_two_hundred(rita, responder):
    from postmortems.tests.factories import bare_incidents

    bare_incidents(205)

    assert len(rita.get("/api/v1/incidents/").json()["results"]) == 50
    assert len(rita.get("/api/v1/incidents/?limit=200").json()["results"]) == 200


def test_a_viewer_reads_but_cannot_declare_even_with_a_write_token(api, viewer, incident):
    _, text = make_token(viewer, "write")
    api.as_token(text)

    read = api.get(f"/api/v1/incidents/{incident.reference}/")
    write = api.post("/api/v1/incidents/", DECLARE)
    transition = api.post(f"/api/v1/incidents/{incident.reference}/transition/", {"action": "acknowledge"})

    assert read.status_code == 200
    assert write.status_code == transition.status_code == 403
    assert "incidents.add_incident" in write.json()["error"]["message"]
    assert Incident.objects.count() == 1 and Incident.objects.get().status == Incident.Status.DETECTED
