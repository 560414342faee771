"""The post-mortem emails: one function per email, each rendered from
`templates/emails/<name>_subject.txt`, `_body.txt` and `_body.html`, and queued
through the shared outbox under the reminder's unique key (so it is queued once,
and a failed send is retried with backoff)."""

from notifications.services import email_enqueue
from portal.display import person_name

from .models import ActionItem, Reminder


def _context(reminder: Reminder, now) -> dict:
    target = reminder.target
    postmortem = target.postmortem
    if isinstance(target, ActionItem):
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
        "due_at": target.due_at,
        "now": now,
        "link": target.get_absolute_url(),
    }


def send_reminder(*, reminder: Reminder, recipients, now):
    """To the owner, before the deadline."""
    return email_enqueue(
        key=reminder.outbox_key, template="postmortem_reminder", context=_context(reminder, now), recipients=recipients
    )


def send_overdue_notice(*, reminder: Reminder, recipients, now):
    """To the owner, at the deadline."""
    return email_enqueue(
        key=reminder.outbox_key, template="postmortem_overdue", context=_context(reminder, now), recipients=recipients
    )


def send_escalation(*, reminder: Reminder, recipients, now, emergency_contacts=()):
    """To the owner, the Incident Commander and the Technical Lead after the grace period; for the
    configured severities also to the emergency contacts, whose phone numbers it lists (the runbook
    escalates by phone, and most have no email address)."""
    return email_enqueue(
        key=reminder.outbox_key,
        template="postmortem_escalation",
        context={**_context(reminder, now), "emergency_contacts": emergency_contacts},
        recipients=recipients,
    )


SENDERS = {
    Reminder.Kind.BEFORE: send_reminder,
    Reminder.Kind.OVERDUE: send_overdue_notice,
    Reminder.Kind.ESCALATION: send_escalation,
}


def send_deadline_notice(*, reminder: Reminder, recipients, now, emergency_contacts=()):
    """Queue the email for `reminder`'s kind. Returns (OutboxMessage, created), or None with no recipients."""
    if reminder.kind == Reminder.Kind.ESCALATION:
        return send_escalation(reminder=reminder, recipients=recipients, now=now, emergency_contacts=emergency_contacts)
    return SENDERS[reminder.kind](reminder=reminder, recipients=recipients, now=now)
