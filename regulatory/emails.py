"""Regulatory reporting's emails about a report clock's deadline, one function per email, each
rendered from `templates/emails/<name>_subject.txt`, `_body.txt` and `_body.html` into an outbox
message under the reminder's unique key, not saved yet: the deadline sweep (postmortems) queues a
batch of them at once, each once, for the reminder rows it keeps for report clocks."""

from notifications.models import OutboxMessage
from notifications.services import email_message


def _context(reminder, now, **extra) -> dict:
    clock = reminder.report_clock
    return {
        "clock": clock,
        "obligation": clock.obligation,
        "incident": clock.incident,
        "due_at": clock.due_at,
        "now": now,
        "link": clock.get_absolute_url(),
        **extra,
    }


def reminder_email(*, reminder, recipients, now) -> OutboxMessage | None:
    """To the Incident Commander and the Communications Lead, before the deadline."""
    return email_message(
        key=reminder.outbox_key, template="regulatory_reminder", context=_context(reminder, now), recipients=recipients
    )


def overdue_email(*, reminder, recipients, now) -> OutboxMessage | None:
    """To the Incident Commander and the Communications Lead, at the deadline."""
    return email_message(
        key=reminder.outbox_key, template="regulatory_overdue", context=_context(reminder, now), recipients=recipients
    )


def escalation_email(*, reminder, recipients, now, emergency_contacts=()) -> OutboxMessage | None:
    """To them and the emergency contacts (whose phone numbers it lists) once the grace has passed."""
    return email_message(
        key=reminder.outbox_key,
        template="regulatory_escalation",
        context=_context(reminder, now, emergency_contacts=emergency_contacts),
        recipients=recipients,
    )


def deadline_notice(*, reminder, recipients, now, emergency_contacts=()) -> OutboxMessage | None:
    """The unsaved email for a report clock's reminder of `reminder.kind`; None with no recipients."""
    if reminder.kind == "escalation":
        return escalation_email(
            reminder=reminder, recipients=recipients, now=now, emergency_contacts=emergency_contacts
        )
    if reminder.kind == "overdue":
        return overdue_email(reminder=reminder, recipients=recipients, now=now)
    return reminder_email(reminder=reminder, recipients=recipients, now=now)
