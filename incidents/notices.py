"""Who hears about what: the portal's notices, queued through the outbox.

Every function here is called inside the service transaction that caused the
notice and only writes outbox rows (unique keys, published on commit), so a web
request never waits on Slack, SMTP or the broker and never fails because of
them; the outbox delivers and retries.

- incident declared, severity changed, resolved: email to the severity's
  distribution list (NOTIFY_EMAILS_SEV<n>) and a Slack message to #incidents
  when SLACK_WEBHOOK_URL is set.

- status updates (`status_update_sent`), one notice per update under its own key:
  internal ones to #incidents on Slack and the severity's distribution list;
  stakeholder ones to the severity's stakeholder list (STAKEHOLDER_EMAILS_SEV<n>).
  Customer-facing updates reach the status page's subscribers through `statuspage`,
  which listens to `incidents.events.status_update_posted`; regulator updates are
  read from the incident by the regulatory reports, and send nothing themselves.
"""

from django.conf import settings

from notifications.models import OutboxMessage
from notifications.services import email_enqueue, outbox_enqueue
from portal.display import duration_text, person_name

from .models import Incident, StatusUpdate


def distribution_list(level: int) -> list[str]:
    return list(settings.INCIDENT_EMAIL_LISTS.get(level, []))


def stakeholder_list(level: int) -> list[str]:
    return list(settings.STAKEHOLDER_EMAIL_LISTS.get(level, []))


def _incident_url(incident: Incident) -> str:
    return f"{settings.SITE_URL}{incident.get_absolute_url()}"


def _slack(key: str, text: str) -> None:
    if settings.SLACK_WEBHOOK_URL:
        outbox_enqueue(key=f"{key}:slack", channel=OutboxMessage.Channel.SLACK, body_text=text)


def incident_declared(incident: Incident) -> None:
    key = f"incident-declared:{incident.pk}"
    email_enqueue(
        key=f"{key}:email",
        template="incident_declared",
        context={"incident": incident, "update_every": duration_text(incident.severity.update_interval)},
        recipients=distribution_list(incident.severity.level),
    )
    _slack(
        key,
        f":rotating_light: {incident.severity.code} incident declared: <{_incident_url(incident)}|"
        f"{incident.reference}> {incident.title} ({incident.get_detection_source_display().lower()})"
        + (f"\nConference bridge: {incident.bridge_url}" if incident.bridge_url else ""),
    )


def incident_severity_changed(incident: Incident, *, old, reason: str, change_id) -> None:
    """`change_id` tells one change from the next (the timeline entry that records it)."""
    key = f"incident-severity:{incident.pk}:{change_id}"
    email_enqueue(
        key=f"{key}:email",
        template="incident_severity_changed",
        context={"incident": incident, "old": old, "reason": reason},
        recipients=distribution_list(old.level) + distribution_list(incident.severity.level),
    )
    _slack(
        key,
        f":arrows_counterclockwise: <{_incident_url(incident)}|{incident.reference}> severity changed "
        f"from {old.code} to {incident.severity.code}: {incident.title}",
    )


def incident_resolved(incident: Incident) -> None:
    # An incident can be reopened and resolved again: each resolution is its own notice.
    key = f"incident-resolved:{incident.pk}:{incident.resolved_at:%Y%m%dT%H%M%S.%f}"
    email_enqueue(
        key=f"{key}:email",
        template="incident_resolved",
        context={"incident": incident},
        recipients=distribution_list(incident.severity.level),
    )
    _slack(
        key,
        f":white_check_mark: <{_incident_url(incident)}|{incident.reference}> resolved "
        f"({incident.severity.code}): {incident.title}",
    )


def status_update_sent(update: StatusUpdate) -> None:
    """An internal or stakeholder update to its channels, each once (the update's id is in the key)."""
    incident = update.incident
    A = StatusUpdate.Audience
    if update.audience == A.INTERNAL:
        recipients = distribution_list(incident.severity.level)
    elif update.audience == A.STAKEHOLDERS:
        recipients = stakeholder_list(incident.severity.level)
    else:
        return
    key = f"status-update:{update.pk}"
    audience = update.get_audience_display()
    email_enqueue(
        key=f"{key}:email",
        template="incident_update",
        context={
            "incident": incident,
            "update": update,
            "audience": audience,
            "author_name": person_name(update.author) if update.author else "",
        },
        recipients=recipients,
    )
    if update.audience == A.INTERNAL:
        _slack(
            key,
            f":speech_balloon: <{_incident_url(incident)}|{incident.reference}> internal update "
            f"({incident.severity.code}, {incident.get_status_display().lower()}): {update.body}",
        )
