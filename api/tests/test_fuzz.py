"""Every write endpoint, fuzzed: whatever body arrives (any JSON, any bytes, known fields
with wrong types, NUL, huge numbers, dates at the calendar's ends), the answer is never
a 5xx, and a refused request leaves every history-tracked table as it was.
HYPOTHESIS_PROFILE=slow runs many more examples (make fuzz)."""

import json
import os

import pytest
from django.apps import apps
from hypothesis import HealthCheck, example, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from postmortems.models import ActionItem
from postmortems.services import action_item_set_status
from postmortems.tests.factories import action_item, mark_done

EXAMPLES = 500 if os.environ.get("HYPOTHESIS_PROFILE") == "slow" else 40

EDGES = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "9" * 40,
    "1e999",
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-12:00",
    "2026-02-30T25:61:00",
    "2020-01-01T00:00:00Z",
    "2020-01-01",
    "acknowledge",
    "resolve",
    "meeting",
    "alert",
    "internal",
    "customers",
    "done",
    "deferred",
    "in_progress",
    "preventive",
    "long_term",
    "to_verify",
    "executor",
    "other",
    "rita",
    "tom",
    "x" * 6000,
    "Ω" * 300,
]
scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.integers(min_value=-3, max_value=5),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(EDGES),
)
value = st.recursive(
    scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def body(fields):
    """A JSON object of (some of) `fields` with any values, now and then a field nobody knows, or any JSON at all."""
    known = st.fixed_dictionaries({}, optional={name: value for name in fields})
    extra = st.dictionaries(st.text(max_size=10), value, max_size=2)
    return st.one_of(
        known.map(json.dumps),
        st.tuples(known, extra).map(lambda parts: json.dumps({**parts[1], **parts[0]})),
        value.map(json.dumps),
        st.binary(max_size=60).map(lambda raw: raw.decode("latin-1")),
    )


DELIVERABLES = [
    "timeline_summary",
    "impact_assessment",
    "response_effectiveness",
    "primary_cause",
    "contributing_factors",
    "system_vulnerabilities",
    "immediate_fixes",
    "long_term_improvements",
    "preventive_measures",
]
ACTION = [
    "title",
    "category",
    "owner",
    "due_at",
    "description",
    "implementation_timeline",
    "success_metric",
    "verify_by",
]

# name: (method, address, the body's fields); {ref}, {pk} and {kind} are filled in.
ENDPOINTS = {
    "declare": (
        "POST",
        "/api/v1/incidents/",
        [
            "title",
            "severity",
            "incident_type",
            "services",
            "detection_source",
            "detected_at",
            "user_impact",
            "description",
        ],
    ),
    "transition": ("POST", "/api/v1/incidents/{ref}/transition/", ["action", "note"]),
    "severity": ("POST", "/api/v1/incidents/{ref}/severity/", ["severity", "reason"]),
    "note": ("POST", "/api/v1/incidents/{ref}/notes/", ["text", "occurred_at"]),
    "update": ("POST", "/api/v1/incidents/{ref}/updates/", ["audience", "body"]),
    "postmortem": (
        "PATCH",
        "/api/v1/postmortems/{ref}/",
        ["owner", "participants", "contact_participants", *DELIVERABLES],
    ),
    "milestone": (
        "POST",
        "/api/v1/postmortems/{ref}/milestones/{kind}/complete/",
        ["meeting_held_at", "attendees", "notes"],
    ),
    "action create": ("POST", "/api/v1/postmortems/{ref}/action-items/", ACTION),
    "action edit": ("PATCH", "/api/v1/action-items/{pk}/", ACTION),
    "action status": ("POST", "/api/v1/action-items/{pk}/status/", ["status", "deferred_reason", "evidence"]),
    # {awaiting}: Tom's preventive measure, marked done by him, which Rita (the token) may verify or send back.
    "action verify": ("POST", "/api/v1/action-items/{awaiting}/verify/", ["note"]),
    "action send back": ("POST", "/api/v1/action-items/{awaiting}/send-back/", ["reason"]),
    # {own}: Rita's own measure awaiting verification: always refused, whatever the body.
    "action verify own": ("POST", "/api/v1/action-items/{own}/verify/", ["note"]),
}


# A body each of these endpoints accepts, always tried along with the random ones.
ACCEPTED = {
    "action verify": json.dumps({"note": "Checked the dashboard"}),
    "action send back": json.dumps({"reason": "The link shows staging"}),
}


def history_counts() -> dict[str, int]:
    """Rows in every history table: any write anywhere adds one."""
    return {
        model._meta.label: model.objects.count()
        for model in apps.get_models()
        if model.__name__.startswith("Historical") and model._meta.app_label in {"incidents", "postmortems", "api"}
    }


@pytest.fixture
def world(incident, responder, other_responder):
    from postmortems.services import postmortem_open

    postmortem, _ = postmortem_open(incident=incident, actor=responder)
    item = action_item(postmortem, responder)
    awaiting = mark_done(action_item(postmortem, other_responder), other_responder)
    own = mark_done(action_item(postmortem, responder), responder)
    return {"ref": incident.reference, "pk": item.pk, "awaiting": awaiting.pk, "own": own.pk}


def await_verification(pk, owner) -> None:
    """Put the measure back to awaiting verification (by its owner) if an earlier example verified or sent
    it back, so that every example reaches the service."""
    item = ActionItem.objects.get(pk=pk)
    if item.status == ActionItem.Status.DONE:
        item = action_item_set_status(item=item, actor=owner, status=ActionItem.Status.OPEN)
    if item.status != ActionItem.Status.TO_VERIFY:
        mark_done(item, owner)


@pytest.mark.fuzz
@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_no_body_makes_a_server_error_and_a_refusal_changes_nothing(rita, world, other_responder, name, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"token": "100000/min"}}
    method, template, fields = ENDPOINTS[name]

    @examples(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    @given(data=body(fields), kind=st.sampled_from(["meeting", "analysis", "preventive", "party"]))
    def check(data, kind):
        url = template.format(kind=kind, **world)
        if "{awaiting}" in template:
            await_verification(world["awaiting"], other_responder)
        before = history_counts()
        response = rita.generic(method, url, data.encode("utf-8", "surrogatepass"), content_type="application/json")
        assert response.status_code < 500, (name, data[:300], response.content[:300])
        assert response["Content-Type"] == "application/json"
        if response.status_code >= 400:
            assert "error" in response.json()
            assert history_counts() == before, (name, data[:300], response.status_code)
        if name == "action verify own":
            assert response.status_code == 403
        if data == ACCEPTED.get(name):
            assert response.status_code == 200, response.json()

    if name in ACCEPTED:  # one body that gets through to the change, whatever the random ones do
        check = example(data=ACCEPTED[name], kind="meeting")(check)
    check()
