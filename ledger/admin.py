"""The ledger in the admin: every entry and its history, read-only. Entries are added, reversed and
have their confirmation requested on the incident's pages; the one change offered here is the
"Confirm" action, which goes through `services.impact_entry_confirm` (second person, history,
timeline) entry by entry."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from incidents.admin import ReadOnlyAdmin

from . import services
from .models import ImpactEntry


@admin.register(ImpactEntry)
class ImpactEntryAdmin(ReadOnlyAdmin):
    list_display = ["id", "incident", "kind", "quantity", "money", "status", "entered_by", "entered_at", "confirmed_by"]
    list_filter = ["status", "kind", "currency"]
    search_fields = ["incident__reference", "note"]
    list_select_related = ["incident", "entered_by", "confirmed_by"]
    readonly_fields = [
        "incident",
        "kind",
        "quantity",
        "amount",
        "currency",
        "status",
        "note",
        "entered_by",
        "entered_at",
        "requested_by",
        "requested_at",
        "confirmed_by",
        "confirmed_at",
        "reverses",
        "replaces",
    ]
    fields = readonly_fields
    actions = ["confirm_selected"]

    @admin.display(description="Amount", ordering="amount")
    def money(self, entry):
        return entry.money

    def has_confirm_permission(self, request):
        return request.user.has_perm(services.CONFIRM_PERMISSION)

    @admin.action(description="Confirm the selected entries (a second person's confirmation)", permissions=["confirm"])
    def confirm_selected(self, request, queryset):
        done = []
        for entry in queryset.order_by("id"):
            try:
                done.append(services.impact_entry_confirm(entry=entry, actor=request.user))
            except ValidationError as exc:
                self.message_user(request, f"#{entry.pk}: {' '.join(exc.messages)}", level=messages.ERROR)
        if done:
            numbers = ", ".join(f"#{entry.pk}" for entry in done)
            self.message_user(request, f"Confirmed {len(done)}: {numbers}.", level=messages.SUCCESS)
