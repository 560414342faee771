"""Report obligations are edited in the admin, with their history and its actor; an obligation that
names no criterion is refused; the examples are marked as such; `seed_regulatory_examples` adds
them once."""

import pytest
from django.core.management import call_command
from django.urls import reverse

from incidents.models import Severity
from regulatory.models import ReportObligation

pytestmark = pytest.mark.django_db


def form(**changes):
    data = {
        "name": "Initial notification",
        "addressee": "The regulator",
        "guidance": "",
        "is_active": "on",
        "clock_from": "classified",
        "due_after": "4:00:00",
        "remind_before": "1:00:00",
        "escalate_after": "1:00:00",
        "severities": [Severity.objects.get(level=1).pk],
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_an_admin_adds_an_obligation_with_its_history_and_actor(portal_admin_client, portal_admin):
    response = portal_admin_client.post(reverse("admin:regulatory_reportobligation_add"), form())
    assert response.status_code == 302, response.content.decode()[:2000]
    obligation = ReportObligation.objects.get()
    assert list(obligation.severities.values_list("level", flat=True)) == [1]
    assert {r.history_user for r in obligation.history.all()} == {portal_admin}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"severities": None}, "Choose at least one severity or type"),
        ({"due_after": "0:00:00"}, "A deadline is more than zero"),
        ({"due_after": "400 00:00:00"}, "at most 366 days"),
        ({"due_after": "soon"}, "Enter a valid duration"),
    ],
)
def test_a_bad_obligation_is_refused_with_the_reason(portal_admin_client, changes, message):
    response = portal_admin_client.post(reverse("admin:regulatory_reportobligation_add"), form(**changes))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not ReportObligation.objects.exists()


def test_the_examples_are_loaded_once_and_marked_not_legal_advice(portal_admin_client):
    call_command("seed_regulatory_examples")
    call_command("seed_regulatory_examples")
    examples = ReportObligation.objects.all()
    assert examples.count() == 3
    assert all(o.is_example and o.when_flagged and "not legal advice" in o.guidance for o in examples)
    html = portal_admin_client.get(reverse("admin:regulatory_reportobligation_changelist")).content.decode()
    assert html.count("Example, not legal advice") == 3


def test_responders_may_flag_and_record_but_not_edit_obligations(responder, viewer):
    assert responder.has_perm("regulatory.change_reportclock")
    assert responder.has_perm("regulatory.change_reportableflag")
    assert not responder.has_perm("regulatory.change_reportobligation")
    assert viewer.has_perm("regulatory.view_reportclock")
    assert not viewer.has_perm("regulatory.change_reportclock")
