"""Profiles in the admin: staff can correct someone's time zone, saved through the service."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from simple_history.admin import SimpleHistoryAdmin

from . import services
from .models import Profile


@admin.register(Profile)
class ProfileAdmin(SimpleHistoryAdmin):
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

    # Like the services' other rows: never reverted from history, which would write the row directly.
    def revert_disabled(self, request, obj=None):
        return True

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        # simple-history saves a POST to this page whatever `revert_disabled` says; viewing stays.
        if request.method == "POST":
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)
