"""The admin for post-mortems: staff can inspect every row and its history;
day-to-day work happens on the portal's pages, which go through the services."""

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import ActionItem, Milestone, PostMortem, Reminder


class MilestoneInline(admin.TabularInline):
    model = Milestone
    extra = 0
    fields = ["kind", "due_at", "completed_at", "completed_by", "meeting_held_at"]
    readonly_fields = fields
    can_delete = False


@admin.register(PostMortem)
class PostMortemAdmin(SimpleHistoryAdmin):
    list_display = ["incident", "owner", "clock_started_at", "completed_at"]
    list_select_related = ["incident", "owner"]
    search_fields = ["incident__reference", "incident__title"]
    raw_id_fields = ["incident", "owner", "opened_by"]
    filter_horizontal = ["participants", "contact_participants"]
    inlines = [MilestoneInline]


@admin.register(ActionItem)
class ActionItemAdmin(SimpleHistoryAdmin):
    list_display = ["title", "postmortem", "owner", "due_at", "status"]
    list_filter = ["status", "category"]
    list_select_related = ["postmortem__incident", "owner"]
    raw_id_fields = ["postmortem", "owner", "closed_by"]


@admin.register(Reminder)
class ReminderAdmin(SimpleHistoryAdmin):
    list_display = ["kind", "milestone", "action_item", "due_at", "status", "handled_at"]
    list_filter = ["kind", "status"]
    list_select_related = ["milestone__postmortem__incident", "action_item"]
    raw_id_fields = ["milestone", "action_item", "outbox_message"]
    readonly_fields = ["recipients", "handled_at", "outbox_message"]


@admin.register(Milestone)
class MilestoneAdmin(SimpleHistoryAdmin):
    list_display = ["postmortem", "kind", "due_at", "completed_at", "completed_by"]
    list_filter = ["kind", ("completed_at", admin.EmptyFieldListFilter)]
    list_select_related = ["postmortem__incident", "completed_by"]
    search_fields = ["postmortem__incident__reference"]
    raw_id_fields = ["postmortem", "completed_by"]
    date_hierarchy = "due_at"
