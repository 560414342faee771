"""Accounts in the admin: staff are deactivated, never deleted, so history keeps its authors."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin


class PortalUserAdmin(UserAdmin):
    """Staff accounts are deactivated, never deleted, so history keeps its authors."""

    def has_delete_permission(self, request, obj=None):
        return False


User = get_user_model()
admin.site.unregister(User)
admin.site.register(User, PortalUserAdmin)
