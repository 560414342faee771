"""The pages' forms. They validate input and hand it to a service; the
services still enforce the rules, and their ValidationErrors are shown here."""

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.text import format_lazy

from portal.display import person_name
from portal.widgets import Select

from .models import Incident, IncidentType, Role, Service, Severity, StatusUpdate
from .selectors import assignable_users


class DateTimeLocalInput(forms.DateTimeInput):
    """A browser date-time picker; typing the ISO form also works without one."""

    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


def _current_zone_name() -> str:
    return timezone.get_current_timezone_name()


def local_time_help(text: str = ""):
    """Help text for a date-time typed into a form, naming the zone it is read in: the person's own,
    active when the form is shown (people.middleware), so it is worked out then, not at import."""
    return format_lazy("{}In {} time.", f"{text} " if text else "", lazy(_current_zone_name, str)())


class SeverityChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.code} – {obj.name}"


def _not_in_future(value):
    if value and value > timezone.now():
        raise ValidationError("This cannot be in the future.")


class IncidentDeclareForm(forms.Form):
    title = forms.CharField(max_length=200, help_text="What is broken, in a few words.")
    severity = SeverityChoiceField(
        queryset=Severity.objects.order_by("level"), widget=forms.RadioSelect, empty_label=None
    )
    incident_type = forms.ModelChoiceField(
        queryset=IncidentType.objects.all(),
        label="Type",
        help_text="Its runbook becomes the checklist.",
        widget=Select,
    )
    services = forms.ModelMultipleChoiceField(
        queryset=Service.objects.order_by("name"),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Affected services",
    )
    detection_source = forms.ChoiceField(choices=Incident.DetectionSource.choices, label="Detected by", widget=Select)
    detected_at = forms.DateTimeField(
        required=False,
        widget=DateTimeLocalInput(),
        validators=[_not_in_future],
        label="Detected at",
        help_text=local_time_help("Leave empty for now."),
    )
    user_impact = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, label="Impact", help_text="Who is affected and how."
    )
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False)


class PrefixedIdsForm(forms.Form):
    """Several of these forms share the incident page: keep their element ids apart."""

    id_prefix = ""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", f"{self.id_prefix}-%s")
        super().__init__(*args, **kwargs)


class TransitionForm(forms.Form):
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=2000)


class SeverityChangeForm(PrefixedIdsForm):
    id_prefix = "severity"
    severity = SeverityChoiceField(queryset=Severity.objects.order_by("level"), label="New severity", widget=Select)
    reason = forms.CharField(max_length=500, help_text="Why the severity changes; it goes on the timeline.")


class RoleAssignForm(PrefixedIdsForm):
    id_prefix = "role"
    role = forms.ModelChoiceField(queryset=Role.objects.all(), widget=Select)
    user = forms.ModelChoiceField(queryset=None, label="Person", widget=Select)
    note = forms.CharField(max_length=255, required=False, help_text="Optional, e.g. why the hand-off.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = assignable_users()
        self.fields["user"].label_from_instance = person_name


class NoteForm(PrefixedIdsForm):
    id_prefix = "note"
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label="Note", max_length=5000)
    occurred_at = forms.DateTimeField(
        required=False,
        widget=DateTimeLocalInput(),
        label="Happened at",
        help_text=local_time_help("Leave empty for now; set it to backdate the note."),
        validators=[_not_in_future],
    )


class StatusUpdateForm(PrefixedIdsForm):
    id_prefix = "update"
    audience = forms.ChoiceField(choices=StatusUpdate.Audience.choices, widget=Select)
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label="Update", max_length=5000)


class BridgeForm(PrefixedIdsForm):
    """The incident's conference bridge: an http(s) link, or empty for none."""

    id_prefix = "bridge"
    bridge_url = forms.CharField(
        label="Conference bridge",
        required=False,
        max_length=500,
        validators=[URLValidator(schemes=["http", "https"], message="Enter an http:// or https:// link.")],
        help_text="The link responders join; empty for none.",
    )


class ContactSearchForm(forms.Form):
    q = forms.CharField(required=False, label="Search", max_length=100)
