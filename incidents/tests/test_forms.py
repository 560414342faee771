"""The forms on their own: what they accept, refuse, and report."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from incidents.forms import IncidentDeclareForm, NoteForm, RoleAssignForm, SeverityChangeForm
from incidents.models import IncidentType, Severity

pytestmark = pytest.mark.django_db


def test_declare_form_requires_what_the_runbook_asks_for(runbook):
    form = IncidentDeclareForm({})
    assert not form.is_valid()
    assert set(form.errors) == {"title", "severity", "incident_type", "detection_source"}


def test_declare_form_refuses_a_detection_time_in_the_future(runbook):
    later = (timezone.localtime() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    form = IncidentDeclareForm(
        {
            "title": "x",
            "severity": Severity.objects.get(level=1).pk,
            "incident_type": IncidentType.objects.first().pk,
            "detection_source": "alert",
            "detected_at": later,
        }
    )
    assert form.errors == {"detected_at": ["This cannot be in the future."]}


def test_note_form_accepts_a_backdated_time_typed_in_iso_form(runbook):
    when = timezone.localtime() - timedelta(hours=2)
    form = NoteForm({"text": "Saw it", "occurred_at": when.strftime("%Y-%m-%d %H:%M")})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["occurred_at"] == when.replace(second=0, microsecond=0)


def test_role_form_offers_responders_but_not_viewers(responder, other_responder, viewer):
    choices = set(RoleAssignForm().fields["user"].queryset)
    assert choices == {responder, other_responder}


def test_role_form_labels_people_by_name(responder):
    form = RoleAssignForm()
    labels = [label for _, label in form.fields["user"].choices]
    assert "Rita Responder" in labels


def test_severity_change_form_requires_a_reason(runbook):
    form = SeverityChangeForm({"severity": Severity.objects.get(level=2).pk, "reason": ""})
    assert form.errors == {"reason": ["This field is required."]}


# Typed date-times are read in the zone of the person typing (people.middleware activates it).

BERLIN = "Europe/Berlin"


def _berlin_wall_clock(moment) -> str:
    return f"{moment.astimezone(ZoneInfo(BERLIN)):%Y-%m-%dT%H:%M}"


def test_note_form_reads_a_berlin_time_as_the_berlin_instant_and_compares_it_with_now(runbook):
    now = timezone.now().replace(second=0, microsecond=0)
    with time_machine.travel(now, tick=False), timezone.override(BERLIN):
        earlier = NoteForm({"text": "x", "occurred_at": _berlin_wall_clock(now - timedelta(minutes=10))})
        later = NoteForm({"text": "x", "occurred_at": _berlin_wall_clock(now + timedelta(minutes=10))})

        assert earlier.is_valid(), earlier.errors
        assert later.errors == {"occurred_at": ["This cannot be in the future."]}
    assert earlier.cleaned_data["occurred_at"] == now - timedelta(minutes=10)


@pytest.mark.parametrize(("form_class", "field"), [(NoteForm, "occurred_at"), (IncidentDeclareForm, "detected_at")])
def test_date_time_fields_say_which_zone_they_are_read_in(runbook, form_class, field):
    form = form_class()

    with timezone.override(BERLIN):
        assert str(form[field].help_text).endswith("In Europe/Berlin time.")
    with timezone.override("UTC"):
        assert str(form[field].help_text).endswith("In UTC time.")
