"""Regulatory reporting's forms. They read what was typed and hand it to a service; the services
check everything again, and their ValidationErrors are shown on the form."""

from django import forms
from django.conf import settings
from django.utils import timezone

from incidents.forms import DateTimeLocalInput, local_time_help

from .services import FILE_NAME_MAX_LENGTH, REASON_MAX_LENGTH, REFERENCE_MAX_LENGTH, TEXT_MAX_LENGTH


class ReportableFlagForm(forms.Form):
    """Flag the incident as reportable to regulators, or clear the flag."""

    reportable = forms.TypedChoiceField(
        label="This incident is",
        choices=[("yes", "Reportable to regulators"), ("no", "Not reportable to regulators")],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Why: it goes on the incident's timeline.",
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "id_reportable_%s")
        super().__init__(*args, **kwargs)


class ReportSubmitForm(forms.Form):
    """Record a report as submitted to its regulator."""

    submitted_at = forms.DateTimeField(
        label="Submitted at", widget=DateTimeLocalInput(), help_text=local_time_help("When it was sent.")
    )
    regulator_reference = forms.CharField(
        label="Regulator's reference",
        max_length=REFERENCE_MAX_LENGTH,
        help_text="The reference or receipt number the regulator gave.",
    )
    text = forms.CharField(
        label="Text sent",
        required=False,
        max_length=TEXT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Starts from the latest updates to regulators; edit it to what was sent.",
    )
    file = forms.FileField(
        label="File sent", required=False, max_length=FILE_NAME_MAX_LENGTH, help_text="The document sent, if any."
    )

    def __init__(self, *args, clock, **kwargs):
        kwargs.setdefault("auto_id", f"id_report_{clock.pk}_%s")
        super().__init__(*args, **kwargs)
        self.clock = clock
        limit = settings.REGULATORY_MAX_FILE_SIZE
        self.fields["file"].help_text = f"The document sent, if any; at most {limit // (1024 * 1024) or 1} MB."

    def clean_submitted_at(self):
        value = self.cleaned_data["submitted_at"]
        if value.year < 2000:
            raise forms.ValidationError("Give a date from this century.")
        return value

    def clean_file(self):
        upload = self.cleaned_data.get("file")
        if upload and upload.size > settings.REGULATORY_MAX_FILE_SIZE:
            raise forms.ValidationError(
                f"The file is at most {settings.REGULATORY_MAX_FILE_SIZE:,} bytes; this one has {upload.size:,}."
            )
        return upload

    def clean(self):
        data = super().clean()
        if not self.errors and not (data.get("text") or "").strip() and not data.get("file"):
            raise forms.ValidationError("Give the text of the report or the file sent (or both).")
        return data


def submit_initial(starting_text: str) -> dict:
    return {"submitted_at": timezone.localtime().replace(second=0, microsecond=0), "text": starting_text}
