"""Every write to an incident goes through here: one function per action,
keyword-only arguments, an actor, one transaction, history attributed, and side
effects queued on commit."""

from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import F, Q, Subquery
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from audit.actors import acting_as, system_user
from notifications.services import email_enqueue
from portal.display import person_name

from . import notices
from .events import (
    incident_closing,
    incident_declared,
    incident_resolved,
    incident_severity_changed,
    status_update_posted,
)
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
    steps, portal_id = _runbook_steps(incident_type)
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
                bridge_url=settings.CONFERENCE_BRIDGE_URL,
                postmortem_required=severity.postmortem_required,
            )
            _insert_with_services(incident, services, actor=actor, reason=reason)
            performed = {RunbookStep.Performs.TICKET_CREATED}
            if incident.initial_responder is not None:
                performed.add(RunbookStep.Performs.RESPONDER_ASSIGNED)
            if notices.distribution_list(severity.level) or settings.SLACK_WEBHOOK_URL:
                performed.add(RunbookStep.Performs.TEAM_NOTIFIED)  # the notice below goes to someone
            _build_checklist(incident, steps, actor=actor, reason=reason, performed=performed, portal_id=portal_id)
            timeline_record(
                incident=incident,
                actor=actor,
                text=f"Incident declared as {severity.code} ({incident_type}), "
                f"detected by {incident.get_detection_source_display().lower()}.",
                occurred_at=detected_at,
            )
            notices.incident_declared(incident)
            incident_declared.send(sender=Incident, incident=incident, actor=actor)
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


def _runbook_steps(incident_type: IncidentType) -> tuple[list[tuple], int | None]:
    """The general steps of the runbook and the type's own, as (kind, text, performed_by_portal) in checklist
    order, and the portal's user id, in one query: the general steps first in each section, then the type's.

    The portal's user rides along as a subquery so that a declaration reads nothing else; it is None only
    until the portal's user exists, and then found (or created) once."""
    User = get_user_model()
    portal = User.objects.filter(username=settings.PORTAL_SYSTEM_USERNAME).values("pk")[:1]
    rows = list(
        RunbookStep.objects.filter(Q(incident_type__isnull=True) | Q(incident_type=incident_type))
        .annotate(portal_id=Subquery(portal))
        .order_by("kind", F("incident_type").asc(nulls_first=True), "position")
        .values_list("kind", "text", "performed_by_portal", "portal_id")
    )
    portal_id = rows[0][3] if rows else None
    return [row[:3] for row in rows], portal_id


def _build_checklist(incident: Incident, steps, *, actor, reason: str, performed=(), portal_id=None) -> None:
    """`steps` ((kind, text, performed_by_portal) of the general runbook and the type's) as the incident's
    checklist: one INSERT of the items and one of their history rows.

    Steps the portal has just performed (`performed`) start ticked by the portal, their history row
    attributed to it and saying what it did."""
    positions: dict[str, int] = {}
    items = []
    portal = None
    for kind, text, performs in steps:
        positions[kind] = positions.get(kind, 0) + 1
        item = ChecklistItem(
            incident=incident, section=kind, position=positions[kind], text=text, performed_by_portal=performs
        )
        if performs and performs in performed:
            if portal is None:
                portal = get_user_model()(pk=portal_id) if portal_id else system_user()
            item.done_at, item.done_by = timezone.now(), portal
            item._history_user = portal
            item._change_reason = f"{reason}; done by the portal: {RunbookStep.Performs(performs).label}"
        items.append(item)
    # The declarer's rows first: the incident's history shows the checklist as one entry, by its oldest row's author.
    items.sort(key=lambda item: item.done_at is not None)
    bulk_create_with_history(items, ChecklistItem, default_user=actor, default_change_reason=reason)


def checklist_tick_performed(*, incident: Incident, performs: str) -> int:
    """Tick the incident's open checklist items that `performs` (a `RunbookStep.Performs`) stands for, as the
    portal, which has just done it. Called inside the caller's transaction. Returns the number ticked."""
    label = RunbookStep.Performs(performs).label
    portal = system_user()
    with transaction.atomic(), acting_as(portal, f"Done by the portal: {label}"):
        items = list(
            ChecklistItem.objects.select_for_update().filter(
                incident=incident, performed_by_portal=performs, done_at__isnull=True
            )
        )
        now = timezone.now()
        for item in items:
            item.done_at, item.done_by = now, portal
            item.save()
    return len(items)


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
        # Once required, a post-mortem stays required: a downgrade after the fact does not release it.
        incident.postmortem_required = incident.postmortem_required or severity.postmortem_required
        if incident.is_open:
            last = incident.status_updates.order_by("-posted_at").values_list("posted_at", flat=True).first()
            incident.next_update_due_at = _update_due(severity, last or incident.detected_at)
        incident.save()
        entry = timeline_record(
            incident=incident, actor=actor, text=f"Severity changed from {old.code} to {severity.code}: {reason}"
        )
        notices.incident_severity_changed(incident, old=old, reason=reason, change_id=entry.pk)
        incident_severity_changed.send(sender=Incident, incident=incident, actor=actor, old=old)
    return incident


def incident_update_details(*, incident: Incident, actor, **fields) -> Incident:
    """Edit the descriptive fields (title, description, impact, type, services)."""
    services = fields.pop("services", None)
    allowed = {"title", "description", "user_impact", "incident_type", "detection_source", "bridge_url"}
    if set(fields) - allowed:
        raise ValueError(f"Not editable here: {sorted(set(fields) - allowed)}")
    if "bridge_url" in fields:
        fields["bridge_url"] = (fields["bridge_url"] or "").strip()
        if fields["bridge_url"]:
            URLValidator(schemes=["http", "https"], message="Enter an http:// or https:// link.")(fields["bridge_url"])
    with transaction.atomic(), acting_as(actor, "Incident details edited"):
        for name, value in fields.items():
            setattr(incident, name, value)
        incident.save()
        if services is not None:
            incident.services.set(services)
        text = "Details edited."
        if set(fields) == {"bridge_url"}:
            url = fields["bridge_url"]
            text = f"Conference bridge set to {url}." if url else "Conference bridge removed."
        timeline_record(incident=incident, actor=actor, text=text)
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
        checklist_tick_performed(incident=incident, performs=RunbookStep.Performs.RESPONDER_ASSIGNED)
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
        if audience == StatusUpdate.Audience.CUSTOMERS:
            checklist_tick_performed(incident=incident, performs=RunbookStep.Performs.STATUS_PAGE_UPDATED)
        status_update_posted.send(sender=StatusUpdate, update=update, actor=actor)
        notices.status_update_sent(update)
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
