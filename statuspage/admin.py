"""Status-page subscribers and broadcasts in the admin."""

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import Broadcast, StatusSubscriber


@admin.register(StatusSubscriber)
class StatusSubscriberAdmin(SimpleHistoryAdmin):
    list_display = ["email", "confirmed_at", "unsubscribed_at", "created_at"]
    list_filter = [("confirmed_at", admin.EmptyFieldListFilter), ("unsubscribed_at", admin.EmptyFieldListFilter)]
    search_fields = ["email"]
    readonly_fields = ["confirmed_at", "unsubscribed_at"]


@admin.register(Broadcast)
class BroadcastAdmin(SimpleHistoryAdmin):
    """Read-only: a broadcast is written by the task that sends it."""

    list_display = ["status_update", "queued", "completed_at", "created_at"]
    list_filter = [("completed_at", admin.EmptyFieldListFilter)]
    list_select_related = ["status_update__incident"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
