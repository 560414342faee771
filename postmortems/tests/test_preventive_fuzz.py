"""The preventive-measure fields, fuzzed: whatever is typed into the verify-by time, the success metric,
the evidence, the verification note or the reason for sending back (dates at the calendar's ends and
impossible ones, NUL bytes, huge text), the answer is a page or a refusal, never a server error, and
whatever is saved keeps the rules."""

import os
from datetime import datetime

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postmortems.models import ActionItem
from postmortems.tests.factories import action_item, mark_done

EXAMPLES = 500 if os.environ.get("HYPOTHESIS_PROFILE") == "slow" else 40

DATES = st.one_of(
    st.sampled_from(
        [
            "",
            "0001-01-01T00:00",
            "9999-12-31T23:59",
            "1999-12-31T23:59",
            "2026-02-30T25:61",
            "2026-11-28",
            "\x00",
            "2030-01-01T00:00\x00",
            "9" * 40,
        ]
    ),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)).map(
        lambda moment: moment.strftime("%Y-%m-%dT%H:%M")
    ),
)
TEXT = st.one_of(
    st.sampled_from(
        ["", " ", "\x00", "a\x00b", "x" * 20_000, "javascript:alert(1)", "https://ok.example.com/" + "a" * 3000]
    ),
    st.text(max_size=80),
)
CATEGORY = st.sampled_from(["preventive", "long_term", "immediate_fix", "", "bogus", "\x00"])


@pytest.fixture
def world(postmortem, commander, other_responder):
    """An open measure of Tom's (for the edit and status forms) and one awaiting verification."""
    open_item = action_item(postmortem, other_responder, title="Open measure")
    awaiting = mark_done(action_item(postmortem, other_responder, title="Awaiting measure"), other_responder)
    return {"open": open_item, "awaiting": awaiting, "ref": postmortem.incident.reference}


def check_rules():
    for item in ActionItem.objects.all():
        if item.verify_by is not None:
            assert item.verify_by >= item.due_at
            assert 2000 <= item.verify_by.year <= datetime.now().year + 11
        if item.status == "to_verify":
            assert item.evidence.strip() and "\x00" not in item.evidence
        if item.category == "preventive" and item.title.startswith("Fuzzed"):
            assert item.success_metric.strip() and item.verify_by is not None


@pytest.mark.fuzz
def test_no_preventive_input_makes_a_server_error(client, responder, commander, world):
    client.force_login(responder)  # may verify Tom's measure

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        due=DATES,
        verify_by=DATES,
        metric=TEXT,
        category=CATEGORY,
        evidence=TEXT,
        note=TEXT,
        status=st.sampled_from(["done", "open", "in_progress", "deferred", "to_verify", "", "\x00"]),
        form=st.sampled_from(["create", "edit", "status", "verify", "send_back"]),
    )
    def check(due, verify_by, metric, category, evidence, note, status, form):
        fields = {
            "title": "Fuzzed measure",
            "category": category,
            "owner": commander.pk,
            "due_at": due,
            "verify_by": verify_by,
            "success_metric": metric,
        }
        if form == "create":
            response = client.post(reverse("postmortems:action_create", args=[world["ref"]]), fields)
        elif form == "edit":
            response = client.post(reverse("postmortems:action_edit", args=[world["open"].pk]), fields)
        elif form == "status":
            response = client.post(
                reverse("postmortems:action_status", args=[world["open"].pk]),
                {"status": status, "evidence": evidence, "deferred_reason": note},
            )
        elif form == "verify":
            response = client.post(reverse("postmortems:action_verify", args=[world["awaiting"].pk]), {"note": note})
        else:
            response = client.post(
                reverse("postmortems:action_send_back", args=[world["awaiting"].pk]), {"reason": note}
            )
        assert response.status_code < 500, (form, fields, evidence, note, status, response.status_code)
        check_rules()

    check()
