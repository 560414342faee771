"""Alerts in the admin: read-only, they are evidence."""

from django.contrib import admin

from audit.admin import NoRevertHistoryAdmin

from .models import Alert


@admin.register(Alert)
class AlertAdmin(NoRevertHistoryAdmin):
    """Alerts as Alertmanager sent them; read-only, they are evidence."""

    list_display = ["fingerprint", "status", "starts_at", "incident", "received_at", "resolved_received_at"]
    list_filter = ["status", "starts_at"]
    search_fields = ["fingerprint", "group_key", "incident__reference"]
    list_select_related = ["incident"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
