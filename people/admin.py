"""Profiles in the admin: staff can correct someone's time zone, saved through the service; and the
single sign-on links, to read or remove."""

from django.contrib import admin

from audit.admin import NoRevertHistoryAdmin

from . import services
from .models import Profile, SsoIdentity


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


@admin.register(SsoIdentity)
class SsoIdentityAdmin(NoRevertHistoryAdmin):
    """Which provider account signs in to which user: written by single sign-on, read-only here.
    Deleting one unlinks it; the next single sign-on links by username again (superusers never)."""

    list_display = ["user", "subject", "issuer", "created_at"]
    list_select_related = ["user"]
    search_fields = ["user__username", "subject"]
    readonly_fields = ["user", "issuer", "subject", "created_at", "updated_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
