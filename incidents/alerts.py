"""Alert intake from Prometheus Alertmanager (webhook payload version 4).

`parse_payload` turns a request body into validated `AlertIn` values or raises
`PayloadError` (the view answers 400 with its message). `alerts_receive` is the
service: it groups alerts by Alertmanager's groupKey into incidents.

Alertmanager delivers at least once: it retries on 5xx and both members of an HA
pair send the same notification. Every write here is therefore idempotent and
race-safe by database constraint, not by a read-then-write check:
- an alert is unique by (fingerprint, startsAt), so a re-delivery finds its row;
- an open incident is unique per alert group (a partial unique index), so two
  concurrent deliveries cannot open two incidents for one group.
"""

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from .audit import acting_as, system_user
from .models import Alert, Incident, IncidentType, Severity, TimelineEntry
from .services import incident_declare

logger = logging.getLogger(__name__)

SUPPORTED_VERSION = "4"
MAX_ALERTS = 1000
MAX_STRING = 10_000
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)


class PayloadError(ValueError):
    """The body is not a valid Alertmanager v4 webhook payload; the message says why."""


@dataclass(frozen=True)
class AlertIn:
    status: str
    labels: dict
    annotations: dict
    starts_at: datetime
    ends_at: datetime | None
    generator_url: str
    fingerprint: str
    raw: dict


@dataclass(frozen=True)
class PayloadIn:
    group_key: str
    status: str
    alerts: list[AlertIn]


def _reject_constant(name):
    raise PayloadError(f"Invalid JSON: {name} is not allowed.")


def _check_strings(value, path="payload"):
    """PostgreSQL cannot store NUL characters or lone surrogates; refuse them up front."""
    if isinstance(value, str):
        if "\x00" in value:
            raise PayloadError(f"{path} contains a NUL character.")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise PayloadError(f"{path} is not valid UTF-8 text.") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings(key, path)
            _check_strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_strings(item, f"{path}[{index}]")


def _string(obj: dict, name: str, path: str, *, required=True, max_length=MAX_STRING) -> str:
    value = obj.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise PayloadError(f"{path}.{name} must be a string.")
    if required and not value:
        raise PayloadError(f"{path}.{name} must not be empty.")
    if len(value) > max_length:
        raise PayloadError(f"{path}.{name} is longer than {max_length} characters.")
    return value


def _string_map(obj: dict, name: str, path: str) -> dict:
    value = obj.get(name, {})
    if value is None:
        value = {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise PayloadError(f"{path}.{name} must be an object of strings.")
    return value


def _timestamp(obj: dict, name: str, path: str, *, required=True) -> datetime | None:
    text = _string(obj, name, path, required=required, max_length=64)
    if not text:
        return None
    try:
        value = parse_datetime(text)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise PayloadError(f"{path}.{name} is not an RFC 3339 timestamp.")
    try:
        value = value.astimezone(UTC)
    except OverflowError:
        raise PayloadError(f"{path}.{name} is out of range.") from None
    # Alertmanager sends 0001-01-01T00:00:00Z for "no end yet".
    return value if value >= EARLIEST else None


def parse_payload(body: bytes) -> PayloadIn:
    """Validate an Alertmanager webhook body strictly; raise PayloadError with a reason."""
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise PayloadError("The body is not UTF-8.") from None
    except (json.JSONDecodeError, RecursionError) as exc:
        raise PayloadError(f"Invalid JSON: {exc}"[:200]) from None
    if not isinstance(data, dict):
        raise PayloadError("The payload must be a JSON object.")
    _check_strings(data)
    version = data.get("version")
    if version != SUPPORTED_VERSION:
        raise PayloadError(f"Unsupported payload version {version!r}; expected {SUPPORTED_VERSION!r}.")
    group_key = _string(data, "groupKey", "payload")
    status = data.get("status")
    if status not in Alert.Status.values:
        raise PayloadError("payload.status must be 'firing' or 'resolved'.")
    alerts = data.get("alerts")
    if not isinstance(alerts, list) or not alerts:
        raise PayloadError("payload.alerts must be a non-empty list.")
    if len(alerts) > MAX_ALERTS:
        raise PayloadError(f"payload.alerts holds more than {MAX_ALERTS} alerts.")
    parsed = []
    for index, raw in enumerate(alerts):
        path = f"alerts[{index}]"
        if not isinstance(raw, dict):
            raise PayloadError(f"{path} must be an object.")
        alert_status = raw.get("status")
        if alert_status not in Alert.Status.values:
            raise PayloadError(f"{path}.status must be 'firing' or 'resolved'.")
        starts_at = _timestamp(raw, "startsAt", path)
        if starts_at is None:
            raise PayloadError(f"{path}.startsAt is before the year 2000.")
        parsed.append(
            AlertIn(
                status=alert_status,
                labels=_string_map(raw, "labels", path),
                annotations=_string_map(raw, "annotations", path),
                starts_at=starts_at,
                ends_at=_timestamp(raw, "endsAt", path, required=False),
                generator_url=_string(raw, "generatorURL", path, required=False),
                fingerprint=_string(raw, "fingerprint", path, max_length=100),
                raw=raw,
            )
        )
    return PayloadIn(group_key=group_key, status=status, alerts=parsed)


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
            TimelineEntry.objects.create(
                incident=incident,
                kind=TimelineEntry.Kind.ALERT,
                occurred_at=min(alert.starts_at, now),
                text=f"Alert firing: {_title_for(alert)}",
                author=actor,
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
        TimelineEntry.objects.create(
            incident=incident,
            kind=TimelineEntry.Kind.ALERT,
            occurred_at=min(alert.ends_at or now, now),
            text=f"Alert resolved: {name}. The incident stays open until a responder verifies the resolution.",
            author=actor,
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
