"""Personal tokens in the admin: staff see every token (never its secret, which is not
stored) and revoke them with an action, through the service. Tokens are created by
their owners on their account page, so the admin adds, edits and deletes none."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from audit.admin import NoRevertHistoryAdmin

from . import services
from .models import PersonalToken


@admin.register(PersonalToken)
class PersonalTokenAdmin(NoRevertHistoryAdmin):
    list_display = ["name", "user", "display_prefix", "scope", "created_at", "expires_at", "last_used_at", "state"]
    list_filter = ["scope", ("revoked_at", admin.EmptyFieldListFilter), "expires_at"]
    list_select_related = ["user"]
    search_fields = ["name", "prefix", "user__username", "user__first_name", "user__last_name"]
    fields = [
        "user",
        "name",
        "display_prefix",
        "scope",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
        "revoked_by",
    ]
    readonly_fields = fields
    actions = ["revoke_selected"]

    @admin.display(description="token")
    def display_prefix(self, obj):
        return f"{obj.display_prefix}…"

    @admin.display(description="state")
    def state(self, obj):
        return obj.state()

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # revoked instead: the row and its history say who had it and who ended it

    @admin.action(description="Revoke selected tokens", permissions=["change"])
    def revoke_selected(self, request, queryset):
        revoked = 0
        for token in queryset.order_by("pk"):
            try:
                services.token_revoke(token=token, actor=request.user)
            except ValidationError as exc:
                self.message_user(request, f"{token}: {' '.join(exc.messages)}", level=messages.WARNING)
            else:
                revoked += 1
        if revoked:
            self.message_user(request, f"{revoked} token{'' if revoked == 1 else 's'} revoked.", level=messages.SUCCESS)
