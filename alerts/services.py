"""Alert intake: alerts grouped by Alertmanager's groupKey into incidents.

Alertmanager delivers at least once: it retries on 5xx and both members of an HA
pair send the same notification. Every write here is therefore idempotent and
race-safe by database constraint, not by a read-then-write check:
- an alert is unique by (fingerprint, startsAt), so a re-delivery finds its row;
- an open incident is unique per alert group (a partial unique index), so two
  concurrent deliveries cannot open two incidents for one group.
A repeat, by far the most common delivery, is told apart by one read and writes nothing.
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


REASON = "Alertmanager webhook"


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
    """The group's open incident, declared from `alert` if there is none.

    Called outside the transaction that records the alerts, so that the declaration's
    reference is drawn in its own short transaction (see `incident_declare`). Two
    deliveries of one new group both find no incident and both declare: the partial
    unique index on alert_group_key lets one commit, and the other's insert fails once
    the winner has committed, rolled back to `incident_declare`'s own savepoint. The loser
    then reads the winner's incident and joins it (its reference number is left unused).
    """
    key = incident_group_key(group_key)
    incident = _open_incident(key)
    if incident:
        return incident, False
    try:
        incident = incident_declare(
            actor=actor,
            title=_title_for(alert),
            description=alert.annotations.get("description", "")[:MAX_STRING],
            severity=_severity_for(alert.labels),
            incident_type=_type_for(alert.labels),
            detection_source=Incident.DetectionSource.ALERT,
            detected_at=min(alert.starts_at, timezone.now()),
            alert_group_key=key,
            reason=REASON,
        )
        return incident, True
    except IntegrityError:
        incident = _open_incident(key)
        if incident is None:
            raise  # not the group's constraint, or its incident closed meanwhile: Alertmanager retries
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


def _firing_entry(alert: AlertIn, group_key: str, incident_id: int, actor, now) -> TimelineEntry:
    return TimelineEntry(
        incident_id=incident_id,
        kind=TimelineEntry.Kind.ALERT,
        occurred_at=min(alert.starts_at, now),
        text=f"Alert firing: {_title_for(alert)}",
        author=actor,
        data=_alert_data(alert, group_key),
    )


def _resolved_entry(alert: AlertIn, group_key: str, incident_id: int, actor, now) -> TimelineEntry:
    name = alert.labels.get("alertname", "alert")
    return TimelineEntry(
        incident_id=incident_id,
        kind=TimelineEntry.Kind.ALERT,
        occurred_at=min(alert.ends_at or now, now),
        text=f"Alert resolved: {name}. The incident stays open until a responder verifies the resolution.",
        author=actor,
        data=_alert_data(alert, group_key),
    )


def _distinct(payload: PayloadIn) -> tuple[dict[tuple, AlertIn], int]:
    """The delivery's alerts by occurrence (fingerprint, startsAt), and how many were repeated within it.
    A later "resolved" supersedes an earlier "firing" of the same occurrence."""
    unique: dict[tuple, AlertIn] = {}
    repeated = 0
    for alert in payload.alerts:
        occurrence = (alert.fingerprint, alert.starts_at)
        if occurrence in unique and unique[occurrence].status == alert.status:
            repeated += 1
        else:
            unique[occurrence] = alert
    return unique, repeated


def _known(unique: dict[tuple, AlertIn]) -> dict[tuple, str]:
    """Status of each occurrence already stored: one indexed read, no lock, no transaction."""
    fingerprints = {fingerprint for fingerprint, _ in unique}
    rows = Alert.objects.filter(fingerprint__in=fingerprints).values_list("fingerprint", "starts_at", "status")
    return {
        (fingerprint, starts_at): status
        for fingerprint, starts_at, status in rows
        if (fingerprint, starts_at) in unique
    }


def _changes_anything(alert: AlertIn, known_status: str | None) -> bool:
    """A new occurrence, or a stored firing one now resolved; anything else is a repeat."""
    if known_status is None:
        return True
    return alert.status == Alert.Status.RESOLVED and known_status != Alert.Status.RESOLVED


def _record(
    unique: dict[tuple, AlertIn], known: dict[tuple, str], group_key: str, incident, actor, now
) -> dict[str, int]:
    """Store the new occurrences and the newly resolved ones, inside the caller's transaction,
    in a fixed number of statements: one locking read of the rows to resolve (only if any),
    one INSERT of the new rows, one UPDATE of the resolved ones, one INSERT of timeline
    entries, each with one INSERT of its history rows, however many alerts there are.

    New rows go in sorted by occurrence, and rows to resolve are locked in that order, so
    two deliveries sharing alerts wait on each other rather than deadlock; a concurrent
    delivery that stored one of them first makes the INSERT fail, and the caller tries again.
    """
    counts: dict[str, int] = {}

    def count(outcome, n=1):
        counts[outcome] = counts.get(outcome, 0) + n

    to_resolve = [
        occurrence
        for occurrence, alert in unique.items()
        if occurrence in known and _changes_anything(alert, known[occurrence])
    ]
    stored = {}
    if to_resolve:
        rows = (
            Alert.objects.select_for_update()
            .filter(fingerprint__in={f for f, _ in to_resolve})
            .order_by("fingerprint", "starts_at")
        )
        stored = {(row.fingerprint, row.starts_at): row for row in rows if (row.fingerprint, row.starts_at) in unique}
    rows, entries, resolving = [], [], []
    for occurrence in sorted(unique):
        alert = unique[occurrence]
        if occurrence not in known:
            rows.append(_new_row(alert, group_key, incident, now))
            if alert.status == Alert.Status.FIRING:
                entries.append(_firing_entry(alert, group_key, incident.pk, actor, now))
                count("added")
            elif incident is not None:
                entries.append(_resolved_entry(alert, group_key, incident.pk, actor, now))
                count("resolved")
            else:
                count("resolved-unmatched")
            continue
        row = stored.get(occurrence)
        if row is None or alert.status == Alert.Status.FIRING or row.status == Alert.Status.RESOLVED:
            count("duplicate")  # delivered before, or resolved by a concurrent delivery since we looked
            continue
        # Resolved: recorded, never resolving the incident (a human verifies resolution).
        row.status = Alert.Status.RESOLVED
        row.ends_at = alert.ends_at
        row.resolved_payload = alert.raw
        row.resolved_received_at = now
        if row.incident_id is None and incident is not None:
            row.incident = incident
        resolving.append(row)
        if row.incident_id is None:
            count("resolved-unmatched")
        else:
            entries.append(_resolved_entry(alert, group_key, row.incident_id, actor, now))
            count("resolved")
    if rows:
        bulk_create_with_history(rows, Alert, default_user=actor, default_change_reason=REASON)
    if resolving:
        fields = ["status", "ends_at", "resolved_payload", "resolved_received_at", "incident"]
        bulk_update_with_history(resolving, Alert, fields, default_user=actor, default_change_reason=REASON)
    timeline_record_many(entries=entries, actor=actor, reason=REASON)
    return counts


def alerts_receive(*, payload: PayloadIn) -> dict[str, int]:
    """Record a webhook's alerts against their group's incident. Returns counts by outcome.

    A repeat (every alert already stored, none newly resolved) costs one indexed read and
    writes nothing. Otherwise the group's incident is found or declared first (in its own
    transactions, see `_open_or_declare`), then the alerts and their timeline entries are
    recorded in one transaction. Two deliveries of the same alerts at once (an HA pair)
    serialise on the unique (fingerprint, startsAt) index: the loser's insert fails, and it
    looks again and finds the winner's rows, so it records nothing twice.
    """
    unique, repeated = _distinct(payload)
    group_key = payload.group_key
    actor = None
    declared = False
    for attempt in range(3):
        known = _known(unique)
        changing = [alert for occurrence, alert in unique.items() if _changes_anything(alert, known.get(occurrence))]
        if not changing:
            return _reported(repeated, {"duplicate": len(unique)}, declared)
        actor = actor or system_user()
        new_firing = [alert for alert in changing if alert.status == Alert.Status.FIRING]
        if new_firing:
            incident, declared_now = _open_or_declare(new_firing[0], group_key, actor)
            declared = declared or declared_now
        else:
            incident = _open_incident(incident_group_key(group_key))
        try:
            with transaction.atomic(), acting_as(actor, REASON):
                counts = _record(unique, known, group_key, incident, actor, timezone.now())
            return _reported(repeated, counts, declared)
        except IntegrityError:
            if attempt == 2:
                raise
            logger.info("Alertmanager group %s: a concurrent delivery stored some alerts first", group_key)
    raise AssertionError("unreachable")


def _reported(repeated: int, counts: dict[str, int], declared: bool) -> dict[str, int]:
    """The outcome counts as reported: repeats within the delivery are duplicates too, and the
    alert that opened the incident counts as "declared" rather than "added"."""
    counts = dict(counts)
    if repeated:
        counts["duplicate"] = counts.get("duplicate", 0) + repeated
    if declared and counts.get("added"):
        counts["added"] -= 1
        counts["declared"] = 1
        if not counts["added"]:
            del counts["added"]
    return counts
