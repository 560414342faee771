"""Alert intake: alerts grouped by Alertmanager's groupKey into incidents.

Alertmanager delivers at least once: it retries on 5xx and both members of an HA
pair send the same notification. Every write here is therefore idempotent and
race-safe by database constraint, not by a read-then-write check:
- an alert is unique by (fingerprint, startsAt), so a re-delivery finds its row;
- an open incident is unique per alert group (a partial unique index), so two
  concurrent deliveries cannot open two incidents for one group.
"""

import hashlib
import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from audit.actors import acting_as, system_user
from incidents.models import Incident, IncidentType, Severity, TimelineEntry
from incidents.services import incident_declare, timeline_record_many

from .models import Alert
from .payload import MAX_STRING, AlertIn, PayloadIn

logger = logging.getLogger(__name__)


def incident_group_key(group_key: str) -> str:
    """The groupKey as stored on Incident.alert_group_key (255 characters at most)."""
    if len(group_key) <= 255:
        return group_key
    return "sha256:" + hashlib.sha256(group_key.encode()).hexdigest()


def _severity_for(labels: dict) -> Severity:
    level = settings.ALERT_SEVERITY_MAP.get(labels.get("severity", "").strip().lower(), settings.ALERT_DEFAULT_SEVERITY)
    severity = Severity.objects.filter(level=level).first()
    return severity or Severity.objects.get(level=settings.ALERT_DEFAULT_SEVERITY)


def _type_for(labels: dict) -> IncidentType:
    slug = labels.get(settings.ALERT_TYPE_LABEL, "").strip()
    incident_type = IncidentType.objects.filter(slug=slug).first() if slug else None
    return incident_type or IncidentType.objects.get(slug="other")


def _title_for(alert: AlertIn) -> str:
    name = alert.labels.get("alertname", "Alert")
    summary = alert.annotations.get("summary") or alert.annotations.get("title") or ""
    title = f"{name}: {summary}" if summary else name
    return " ".join(title.split())[:200] or "Alert"


def _alert_data(alert: AlertIn, group_key: str) -> dict:
    return {
        "alert": alert.fingerprint,
        "group_key": group_key,
        "labels": alert.labels,
        "annotations": alert.annotations,
        "generator_url": alert.generator_url,
        "starts_at": alert.starts_at.isoformat(),
    }


def _open_incident(key: str) -> Incident | None:
    return Incident.objects.open().filter(alert_group_key=key).first()


def _open_or_declare(alert: AlertIn, group_key: str, actor) -> tuple[Incident, bool]:
    key = incident_group_key(group_key)
    incident = _open_incident(key)
    if incident:
        return incident, False
    try:
        with transaction.atomic():
            incident = incident_declare(
                actor=actor,
                title=_title_for(alert),
                description=alert.annotations.get("description", "")[:MAX_STRING],
                severity=_severity_for(alert.labels),
                incident_type=_type_for(alert.labels),
                detection_source=Incident.DetectionSource.ALERT,
                detected_at=min(alert.starts_at, timezone.now()),
                alert_group_key=key,
                reason="Alertmanager webhook",
            )
        return incident, True
    except IntegrityError:
        # Another delivery opened the group's incident first (the partial unique
        # index on alert_group_key); it is committed now, so join it.
        incident = _open_incident(key)
        if incident is None:
            raise
        return incident, False


def _new_row(alert: AlertIn, group_key: str, incident, now) -> Alert:
    resolved = alert.status == Alert.Status.RESOLVED
    return Alert(
        incident=incident,
        group_key=group_key,
        fingerprint=alert.fingerprint,
        starts_at=alert.starts_at,
        status=alert.status,
        ends_at=alert.ends_at if resolved else None,
        labels=alert.labels,
        annotations=alert.annotations,
        generator_url=alert.generator_url,
        payload=alert.raw,
        received_at=now,
        resolved_payload=alert.raw if resolved else None,
        resolved_received_at=now if resolved else None,
    )


def _firing_entry(alert: AlertIn, group_key: str, incident, actor, now) -> TimelineEntry:
    return TimelineEntry(
        incident=incident,
        kind=TimelineEntry.Kind.ALERT,
        occurred_at=min(alert.starts_at, now),
        text=f"Alert firing: {_title_for(alert)}",
        author=actor,
        data=_alert_data(alert, group_key),
    )


def _resolved_entry(alert: AlertIn, group_key: str, incident, actor, now) -> TimelineEntry:
    name = alert.labels.get("alertname", "alert")
    return TimelineEntry(
        incident=incident,
        kind=TimelineEntry.Kind.ALERT,
        occurred_at=min(alert.ends_at or now, now),
        text=f"Alert resolved: {name}. The incident stays open until a responder verifies the resolution.",
        author=actor,
        data=_alert_data(alert, group_key),
    )


def _receive(payload: PayloadIn, actor, now) -> dict[str, int]:
    """The whole delivery in one transaction and a fixed number of statements:
    one read of the alerts already stored, one INSERT of the new ones, one
    UPDATE of the newly resolved ones, one INSERT of timeline entries (each with
    its history rows), however many alerts the delivery holds."""
    counts: dict[str, int] = {}

    def count(outcome, n=1):
        counts[outcome] = counts.get(outcome, 0) + n

    group_key = payload.group_key
    key = incident_group_key(group_key)
    unique: dict[tuple, AlertIn] = {}
    for alert in payload.alerts:
        occurrence = (alert.fingerprint, alert.starts_at)
        if occurrence in unique and unique[occurrence].status == alert.status:
            count("duplicate")  # the same alert twice in one delivery
        else:
            unique[occurrence] = alert  # a later "resolved" supersedes an earlier "firing"
    fingerprints = {fingerprint for fingerprint, _ in unique}
    stored = {
        (row.fingerprint, row.starts_at): row
        for row in Alert.objects.select_for_update().filter(fingerprint__in=fingerprints)
        if (row.fingerprint, row.starts_at) in unique
    }
    new = [alert for occurrence, alert in unique.items() if occurrence not in stored]
    new_firing = [alert for alert in new if alert.status == Alert.Status.FIRING]
    incident, declared = _open_or_declare(new_firing[0], group_key, actor) if new_firing else (None, False)
    if incident is None and any(alert.status == Alert.Status.RESOLVED for alert in unique.values()):
        incident = _open_incident(key)
    entries = []
    rows = []
    for alert in new:
        if alert.status == Alert.Status.FIRING:
            rows.append(_new_row(alert, group_key, incident, now))
            entries.append(_firing_entry(alert, group_key, incident, actor, now))
        else:
            rows.append(_new_row(alert, group_key, incident, now))
            if incident is not None:
                entries.append(_resolved_entry(alert, group_key, incident, actor, now))
            count("resolved" if incident is not None else "resolved-unmatched")
    if new_firing:
        count("declared" if declared else "added", 1 if declared else len(new_firing))
        if declared and len(new_firing) > 1:
            count("added", len(new_firing) - 1)
    # Resolved: recorded, never resolving the incident (a human verifies resolution).
    resolving = []
    for occurrence, row in stored.items():
        alert = unique[occurrence]
        if alert.status == Alert.Status.FIRING or row.status == Alert.Status.RESOLVED:
            count("duplicate")
            continue
        row.status = Alert.Status.RESOLVED
        row.ends_at = alert.ends_at
        row.resolved_payload = alert.raw
        row.resolved_received_at = now
        row.incident = row.incident or incident
        resolving.append(row)
        if row.incident is None:
            count("resolved-unmatched")
        else:
            entries.append(_resolved_entry(alert, group_key, row.incident, actor, now))
            count("resolved")
    reason = "Alertmanager webhook"
    if rows:
        bulk_create_with_history(rows, Alert, default_user=actor, default_change_reason=reason)
    if resolving:
        fields = ["status", "ends_at", "resolved_payload", "resolved_received_at", "incident"]
        bulk_update_with_history(resolving, Alert, fields, default_user=actor, default_change_reason=reason)
    timeline_record_many(entries=entries, actor=actor, reason=reason)
    return counts


def alerts_receive(*, payload: PayloadIn) -> dict[str, int]:
    """Record a webhook's alerts against their group's incident, in one transaction. Returns counts by outcome.

    Two deliveries of the same alerts at once (an HA pair) serialise on the
    unique (fingerprint, startsAt) index: the loser's insert fails, and it runs
    again and finds the winner's rows, so it records nothing twice.
    """
    actor = system_user()
    for attempt in range(3):
        try:
            with transaction.atomic(), acting_as(actor, "Alertmanager webhook"):
                return _receive(payload, actor, timezone.now())
        except IntegrityError:
            if attempt == 2:
                raise
            logger.info("Alertmanager group %s: a concurrent delivery stored some alerts first", payload.group_key)
    raise AssertionError("unreachable")
