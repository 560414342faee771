"""Report obligations are admin-edited data (with their history); clocks and flags are written on
the incident's pages through the services and are read-only here. The shipped examples are marked
"Example, not legal advice" until someone takes responsibility for them by clearing the mark."""

from django import forms
from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from incidents.admin import ReadOnlyAdmin

from .models import ReportableFlag, ReportClock, ReportObligation


class ReportObligationForm(forms.ModelForm):
    class Meta:
        model = ReportObligation
        fields = [
            "name",
            "addressee",
            "guidance",
            "is_active",
            "is_example",
            "severities",
            "incident_types",
            "when_flagged",
            "clock_from",
            "due_after",
            "remind_before",
            "escalate_after",
        ]

    def clean(self):
        data = super().clean()
        if not data.get("severities") and not data.get("incident_types") and not data.get("when_flagged"):
            raise forms.ValidationError(
                "Choose at least one severity or type, or “only when flagged”: "
                "otherwise the obligation would apply to every incident."
            )
        return data


@admin.register(ReportObligation)
class ReportObligationAdmin(SimpleHistoryAdmin):
    form = ReportObligationForm
    list_display = ["name", "addressee", "clock_from", "due_after", "applies_to", "example_mark", "is_active"]
    list_filter = ["is_active", "is_example", "clock_from"]
    search_fields = ["name", "addressee", "guidance"]
    filter_horizontal = ["severities", "incident_types"]
    fieldsets = [
        (None, {"fields": ["name", "addressee", "guidance", "is_active", "is_example"]}),
        (
            "Which incidents it applies to (every criterion chosen must hold)",
            {"fields": ["severities", "incident_types", "when_flagged"]},
        ),
        ("Deadline", {"fields": ["clock_from", "due_after", "remind_before", "escalate_after"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("severities", "incident_types")

    @admin.display(description="Applies to")
    def applies_to(self, obligation):
        parts = [
            ", ".join(s.code for s in obligation.severities.all()) or "any severity",
            ", ".join(t.name for t in obligation.incident_types.all()) or "any type",
        ]
        if obligation.when_flagged:
            parts.append("flagged")
        return "; ".join(parts)

    @admin.display(description="Example", boolean=False)
    def example_mark(self, obligation):
        return "Example, not legal advice" if obligation.is_example else ""


@admin.register(ReportClock)
class ReportClockAdmin(ReadOnlyAdmin):
    list_display = ["incident", "obligation", "started_at", "due_at", "submitted_at", "submitted_by"]
    list_filter = ["obligation"]
    search_fields = ["incident__reference", "regulator_reference"]
    list_select_related = ["incident", "obligation", "submitted_by"]


@admin.register(ReportableFlag)
class ReportableFlagAdmin(ReadOnlyAdmin):
    list_display = ["incident", "is_set", "set_by", "set_at", "reason"]
    list_select_related = ["incident", "set_by"]
