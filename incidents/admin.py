"""The admin: where staff edit severities, runbooks, roles, services, contacts and
channels, and see who changed what (every page has a History button).

Incidents and the rows about them are written by the services, in the admin too:
an incident's lifecycle fields are read-only and change through the changelist's
actions (which call `services.incident_transition` / `incident_change_severity`),
its descriptive fields are saved through `services.incident_update_details`, and
roles, timeline, status updates and checklist items are read-only here.
"""

import copy

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError
from django.template.response import TemplateResponse
from django.utils.text import capfirst
from simple_history.admin import SimpleHistoryAdmin

from audit.admin import NoRevertHistoryAdmin

from . import services
from .forms import BridgeForm, SeverityChoiceField
from .models import (
    ChecklistItem,
    CommunicationChannel,
    Contact,
    Incident,
    IncidentType,
    ReferenceCounter,
    Role,
    RoleAssignment,
    RunbookStep,
    Service,
    Severity,
    StatusUpdate,
    TimelineEntry,
    UpdateTemplate,
)

# Reference data: edited freely, each save recorded in history with the admin user as its author.


@admin.register(Severity)
class SeverityAdmin(SimpleHistoryAdmin):
    list_display = [
        "code",
        "name",
        "update_interval",
        "acknowledge_within",
        "investigate_within",
        "postmortem_required",
        "stall_after",
        "four_eyes",
    ]
    list_filter = ["postmortem_required", "four_eyes"]
    search_fields = ["name", "criteria"]


class RunbookStepInline(admin.TabularInline):
    model = RunbookStep
    extra = 1
    fields = ["kind", "position", "text", "performed_by_portal"]


@admin.register(IncidentType)
class IncidentTypeAdmin(SimpleHistoryAdmin):
    list_display = ["name", "slug", "position"]
    search_fields = ["name", "description"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [RunbookStepInline]


class RunbookScopeFilter(admin.SimpleListFilter):
    """The general runbook (steps in every incident's checklist) or one incident type's."""

    title = "runbook"
    parameter_name = "runbook"

    def lookups(self, request, model_admin):
        return [("general", "General"), *((str(t.pk), t.name) for t in IncidentType.objects.all())]

    def queryset(self, request, queryset):
        if self.value() == "general":
            return queryset.filter(incident_type__isnull=True)
        if self.value():
            return queryset.filter(incident_type_id=self.value())
        return queryset


@admin.register(RunbookStep)
class RunbookStepAdmin(SimpleHistoryAdmin):
    """The general steps (no incident type) are in every incident's checklist, with the type's own;
    editing a step changes the checklists of incidents declared from then on."""

    list_display = ["runbook", "kind", "position", "text", "performed_by_portal"]
    list_filter = [RunbookScopeFilter, "kind", "performed_by_portal"]
    list_select_related = ["incident_type"]
    search_fields = ["text"]
    fields = ["incident_type", "kind", "position", "text", "performed_by_portal"]

    @admin.display(description="Runbook", ordering="incident_type__name")
    def runbook(self, obj):
        return obj.incident_type.name if obj.incident_type_id else "General"


@admin.register(Service)
class ServiceAdmin(SimpleHistoryAdmin):
    list_display = ["name", "slug", "owner", "dashboard_url"]
    search_fields = ["name", "description"]
    list_filter = ["owner"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["owner"]


@admin.register(Role)
class RoleAdmin(SimpleHistoryAdmin):
    list_display = ["name", "slug", "position"]
    search_fields = ["name", "responsibilities"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Contact)
class ContactAdmin(SimpleHistoryAdmin):
    list_display = ["name", "category", "role", "phone", "email", "escalation_order", "last_verified", "is_active"]
    list_filter = ["category", "is_active", "role"]
    search_fields = ["name", "phone", "email", "notes"]
    list_editable = ["last_verified"]


@admin.register(UpdateTemplate)
class UpdateTemplateAdmin(SimpleHistoryAdmin):
    """Starting drafts for status updates, offered in the update form on the incident page."""

    list_display = ["audience", "phase", "body"]
    list_filter = ["audience", "phase"]
    search_fields = ["body"]


@admin.register(CommunicationChannel)
class CommunicationChannelAdmin(SimpleHistoryAdmin):
    list_display = ["name", "audience", "kind", "target", "purpose", "position"]
    list_filter = ["audience", "kind"]
    search_fields = ["name", "target", "purpose"]


# Lifecycle data: written by the services only.


class ServiceWrittenAdmin(NoRevertHistoryAdmin):
    """Rows that the services write. Staff read them and their history here; the
    admin never deletes them (they are evidence), and never reverts one to an old
    version, which would write the row directly."""

    def has_delete_permission(self, request, obj=None):
        return False


def nothing_saved(formsets) -> None:
    """For `save_related` overrides that save no inline: what the admin's change message reads."""
    for formset in formsets:
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []


class ReadOnlyAdmin(ServiceWrittenAdmin):
    """Rows written on the portal's pages through the services: viewable, with history, nothing more."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    """Child rows shown on their parent's admin page, written elsewhere through the services."""

    extra = 0

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class RoleAssignmentInline(ReadOnlyInline):
    """Read-only: roles are assigned, handed off and released on the incident's page."""

    model = RoleAssignment
    fk_name = "incident"
    fields = ["role", "user", "started_at", "ended_at", "assigned_by", "note"]
    readonly_fields = fields


DETAIL_FIELDS = ["title", "description", "user_impact", "incident_type", "detection_source", "services", "bridge_url"]
LIFECYCLE_FIELDS = [
    "reference",
    "status",
    "severity",
    "detected_at",
    "acknowledged_at",
    "investigating_at",
    "mitigating_at",
    "resolved_at",
    "closed_at",
    "next_update_due_at",
    "declared_by",
    "initial_responder",
    "resolution_note",
    "alert_group_key",
    "created_at",
    "updated_at",
]

# What the note of each transition is for; the service refuses resolve and reopen without one.
TRANSITION_NOTE_LABELS = {
    "resolve": ("How was the resolution verified?", "Required."),
    "reopen": ("Why reopen?", "Required."),
}


class TransitionActionForm(forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        required=False,
        max_length=2000,
        help_text="Optional; it goes on each incident's timeline.",
    )

    def __init__(self, *args, action: str, **kwargs):
        super().__init__(*args, **kwargs)
        if action in TRANSITION_NOTE_LABELS:
            label, help_text = TRANSITION_NOTE_LABELS[action]
            self.fields["note"].label = label
            self.fields["note"].help_text = f"{help_text} It goes on each incident's timeline."


class SeverityActionForm(forms.Form):
    severity = SeverityChoiceField(queryset=Severity.objects.order_by("level"), label="New severity")
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        required=False,
        max_length=500,
        help_text="Required: why the severity changes. It goes on each incident's timeline.",
    )


def _transition_action(action: str):
    """The changelist action for one of the runbook's transitions."""

    def run(modeladmin, request, queryset):
        return modeladmin.transition_selected(request, queryset, action)

    run.__name__ = f"transition_{action}"
    label = services.TRANSITION_LABELS[action]
    return admin.action(run, description=f"{label} (selected %(verbose_name_plural)s)", permissions=["change"])


def _refusal(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return f"the database refused it ({str(exc).splitlines()[0]})"


@admin.register(Incident)
class IncidentAdmin(ServiceWrittenAdmin):
    """Incidents are declared at /incidents/new/; here staff fix the descriptive fields
    (saved through `incident_update_details`) and move incidents with the actions."""

    list_display = ["reference", "title", "severity", "incident_type", "status", "detected_at", "resolved_at"]
    # Dates as a filter, not a date hierarchy: its year links read every row's date.
    list_filter = ["status", "severity", "incident_type", "detection_source", "services", "detected_at"]
    search_fields = ["reference", "title", "description"]
    fieldsets = [
        (None, {"fields": ["reference", *DETAIL_FIELDS]}),
        (
            "Lifecycle",
            {
                "description": "Read-only. Status and severity change through the actions on the incident list "
                "(or on the incident's page in the portal), so the runbook's rules, the timeline, the post-mortem "
                "and the notices apply.",
                "fields": [name for name in LIFECYCLE_FIELDS if name != "reference"],
            },
        ),
    ]
    readonly_fields = LIFECYCLE_FIELDS
    filter_horizontal = ["services"]
    inlines = [RoleAssignmentInline]
    list_select_related = ["severity", "incident_type"]
    actions = [*(_transition_action(action) for action in services.TRANSITIONS), "change_severity"]
    action_confirmation_template = "admin/incidents/incident/action_confirmation.html"

    def has_add_permission(self, request):
        return False  # declared on the portal's page, which gives the reference, checklist and notices

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "bridge_url":  # http(s) only, as on the incident page (the model field allows ftp)
            return copy.deepcopy(BridgeForm.base_fields["bridge_url"])
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    # Saving the change form: the descriptive fields, through the service.

    def save_model(self, request, obj, form, change):
        if not change:
            raise PermissionDenied
        changed = {name: form.cleaned_data[name] for name in form.changed_data if name in DETAIL_FIELDS}
        if changed:
            # A fresh, locked row: the form's instance must not write back lifecycle fields it read earlier.
            incident = Incident.objects.select_for_update().get(pk=obj.pk)
            services.incident_update_details(incident=incident, actor=request.user, **changed)

    def save_related(self, request, form, formsets, change):
        # `services` was saved by the service in save_model (not form.save_m2m); the inline is read-only.
        nothing_saved(formsets)

    # The actions: each incident through the service on its own; a refusal is reported and changes nothing.

    def _confirm(self, request, queryset, *, form, title, question, submit):
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "question": question,
            "submit_label": submit,
            "opts": self.model._meta,
            "queryset": queryset,
            "form": form,
            "action": request.POST["action"],
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media + form.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.action_confirmation_template, context)

    def _each(self, request, queryset, perform) -> list[Incident]:
        done = []
        for incident in queryset.select_related("severity").order_by("reference"):
            try:
                done.append(perform(incident))
            except (ValidationError, IntegrityError) as exc:
                self.message_user(request, f"{incident.reference}: {_refusal(exc)}", level=messages.ERROR)
        return done

    def transition_selected(self, request, queryset, action):
        label = services.TRANSITION_LABELS[action]
        form = TransitionActionForm(request.POST if "apply" in request.POST else None, action=action)
        if not form.is_valid():
            target = services.TRANSITIONS[action][1]
            return self._confirm(
                request,
                queryset,
                form=form,
                title=f"{label}: {capfirst(self.model._meta.verbose_name_plural)}",
                question=f"Move these incidents to “{target.label.lower()}”? "
                "Each is handled on its own; one the runbook does not allow is left as it is.",
                submit=label,
            )
        done = self._each(
            request,
            queryset,
            lambda incident: services.incident_transition(
                incident=incident, action=action, actor=request.user, note=form.cleaned_data["note"]
            ),
        )
        if done:
            self.message_user(
                request,
                f"{label}: {_count(done)} done ({', '.join(i.reference for i in done)}).",
                level=messages.SUCCESS,
            )

    @admin.action(description="Change severity (selected %(verbose_name_plural)s)", permissions=["change"])
    def change_severity(self, request, queryset):
        form = SeverityActionForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return self._confirm(
                request,
                queryset,
                form=form,
                title="Change severity: Incidents",
                question="Change the severity of these incidents? The reason goes on each one's timeline "
                "and the distribution lists of the old and the new severity are notified.",
                submit="Change severity",
            )
        severity = form.cleaned_data["severity"]
        done = self._each(
            request,
            queryset,
            lambda incident: services.incident_change_severity(
                incident=incident, severity=severity, actor=request.user, reason=form.cleaned_data["reason"]
            ),
        )
        if done:
            self.message_user(
                request,
                f"Severity changed to {severity.code}: {_count(done)} ({', '.join(i.reference for i in done)}).",
                level=messages.SUCCESS,
            )


def _count(incidents) -> str:
    return f"{len(incidents)} incident{'' if len(incidents) == 1 else 's'}"


@admin.register(RoleAssignment)
class RoleAssignmentAdmin(ReadOnlyAdmin):
    list_display = ["incident", "role", "user", "started_at", "ended_at"]
    list_filter = ["role"]
    search_fields = ["incident__reference", "user__username", "user__first_name", "user__last_name"]
    list_select_related = ["incident", "role", "user"]


@admin.register(TimelineEntry)
class TimelineEntryAdmin(ReadOnlyAdmin):
    list_display = ["incident", "kind", "occurred_at", "author", "text"]
    list_filter = ["kind"]
    search_fields = ["incident__reference", "text"]
    list_select_related = ["incident", "author"]


@admin.register(StatusUpdate)
class StatusUpdateAdmin(ReadOnlyAdmin):
    list_display = ["incident", "audience", "posted_at", "author"]
    list_filter = ["audience"]
    search_fields = ["incident__reference", "body"]
    list_select_related = ["incident", "author"]


@admin.register(ChecklistItem)
class ChecklistItemAdmin(ReadOnlyAdmin):
    list_display = ["incident", "section", "position", "text", "done_at", "done_by"]
    list_filter = ["section"]
    search_fields = ["incident__reference", "text"]
    list_select_related = ["incident", "done_by"]


@admin.register(ReferenceCounter)
class ReferenceCounterAdmin(ReadOnlyAdmin):
    """The last incident number of each year; `incident_declare` takes the next one under its lock,
    so an edit here could hand out a reference twice."""

    list_display = ["year", "last_number"]
