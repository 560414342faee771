"""Every form, fuzzed: whatever a browser (or anyone) sends, the answer is never a server error.

Each form gets arbitrary values for its own field names: text of any kind, NUL and
control characters, numbers past 9,999 and past what the database holds, dates at
the calendar's ends and impossible ones, wrong types for choices and foreign keys.
HYPOTHESIS_PROFILE=slow runs many more examples (make fuzz)."""

import os
from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postmortems.tests.factories import action_item

EXAMPLES = 500 if os.environ.get("HYPOTHESIS_PROFILE") == "slow" else 30

EDGES = [
    "",
    " ",
    "0",
    "-1",
    "9999",
    "10000",
    "9" * 40,
    "1e999",
    "NaN",
    "0001-01-01T00:00",
    "9999-12-31T23:59",
    "2026-02-30T25:61",
    "2026-11-28",
    "me",
    "on",
    "open",
    "meeting",
    "customers",
    "\x00",
    "a\x00b",
    "<script>alert(1)</script>",
    "Ω" * 300,
    "x" * 6000,
    "a@。.com",
]
value = st.one_of(
    st.sampled_from(EDGES),
    st.text(max_size=60),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)).map(
        lambda moment: moment.strftime("%Y-%m-%dT%H:%M")
    ),
)
field_value = value | st.lists(value, max_size=3)


def form(fields):
    return st.fixed_dictionaries({}, optional={name: field_value for name in fields})


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
ACTION_FIELDS = ["title", "category", "owner", "due_at", "description", "implementation_timeline", "success_metric"]

# (method, url template, field names); {ref}, {pk}, {item}, {assignment}, {kind}, {action} are filled in.
FORMS = {
    "declare": (
        "post",
        "/incidents/new/",
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
    "transition": ("post", "/incidents/{ref}/transition/{action}/", ["note"]),
    "severity": ("post", "/incidents/{ref}/severity/", ["severity", "reason"]),
    "role": ("post", "/incidents/{ref}/roles/", ["role", "user", "note"]),
    "release": ("post", "/incidents/{ref}/roles/{assignment}/release/", []),
    "checklist": ("post", "/incidents/{ref}/checklist/{item}/", ["done"]),
    "note": ("post", "/incidents/{ref}/notes/", ["text", "occurred_at"]),
    "update": ("post", "/incidents/{ref}/updates/", ["audience", "body"]),
    "incident list": (
        "get",
        "/incidents/",
        ["q", "status", "severity", "type", "service", "detected_from", "detected_to", "sort", "page"],
    ),
    "contacts": ("get", "/contacts/", ["q", "print"]),
    "postmortem list": ("get", "/postmortems/", ["overdue", "milestone", "owner", "page"]),
    "action list": ("get", "/postmortems/actions/", ["view", "page"]),
    "postmortem edit": (
        "post",
        "/postmortems/{ref}/edit/",
        ["owner", "participants", "contact_participants", *DELIVERABLES],
    ),
    "milestone": ("post", "/postmortems/{ref}/milestones/{kind}/complete/", ["meeting_held_at", "attendees", "notes"]),
    "action create": ("post", "/postmortems/{ref}/actions/new/", ACTION_FIELDS),
    "action edit": ("post", "/postmortems/actions/{pk}/", ACTION_FIELDS),
    "action status": ("post", "/postmortems/actions/{pk}/status/", ["status", "deferred_reason"]),
    "account": ("post", "/account/", ["time_zone"]),
    "subscribe": ("post", "/status/subscribe/", ["email"]),
    "login": ("post", "/accounts/login/", ["username", "password"]),
}


@pytest.fixture
def world(incident, responder, other_responder):
    from incidents import services
    from incidents.models import Role
    from postmortems.services import postmortem_open

    assignment = services.role_assign(
        incident=incident, role=Role.objects.get(slug="technical-lead"), user=other_responder, actor=responder
    )
    postmortem, _ = postmortem_open(incident=incident, actor=responder)
    item = action_item(postmortem, responder)
    return {
        "ref": incident.reference,
        "assignment": assignment.pk,
        "item": incident.checklist.first().pk,
        "pk": item.pk,
    }


@pytest.mark.fuzz
@pytest.mark.parametrize("name", list(FORMS))
def test_no_form_input_makes_a_server_error(client, responder, world, name):
    method, template, fields = FORMS[name]
    if name not in {"subscribe", "login"}:
        client.force_login(responder)
    # Axes counts failed sign-ins: a 429 is an answer too, but keep the login form reachable.
    client.defaults["REMOTE_ADDR"] = "127.0.0.1"

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        data=form(fields),
        action=st.sampled_from(["acknowledge", "investigate", "mitigate", "resolve", "reopen", "close", "x" * 80]),
        kind=st.sampled_from(["meeting", "analysis", "preventive", "nope"]),
    )
    def check(data, action, kind):
        url = template.format(action=action, kind=kind, **world)
        response = getattr(client, method)(url, data)
        assert response.status_code < 500, (name, url, data, response.status_code)

    check()
