"""Profiles in the admin: staff can correct someone's time zone, saved through the service."""

from django.contrib import admin

from audit.admin import NoRevertHistoryAdmin

from . import services
from .models import Profile


@admin.register(Profile)
class ProfileAdmin(NoRevertHistoryAdmin):
    """The person takes the new zone at their next sign-in (it is kept in their session)."""

    list_display = ["user", "time_zone", "updated_at"]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "time_zone"]
    raw_id_fields = ["user"]

    def get_readonly_fields(self, request, obj=None):
        return ["user"] if obj else []

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        profile = services.profile_update(user=obj.user, actor=request.user, time_zone=form.cleaned_data["time_zone"])
        obj.pk = profile.pk  # for the admin's log entry and redirect
