"""The post-mortem emails: one function per email, each rendered from
`templates/emails/<name>_subject.txt`, `_body.txt` and `_body.html` into an
outbox message under the reminder's unique key, not saved yet: the deadline
sweep queues a batch of them at once (`outbox_enqueue_many`), each once, and a
failed send is retried with backoff."""

from notifications.models import OutboxMessage
from notifications.services import email_message
from portal.display import person_name
from regulatory import emails as regulatory_emails

from .models import ActionItem, Reminder


def _context(reminder: Reminder, now) -> dict:
    target = reminder.target
    postmortem = target.postmortem
    verifying = reminder.kind in Reminder.VERIFICATION_KINDS
    if verifying:
        what, owner = f"Verification of “{target.title}”", target.owner
    elif isinstance(target, ActionItem):
        what, owner = f"Action item “{target.title}”", target.owner
    else:
        what, owner = target.get_kind_display(), postmortem.owner
    return {
        "reminder": reminder,
        "target": target,
        "what": what,
        "owner_name": person_name(owner) if owner else "nobody",
        "postmortem": postmortem,
        "incident": postmortem.incident,
        "due_at": target.verify_by if verifying else target.due_at,
        "now": now,
        "link": target.get_absolute_url(),
    }


def reminder_email(*, reminder: Reminder, recipients, now) -> OutboxMessage | None:
    """To the owner, before the deadline."""
    return email_message(
        key=reminder.outbox_key, template="postmortem_reminder", context=_context(reminder, now), recipients=recipients
    )


def overdue_email(*, reminder: Reminder, recipients, now) -> OutboxMessage | None:
    """To the owner, at the deadline."""
    return email_message(
        key=reminder.outbox_key, template="postmortem_overdue", context=_context(reminder, now), recipients=recipients
    )


def escalation_email(*, reminder: Reminder, recipients, now, emergency_contacts=()) -> OutboxMessage | None:
    """To the owner, the Incident Commander and the Technical Lead after the grace period; for the
    configured severities also to the emergency contacts, whose phone numbers it lists (the runbook
    escalates by phone, and most have no email address)."""
    return email_message(
        key=reminder.outbox_key,
        template="postmortem_escalation",
        context={**_context(reminder, now), "emergency_contacts": emergency_contacts},
        recipients=recipients,
    )


def verification_reminder_email(*, reminder: Reminder, recipients, now) -> OutboxMessage | None:
    """To the verifiers of a preventive measure marked done, before its verify-by time: its success
    metric and evidence, and where to verify it or send it back."""
    return email_message(
        key=reminder.outbox_key,
        template="postmortem_verify_reminder",
        context=_context(reminder, now),
        recipients=recipients,
    )


def verification_escalation_email(*, reminder: Reminder, recipients, now) -> OutboxMessage | None:
    """To the verifiers and the Technical Lead, once the verify-by time and the grace period have passed."""
    return email_message(
        key=reminder.outbox_key,
        template="postmortem_verify_escalation",
        context=_context(reminder, now),
        recipients=recipients,
    )


def deadline_notice(*, reminder: Reminder, recipients, now, emergency_contacts=()) -> OutboxMessage | None:
    """The unsaved email for `reminder`'s kind; None with no recipients."""
    if reminder.report_clock_id is not None:
        return regulatory_emails.deadline_notice(
            reminder=reminder, recipients=recipients, now=now, emergency_contacts=emergency_contacts
        )
    if reminder.kind == Reminder.Kind.VERIFY:
        return verification_reminder_email(reminder=reminder, recipients=recipients, now=now)
    if reminder.kind == Reminder.Kind.VERIFY_ESCALATION:
        return verification_escalation_email(reminder=reminder, recipients=recipients, now=now)
    if reminder.kind == Reminder.Kind.ESCALATION:
        return escalation_email(
            reminder=reminder, recipients=recipients, now=now, emergency_contacts=emergency_contacts
        )
    if reminder.kind == Reminder.Kind.OVERDUE:
        return overdue_email(reminder=reminder, recipients=recipients, now=now)
    return reminder_email(reminder=reminder, recipients=recipients, now=now)
