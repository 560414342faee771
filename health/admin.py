"""The sweeps' heartbeats in the admin, to look at; only the sweeps write them."""

from django.contrib import admin

from .models import Heartbeat


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    list_display = ["sweep", "task", "last_success_at"]
    ordering = ["sweep"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
