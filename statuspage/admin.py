"""Status-page subscribers and broadcasts in the admin."""

from django.contrib import admin, messages

from audit.admin import NoRevertHistoryAdmin

from . import services
from .models import Broadcast, StatusSubscriber


@admin.register(StatusSubscriber)
class StatusSubscriberAdmin(NoRevertHistoryAdmin):
    """Read-only: people subscribe, confirm and leave on the public page. Staff can erase a
    subscriber on request with the action, which does what the unsubscribe link does."""

    list_display = ["__str__", "confirmed_at", "unsubscribed_at", "created_at"]
    list_filter = [("confirmed_at", admin.EmptyFieldListFilter), ("unsubscribed_at", admin.EmptyFieldListFilter)]
    search_fields = ["email"]
    readonly_fields = ["email", "email_hash", "subscribed_at", "confirmed_at", "unsubscribed_at"]
    actions = ["unsubscribe_and_erase"]

    def has_add_permission(self, request):
        return False  # double opt-in: only the address's owner can start a subscription

    def has_delete_permission(self, request, obj=None):
        # Deleting would leave the address in the history rows and write one more holding it; the action erases.
        return False

    @admin.action(
        description="Unsubscribe and erase the address (selected %(verbose_name_plural)s)", permissions=["change"]
    )
    def unsubscribe_and_erase(self, request, queryset):
        erased = [s for s in queryset.order_by("pk") if not s.is_erased]
        for subscriber in erased:
            services.subscriber_unsubscribe(subscriber=subscriber, actor=request.user)
        self.message_user(request, f"Unsubscribed and erased: {len(erased)}.", level=messages.SUCCESS)


@admin.register(Broadcast)
class BroadcastAdmin(NoRevertHistoryAdmin):
    """Read-only: a broadcast is written by the task that sends it."""

    list_display = ["status_update", "queued", "completed_at", "created_at"]
    list_filter = [("completed_at", admin.EmptyFieldListFilter)]
    list_select_related = ["status_update__incident"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
