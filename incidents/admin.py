"""The admin: where staff edit severities, runbooks, roles, services, contacts and
channels, and see who changed what (every page has a History button)."""

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import (
    ChecklistItem,
    CommunicationChannel,
    Contact,
    Incident,
    IncidentType,
    Role,
    RoleAssignment,
    RunbookStep,
    Service,
    Severity,
    StatusUpdate,
    TimelineEntry,
)


@admin.register(Severity)
class SeverityAdmin(SimpleHistoryAdmin):
    list_display = [
        "code",
        "name",
        "update_interval",
        "acknowledge_within",
        "investigate_within",
        "postmortem_required",
    ]
    list_filter = ["postmortem_required"]
    search_fields = ["name", "criteria"]


class RunbookStepInline(admin.TabularInline):
    model = RunbookStep
    extra = 1
    fields = ["kind", "position", "text"]


@admin.register(IncidentType)
class IncidentTypeAdmin(SimpleHistoryAdmin):
    list_display = ["name", "slug", "position"]
    search_fields = ["name", "description"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [RunbookStepInline]


@admin.register(RunbookStep)
class RunbookStepAdmin(SimpleHistoryAdmin):
    list_display = ["incident_type", "kind", "position", "text"]
    list_filter = ["incident_type", "kind"]
    search_fields = ["text"]


@admin.register(Service)
class ServiceAdmin(SimpleHistoryAdmin):
    list_display = ["name", "slug", "owner"]
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


@admin.register(CommunicationChannel)
class CommunicationChannelAdmin(SimpleHistoryAdmin):
    list_display = ["name", "audience", "kind", "target", "purpose", "position"]
    list_filter = ["audience", "kind"]
    search_fields = ["name", "target", "purpose"]


class RoleAssignmentInline(admin.TabularInline):
    model = RoleAssignment
    fk_name = "incident"
    extra = 0
    fields = ["role", "user", "started_at", "ended_at", "note"]
    autocomplete_fields = ["user"]


@admin.register(Incident)
class IncidentAdmin(SimpleHistoryAdmin):
    list_display = ["reference", "title", "severity", "incident_type", "status", "detected_at", "resolved_at"]
    list_filter = ["status", "severity", "incident_type", "detection_source", "services"]
    search_fields = ["reference", "title", "description"]
    date_hierarchy = "detected_at"
    readonly_fields = ["reference", "declared_by", "created_at", "updated_at"]
    autocomplete_fields = ["initial_responder"]
    filter_horizontal = ["services"]
    inlines = [RoleAssignmentInline]
    list_select_related = ["severity", "incident_type"]


@admin.register(RoleAssignment)
class RoleAssignmentAdmin(SimpleHistoryAdmin):
    list_display = ["incident", "role", "user", "started_at", "ended_at"]
    list_filter = ["role"]
    search_fields = ["incident__reference", "user__username", "user__first_name", "user__last_name"]
    autocomplete_fields = ["user", "incident"]
    list_select_related = ["incident", "role", "user"]


@admin.register(TimelineEntry)
class TimelineEntryAdmin(SimpleHistoryAdmin):
    list_display = ["incident", "kind", "occurred_at", "author", "text"]
    list_filter = ["kind"]
    search_fields = ["incident__reference", "text"]
    autocomplete_fields = ["incident"]
    list_select_related = ["incident", "author"]


@admin.register(StatusUpdate)
class StatusUpdateAdmin(SimpleHistoryAdmin):
    list_display = ["incident", "audience", "posted_at", "author"]
    list_filter = ["audience"]
    search_fields = ["incident__reference", "body"]
    autocomplete_fields = ["incident"]
    list_select_related = ["incident", "author"]


@admin.register(ChecklistItem)
class ChecklistItemAdmin(SimpleHistoryAdmin):
    list_display = ["incident", "section", "position", "text", "done_at", "done_by"]
    list_filter = ["section"]
    search_fields = ["incident__reference", "text"]
    autocomplete_fields = ["incident"]
    list_select_related = ["incident", "done_by"]
