"""Every write to an incident goes through here: one function per action,
keyword-only arguments, an actor, one transaction, history attributed, and side
effects queued on commit."""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from audit.actors import acting_as
from notifications.services import email_enqueue
from portal.display import person_name

from . import notices
from .events import incident_closing, incident_resolved, status_update_posted
from .models import (
    ChecklistItem,
    Incident,
    IncidentType,
    ReferenceCounter,
    Role,
    RoleAssignment,
    RunbookStep,
    Severity,
    StatusUpdate,
    TimelineEntry,
)

S = Incident.Status

# The runbook's "Initial Response (0-15 minutes)" steps, copied onto every incident.
INITIAL_RESPONSE_STEPS = [
    "Acknowledge the incident: assign initial responder",
    "Acknowledge the incident: create incident ticket",
    "Acknowledge the incident: notify incident response team",
    "Assess impact: determine affected services",
    "Assess impact: estimate user impact",
    "Assess impact: classify severity level",
    "Begin documentation: record incident details",
    "Begin documentation: log initial findings",
    "Begin documentation: capture relevant metrics",
]

# action -> (statuses it may start from, status it leads to, timestamp field it sets)
TRANSITIONS = {
    "acknowledge": ({S.DETECTED}, S.ACKNOWLEDGED, "acknowledged_at"),
    "investigate": ({S.DETECTED, S.ACKNOWLEDGED, S.MITIGATING}, S.INVESTIGATING, "investigating_at"),
    "mitigate": ({S.ACKNOWLEDGED, S.INVESTIGATING}, S.MITIGATING, "mitigating_at"),
    "resolve": ({S.ACKNOWLEDGED, S.INVESTIGATING, S.MITIGATING}, S.RESOLVED, "resolved_at"),
    "reopen": ({S.RESOLVED, S.CLOSED}, S.INVESTIGATING, "investigating_at"),
    "close": ({S.RESOLVED}, S.CLOSED, "closed_at"),
}
TRANSITION_LABELS = {
    "acknowledge": "Acknowledge",
    "investigate": "Start investigation",
    "mitigate": "Start resolution",
    "resolve": "Resolve",
    "reopen": "Reopen",
    "close": "Close",
}


class TransitionNotAllowed(ValidationError):
    pass


def allowed_transitions(incident: Incident) -> list[str]:
    return [action for action, (sources, _, _) in TRANSITIONS.items() if incident.status in sources]


def timeline_record(*, incident, actor, text, kind=TimelineEntry.Kind.EVENT, occurred_at=None, data=None):
    """The one way an entry gets on an incident's timeline (services, alerts and sweeps alike).

    Called inside the caller's transaction and `acting_as` block, which give its history row who and why.
    """
    return TimelineEntry.objects.create(
        incident=incident,
        kind=kind,
        occurred_at=occurred_at or timezone.now(),
        text=text,
        author=actor,
        data=data or {},
    )


def timeline_record_many(*, entries: list[TimelineEntry], actor, reason: str) -> list[TimelineEntry]:
    """Many timeline entries at once (an alert storm): one INSERT for the rows and
    one for their history, attributed to `actor` with `reason`."""
    if not entries:
        return []
    return bulk_create_with_history(entries, TimelineEntry, default_user=actor, default_change_reason=reason)


def _highest_number(year: int) -> int:
    """The highest number among `year`'s references (numerically: INC-2026-10000 > INC-2026-9999)."""
    references = Incident.objects.filter(reference__startswith=f"INC-{year}-").values_list("reference", flat=True)
    return max((int(r.rsplit("-", 1)[1]) for r in references.iterator() if r.rsplit("-", 1)[1].isdigit()), default=0)


def _next_reference(year: int) -> str:
    """The next reference of `year`, from its counter row, in a transaction of its own.

    Concurrent declarations queue on the row's lock for three statements and a commit, not
    for a whole declaration: the lock serialises the numbers (no two declarations can read
    the same `last_number`) and the unique `reference` backs it. A declaration that fails
    after drawing its number leaves a gap, which is acceptable; a duplicate never happens.
    Inside a caller's transaction this block is a savepoint and the lock lasts until the
    caller commits: still correct, only slower under concurrency.
    """
    with transaction.atomic():
        counter = ReferenceCounter.objects.select_for_update().filter(year=year).first()
        if counter is None:
            # The year's first declaration (or the first since counters existed): start from what is there.
            try:
                with transaction.atomic():
                    ReferenceCounter.objects.create(year=year, last_number=_highest_number(year))
            except IntegrityError:
                pass  # a concurrent declaration created it; its lock orders us after it
            counter = ReferenceCounter.objects.select_for_update().get(year=year)
        counter.last_number += 1
        counter.save(update_fields=["last_number"])
    return f"INC-{year}-{counter.last_number:04d}"


def _update_due(severity: Severity, since: datetime):
    return since + severity.update_interval if severity.update_interval else None


def incident_declare(
    *,
    actor,
    title: str,
    severity: Severity,
    incident_type: IncidentType,
    detection_source: str,
    description: str = "",
    user_impact: str = "",
    services=(),
    detected_at: datetime | None = None,
    alert_group_key: str = "",
    reason: str = "Incident declared",
) -> Incident:
    """Open an incident: give it a reference, make the declarer its initial
    responder, and turn the runbook into its checklist.

    A fixed number of statements whatever the runbook's length: the runbook is read
    once, before any lock, and the incident, its services, its checklist and its first
    timeline entry are each one INSERT plus one INSERT of their history rows. The number
    is drawn first, in its own short transaction (`_next_reference`), so the counter row
    is not locked while the rest is written (unless the caller holds a transaction open).

    An open incident for `alert_group_key` already existing raises IntegrityError, with
    this declaration rolled back (to its savepoint inside a caller's transaction): the
    caller re-reads the incident that won.
    """
    detected_at = detected_at or timezone.now()
    steps = list(
        RunbookStep.objects.filter(incident_type=incident_type)
        .order_by("kind", "position")
        .values_list("kind", "position", "text")
    )
    services = list(services)
    with acting_as(actor, reason):
        reference = _next_reference(detected_at.year)
        with transaction.atomic():
            incident = Incident(
                reference=reference,
                title=title,
                description=description,
                severity=severity,
                incident_type=incident_type,
                detection_source=detection_source,
                user_impact=user_impact,
                detected_at=detected_at,
                next_update_due_at=_update_due(severity, detected_at),
                declared_by=actor,
                initial_responder=actor if actor and actor.is_active else None,
                alert_group_key=alert_group_key,
            )
            _insert_with_services(incident, services, actor=actor, reason=reason)
            _build_checklist(incident, steps, actor=actor, reason=reason)
            timeline_record(
                incident=incident,
                actor=actor,
                text=f"Incident declared as {severity.code} ({incident_type}), "
                f"detected by {incident.get_detection_source_display().lower()}.",
                occurred_at=detected_at,
            )
            notices.incident_declared(incident)
    return incident


def _insert_with_services(incident: Incident, services: list, *, actor, reason: str) -> None:
    """The new incident's row and its one history row, with its services recorded on that row.

    `save()` then `services.set()` would write two history rows (the creation, then the
    services as a change) and read the links back to copy them; this writes each table once.
    """
    Incident.objects.bulk_create([incident])
    [record] = Incident.history.bulk_history_create([incident], default_user=actor, default_change_reason=reason)
    if not services:
        return
    Link = Incident.services.through
    links = Link.objects.bulk_create([Link(incident=incident, service=service) for service in services])
    LinkHistory = record.services.model  # simple-history's table of the links each history row saw
    LinkHistory.objects.bulk_create(
        [LinkHistory(history=record, id=link.pk, incident=incident, service_id=link.service_id) for link in links]
    )


def _build_checklist(incident: Incident, steps, *, actor, reason: str) -> None:
    """The runbook's initial response and `steps` ((kind, position, text) of the type's runbook)
    as the incident's checklist: one INSERT of the items and one of their history rows."""
    items = [
        ChecklistItem(incident=incident, section=ChecklistItem.Section.INITIAL_RESPONSE, position=i, text=text)
        for i, text in enumerate(INITIAL_RESPONSE_STEPS, start=1)
    ]
    items += [
        ChecklistItem(incident=incident, section=kind, position=position, text=text) for kind, position, text in steps
    ]
    bulk_create_with_history(items, ChecklistItem, default_user=actor, default_change_reason=reason)


def incident_transition(*, incident: Incident, action: str, actor, note: str = "") -> Incident:
    """Move an incident to its next phase. Refuses a transition the runbook does not allow."""
    if action not in TRANSITIONS:
        raise TransitionNotAllowed(f"Unknown action “{action}”.")
    sources, target, stamp = TRANSITIONS[action]
    note = note.strip()
    with transaction.atomic(), acting_as(actor, f"Incident: {action}: {note}" if note else f"Incident: {action}"):
        incident = Incident.objects.select_for_update().select_related("severity").get(pk=incident.pk)
        if incident.status not in sources:
            raise TransitionNotAllowed(f"Cannot {action} an incident that is {incident.get_status_display().lower()}.")
        if action == "resolve" and not note:
            raise TransitionNotAllowed("Resolving needs a note on how the resolution was verified.")
        if action == "reopen" and not note:
            raise TransitionNotAllowed("Reopening needs a reason.")
        if action == "close":
            blockers = incident_close_blockers(incident)
            if blockers:
                raise TransitionNotAllowed(blockers)
        now = timezone.now()
        incident.status = target
        setattr(incident, stamp, now)
        if action == "resolve":
            incident.resolution_note = note
        if target in Incident.OPEN_STATUSES:
            if action == "reopen":
                incident.resolved_at = incident.closed_at = None
                incident.next_update_due_at = _update_due(incident.severity, now)
        else:
            incident.next_update_due_at = None
        incident.save()
        text = f"Status changed to {incident.get_status_display().lower()}."
        timeline_record(
            incident=incident, actor=actor, text=f"{text} {note}".strip() if note else text, occurred_at=now
        )
        if action == "resolve":
            incident_resolved.send(sender=Incident, incident=incident, actor=actor)
            notices.incident_resolved(incident)
    return incident


def incident_close_blockers(incident: Incident) -> list[str]:
    """The reasons an incident cannot be closed yet; empty when it can."""
    reasons = []
    if incident.status != S.RESOLVED:
        reasons.append("Only a resolved incident can be closed.")
    for _, objections in incident_closing.send(sender=Incident, incident=incident):
        reasons.extend(objections or [])
    return reasons


def incident_change_severity(*, incident: Incident, severity: Severity, actor, reason: str) -> Incident:
    reason = reason.strip()
    if not reason:
        raise ValidationError("A severity change needs a reason.")
    with transaction.atomic(), acting_as(actor, f"Severity changed: {reason}"):
        incident = Incident.objects.select_for_update().select_related("severity").get(pk=incident.pk)
        old = incident.severity
        if old.pk == severity.pk:
            raise ValidationError(f"The incident is already {severity.code}.")
        incident.severity = severity
        if incident.is_open:
            last = incident.status_updates.order_by("-posted_at").values_list("posted_at", flat=True).first()
            incident.next_update_due_at = _update_due(severity, last or incident.detected_at)
        incident.save()
        entry = timeline_record(
            incident=incident, actor=actor, text=f"Severity changed from {old.code} to {severity.code}: {reason}"
        )
        notices.incident_severity_changed(incident, old=old, reason=reason, change_id=entry.pk)
    return incident


def incident_update_details(*, incident: Incident, actor, **fields) -> Incident:
    """Edit the descriptive fields (title, description, impact, type, services)."""
    services = fields.pop("services", None)
    allowed = {"title", "description", "user_impact", "incident_type", "detection_source"}
    if set(fields) - allowed:
        raise ValueError(f"Not editable here: {sorted(set(fields) - allowed)}")
    with transaction.atomic(), acting_as(actor, "Incident details edited"):
        for name, value in fields.items():
            setattr(incident, name, value)
        incident.save()
        if services is not None:
            incident.services.set(services)
        timeline_record(incident=incident, actor=actor, text="Details edited.")
    return incident


def role_assign(*, incident: Incident, role: Role, user, actor, note: str = "") -> RoleAssignment:
    """Give `role` to `user`, handing it off from its current holder if there is one."""
    with transaction.atomic(), acting_as(actor, f"{role} assigned: {note}" if note else f"{role} assigned"):
        now = timezone.now()
        current = (
            RoleAssignment.objects.select_for_update()
            .filter(incident=incident, role=role, ended_at__isnull=True)
            .select_related("user")
            .first()
        )
        if current and current.user_id == user.pk:
            raise ValidationError(f"{person_name(user)} is already {role}.")
        if current:
            current.ended_at = now
            current.save()
        assignment = RoleAssignment.objects.create(
            incident=incident, role=role, user=user, assigned_by=actor, started_at=now, note=note
        )
        who = person_name(user)
        if current:
            before = person_name(current.user)
            text = f"{role} handed off from {before} to {who}."
        else:
            text = f"{who} assigned as {role}."
        timeline_record(incident=incident, actor=actor, text=f"{text} {note}".strip(), occurred_at=now)
        if user.email and user != actor:
            email_enqueue(
                key=f"role-assigned:{assignment.pk}",
                template="role_assigned",
                context={
                    "incident": incident,
                    "role": role,
                    "assigned_by_name": person_name(actor) if actor else "The portal",
                },
                recipients=[user.email],
            )
    return assignment


def role_release(*, assignment: RoleAssignment, actor) -> RoleAssignment:
    with transaction.atomic(), acting_as(actor, f"{assignment.role} released"):
        assignment = RoleAssignment.objects.select_for_update().select_related("user", "role").get(pk=assignment.pk)
        if assignment.ended_at:
            raise ValidationError("This assignment has already ended.")
        assignment.ended_at = timezone.now()
        assignment.save()
        who = person_name(assignment.user)
        timeline_record(incident=assignment.incident, actor=actor, text=f"{who} stood down as {assignment.role}.")
    return assignment


def timeline_add_note(*, incident: Incident, actor, text: str, occurred_at: datetime | None = None) -> TimelineEntry:
    now = timezone.now()
    text = text.strip()
    if not text:
        raise ValidationError("A note cannot be empty.")
    if occurred_at and occurred_at > now:
        raise ValidationError("A note cannot be dated in the future.")
    with transaction.atomic(), acting_as(actor, "Timeline note added"):
        return timeline_record(
            incident=incident, actor=actor, text=text, occurred_at=occurred_at or now, kind=TimelineEntry.Kind.NOTE
        )


def status_update_post(*, incident: Incident, actor, audience: str, body: str) -> StatusUpdate:
    """Post a status update; the next one falls due by the severity's cadence."""
    body = body.strip()
    if not body:
        raise ValidationError("A status update cannot be empty.")
    with transaction.atomic(), acting_as(actor, "Status update posted"):
        incident = Incident.objects.select_for_update().select_related("severity").get(pk=incident.pk)
        now = timezone.now()
        update = StatusUpdate.objects.create(
            incident=incident, audience=audience, body=body, author=actor, posted_at=now
        )
        if incident.is_open:
            incident.next_update_due_at = _update_due(incident.severity, now)
            incident.save()
        timeline_record(
            incident=incident,
            actor=actor,
            text=f"{update.get_audience_display()} update: {body}",
            occurred_at=now,
            kind=TimelineEntry.Kind.STATUS_UPDATE,
            data={"status_update": update.pk},
        )
        status_update_posted.send(sender=StatusUpdate, update=update, actor=actor)
    return update


def checklist_item_set_done(*, item: ChecklistItem, actor, done: bool) -> ChecklistItem:
    with transaction.atomic(), acting_as(actor, "Checklist item ticked" if done else "Checklist item unticked"):
        item = ChecklistItem.objects.select_for_update().get(pk=item.pk)
        if item.is_done == done:
            return item
        item.done_at = timezone.now() if done else None
        item.done_by = actor if done else None
        item.save()
        timeline_record(incident=item.incident, actor=actor, text=f"{'Done' if done else 'Reopened'}: {item.text}")
    return item
