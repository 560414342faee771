"""The admin for post-mortems: staff can inspect every row and its history, and
correct a post-mortem's owner, deliverables and participants or an action item's
details, saved through the services; the deadlines, completion and status are
changed only on the portal's pages. Nothing here is added or deleted."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied

from incidents.admin import ReadOnlyAdmin, ReadOnlyInline, ServiceWrittenAdmin, nothing_saved

from . import services
from .forms import check_preventive_fields
from .models import ActionItem, Milestone, PostMortem, Reminder


class MilestoneInline(ReadOnlyInline):
    model = Milestone
    fields = ["kind", "due_at", "completed_at", "completed_by", "meeting_held_at"]
    readonly_fields = fields


@admin.register(PostMortem)
class PostMortemAdmin(ServiceWrittenAdmin):
    """Opened from the incident's page, or by itself when an incident that needs one is resolved."""

    list_display = ["incident", "owner", "clock_started_at", "completed_at"]
    list_select_related = ["incident", "owner"]
    search_fields = ["incident__reference", "incident__title"]
    readonly_fields = ["incident", "clock_started_at", "awaiting_resolution", "completed_at", "opened_by"]
    raw_id_fields = ["owner"]
    filter_horizontal = ["participants", "contact_participants"]
    inlines = [MilestoneInline]

    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        if not change:
            raise PermissionDenied
        changed = set(form.changed_data)
        fields = {name: form.cleaned_data[name] for name in changed & services.EDITABLE_FIELDS}
        people = {name: form.cleaned_data[name] for name in changed & {"participants", "contact_participants"}}
        if fields or people:
            services.postmortem_update(postmortem=obj, actor=request.user, **people, **fields)

    def save_related(self, request, form, formsets, change):
        # The participants were saved by the service in save_model (not form.save_m2m); milestones are read-only.
        nothing_saved(formsets)


@admin.register(ActionItem)
class ActionItemAdmin(ServiceWrittenAdmin):
    """Added and moved between statuses on the post-mortem's page; its details can be corrected here."""

    list_display = ["title", "postmortem", "owner", "category", "due_at", "status", "verify_by", "verified_at"]
    list_filter = ["status", "category"]
    list_select_related = ["postmortem__incident", "owner"]
    # Status, evidence and verification change only through the portal's pages (the services).
    readonly_fields = [
        "postmortem",
        "status",
        "deferred_reason",
        "closed_at",
        "closed_by",
        "evidence",
        "verified_by",
        "verified_at",
        "verification_note",
    ]
    raw_id_fields = ["owner"]

    def has_add_permission(self, request):
        return False

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)

        class ActionItemAdminForm(form):
            def clean(self):
                return check_preventive_fields(self, super().clean())

        return ActionItemAdminForm

    def save_model(self, request, obj, form, change):
        if not change:
            raise PermissionDenied
        fields = {name: form.cleaned_data[name] for name in set(form.changed_data) & services.ACTION_ITEM_FIELDS}
        if fields:
            services.action_item_update(item=obj, actor=request.user, **fields)

    def save_related(self, request, form, formsets, change):
        nothing_saved(formsets)  # no related rows are edited here


@admin.register(Reminder)
class ReminderAdmin(ReadOnlyAdmin):
    list_display = ["kind", "milestone", "action_item", "due_at", "status", "handled_at"]
    list_filter = ["kind", "status"]
    list_select_related = ["milestone__postmortem__incident", "action_item"]


@admin.register(Milestone)
class MilestoneAdmin(ReadOnlyAdmin):
    list_display = ["postmortem", "kind", "due_at", "completed_at", "completed_by"]
    list_filter = ["kind", ("completed_at", admin.EmptyFieldListFilter), "due_at"]
    list_select_related = ["postmortem__incident", "completed_by"]
    search_fields = ["postmortem__incident__reference"]
