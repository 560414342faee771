"""The admin for approvals: staff read every request and its history here. Requests
are made, decided and withdrawn on the portal's pages only (through the services),
so that the second-person rule always applies; nothing is added, changed or deleted
here. Which severities need a second person is the Severity's "four eyes" switch."""

from django.contrib import admin

from incidents.admin import ReadOnlyAdmin

from .models import ApprovalRequest


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(ReadOnlyAdmin):
    list_display = ["incident", "action", "state", "requested_by", "requested_at", "decided_by", "decided_at"]
    list_filter = ["state", "action"]
    list_select_related = ["incident", "requested_by", "decided_by"]
    search_fields = ["incident__reference", "request_comment", "decision_comment"]
    readonly_fields = [
        "incident",
        "action",
        "state",
        "requested_by",
        "requested_at",
        "request_comment",
        "decided_by",
        "decided_at",
        "decision_comment",
        "used_at",
    ]
    fields = readonly_fields
