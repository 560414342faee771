"""Accounts and groups in the admin, with their history.

Staff are deactivated, never deleted, so history keeps its authors. Only a superuser makes superusers,
and staff who manage accounts (the Admins group) hand out no more than they hold themselves: they
cannot tick is_superuser, grant a permission or a group beyond their own permissions, or change an
account or group that holds more than they do (which would let them set its password and become it).
"""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from simple_history.admin import SimpleHistoryAdmin

from portal.pagination import CappedCountPaginator


class NoRevertHistoryAdmin(SimpleHistoryAdmin):
    """History viewable, never reverted: a revert writes the row directly, past the
    service that owns its writes (and its reason and actor).

    Its changelists count at most 10,000 rows, skip the second, unfiltered count
    and show 50 rows a page: these tables grow to millions of rows."""

    paginator = CappedCountPaginator
    show_full_result_count = False
    list_per_page = 50  # rendering a changelist row costs more than finding it

    def revert_disabled(self, request, obj=None):
        return True

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        # simple-history saves a POST to this page whatever `revert_disabled` says; viewing stays.
        if request.method == "POST":
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)


def held_permissions(user):
    """The permissions `user` holds, directly or through a group."""
    return Permission.objects.filter(Q(user=user) | Q(group__user=user)).distinct()


def _exceeds(user, permissions) -> bool:
    """Whether `permissions` include any that `user` does not hold."""
    return permissions.exclude(pk__in=held_permissions(user).values("pk")).exists()


def groups_within(user):
    """The groups whose every permission `user` holds."""
    beyond = Permission.objects.exclude(pk__in=held_permissions(user).values("pk"))
    return Group.objects.exclude(permissions__in=beyond)


class PortalUserAdmin(NoRevertHistoryAdmin, UserAdmin):
    """Staff accounts are deactivated, never deleted, so history keeps its authors. Their history (who
    changed an account, its groups and permissions) is viewable; never the password, which history
    does not copy."""

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        request.viewing_past_version = True
        return super().history_form_view(request, object_id, version_id, extra_context)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if getattr(request, "viewing_past_version", False):
            # A past version would show the password field, filled from the account as it is now.
            fieldsets = [
                (name, {**options, "fields": [f for f in options["fields"] if f != "password"]})
                for name, options in fieldsets
            ]
        return fieldsets

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        if not super().has_change_permission(request, obj):
            return False
        if obj is None or request.user.is_superuser:
            return True
        return not obj.is_superuser and not _exceeds(request.user, held_permissions(obj))

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly.append("is_superuser")
        return readonly

    def formfield_for_manytomany(self, db_field, request=None, **kwargs):
        if request is not None and not request.user.is_superuser:
            if db_field.name == "user_permissions":
                kwargs["queryset"] = held_permissions(request.user).select_related("content_type")
            elif db_field.name == "groups":
                kwargs["queryset"] = groups_within(request.user)
        return super().formfield_for_manytomany(db_field, request=request, **kwargs)


class PortalGroupAdmin(NoRevertHistoryAdmin, GroupAdmin):
    """A group grants what it holds to every member: staff give it only permissions they hold. Its
    history shows who changed its permissions."""

    def has_change_permission(self, request, obj=None):
        if not super().has_change_permission(request, obj):
            return False
        if obj is None or request.user.is_superuser:
            return True
        return not _exceeds(request.user, obj.permissions.all())

    def formfield_for_manytomany(self, db_field, request=None, **kwargs):
        if db_field.name == "permissions" and request is not None and not request.user.is_superuser:
            kwargs["queryset"] = held_permissions(request.user)
        return super().formfield_for_manytomany(db_field, request=request, **kwargs)


User = get_user_model()
admin.site.unregister(User)
admin.site.register(User, PortalUserAdmin)
admin.site.unregister(Group)
admin.site.register(Group, PortalGroupAdmin)
