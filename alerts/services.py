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

from audit.actors import acting_as, system_user
from incidents.models import Incident, IncidentType, Severity, TimelineEntry
from incidents.services import incident_declare, timeline_record

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


def _receive_one(alert: AlertIn, group_key: str, actor) -> str:
    """One alert in its own transaction. Returns what happened, for the response."""
    now = timezone.now()
    with transaction.atomic(), acting_as(actor, "Alertmanager webhook"):
        row, created = Alert.objects.get_or_create(
            fingerprint=alert.fingerprint,
            starts_at=alert.starts_at,
            defaults={
                "group_key": group_key,
                "status": alert.status,
                "ends_at": alert.ends_at if alert.status == Alert.Status.RESOLVED else None,
                "labels": alert.labels,
                "annotations": alert.annotations,
                "generator_url": alert.generator_url,
                "payload": alert.raw,
                "received_at": now,
                "resolved_payload": alert.raw if alert.status == Alert.Status.RESOLVED else None,
                "resolved_received_at": now if alert.status == Alert.Status.RESOLVED else None,
            },
        )
        name = alert.labels.get("alertname", "alert")
        data = _alert_data(alert, group_key)
        if alert.status == Alert.Status.FIRING:
            if not created:
                return "duplicate"
            incident, declared = _open_or_declare(alert, group_key, actor)
            row.incident = incident
            row.save()
            timeline_record(
                incident=incident,
                actor=actor,
                kind=TimelineEntry.Kind.ALERT,
                occurred_at=min(alert.starts_at, now),
                text=f"Alert firing: {_title_for(alert)}",
                data=data,
            )
            return "declared" if declared else "added"
        # Resolved: recorded, never resolving the incident (a human verifies resolution).
        if not created:
            row = Alert.objects.select_for_update().get(pk=row.pk)
            if row.status == Alert.Status.RESOLVED:
                return "duplicate"
            row.status = Alert.Status.RESOLVED
            row.ends_at = alert.ends_at
            row.resolved_payload = alert.raw
            row.resolved_received_at = now
        incident = row.incident or _open_incident(incident_group_key(group_key))
        row.incident = incident
        row.save()
        if incident is None:
            return "resolved-unmatched"
        timeline_record(
            incident=incident,
            actor=actor,
            kind=TimelineEntry.Kind.ALERT,
            occurred_at=min(alert.ends_at or now, now),
            text=f"Alert resolved: {name}. The incident stays open until a responder verifies the resolution.",
            data=data,
        )
        return "resolved"


def alerts_receive(*, payload: PayloadIn) -> dict[str, int]:
    """Record a webhook's alerts against their group's incident. Returns counts by outcome."""
    actor = system_user()
    counts: dict[str, int] = {}
    for alert in payload.alerts:
        outcome = _receive_one(alert, payload.group_key, actor)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts
