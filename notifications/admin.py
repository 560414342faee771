"""The outbox in the admin: what was sent, what waits, what failed and why."""

from django.contrib import admin

from audit.admin import NoRevertHistoryAdmin

from .models import OutboxMessage


@admin.register(OutboxMessage)
class OutboxMessageAdmin(NoRevertHistoryAdmin):
    list_display = ["key", "channel", "subject", "status", "attempts", "next_attempt_at", "sent_at"]
    list_filter = ["status", "channel"]
    search_fields = ["key", "subject"]
    readonly_fields = ["key", "channel", "recipients", "subject", "body_text", "body_html", "sent_at", "attempts"]
