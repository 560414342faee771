"""Every write to a post-mortem goes through here: one function per action,
keyword-only arguments, an actor, one transaction, history attributed, and
emails queued through the outbox (published on commit)."""

import logging
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from approvals.models import ApprovalRequest
from approvals.services import approval_use
from audit.actors import acting_as, system_user
from audit.bulk import bulk_save
from incidents.models import Contact, Incident, Role, Severity
from incidents.outreach import Callee, Page, page_people_many
from incidents.selectors import active_role_holders
from notifications.models import OutboxMessage
from notifications.services import outbox_enqueue_many

from . import emails
from .models import ActionItem, Milestone, PostMortem, Reminder, validate_due_at

logger = logging.getLogger(__name__)

ROLE_IC = Role.INCIDENT_COMMANDER
ROLE_TL = Role.TECHNICAL_LEAD
ROLE_CL = Role.COMMUNICATIONS_LEAD
REGULATORY_CONTACTS = "regulatory"  # the key of the emergency contacts a report clock's escalation goes to

K = Milestone.Kind
R = Reminder.Kind


def milestone_offsets() -> dict[str, object]:
    """How long after the resolution each milestone is due (settings, runbook defaults)."""
    return {
        K.MEETING: settings.POSTMORTEM_MEETING_WITHIN,
        K.ANALYSIS: settings.POSTMORTEM_ANALYSIS_WITHIN,
        K.PREVENTIVE: settings.POSTMORTEM_PREVENTIVE_WITHIN,
    }


def reminder_lead(target) -> object:
    if isinstance(target, ActionItem):
        return settings.POSTMORTEM_ACTION_ITEM_REMINDER_LEAD
    return {
        K.MEETING: settings.POSTMORTEM_MEETING_REMINDER_LEAD,
        K.ANALYSIS: settings.POSTMORTEM_ANALYSIS_REMINDER_LEAD,
        K.PREVENTIVE: settings.POSTMORTEM_PREVENTIVE_REMINDER_LEAD,
    }[target.kind]


def reminder_schedule(target) -> dict[str, datetime]:
    """When each kind of reminder about a milestone or action item falls due."""
    return {
        R.BEFORE: target.due_at - reminder_lead(target),
        R.OVERDUE: target.due_at,
        R.ESCALATION: target.due_at + settings.POSTMORTEM_ESCALATION_GRACE,
    }


def verification_schedule(item: ActionItem) -> dict[str, datetime]:
    """When the reminders to verify a preventive measure fall due: to the verifiers the action-item
    lead before its verify-by time, and an escalation the escalation grace after it."""
    if item.verify_by is None:
        return {}
    return {
        R.VERIFY: item.verify_by - settings.POSTMORTEM_ACTION_ITEM_REMINDER_LEAD,
        R.VERIFY_ESCALATION: item.verify_by + settings.POSTMORTEM_ESCALATION_GRACE,
    }


def _full_schedule(target) -> dict[str, datetime]:
    schedule = reminder_schedule(target)
    if isinstance(target, ActionItem):
        schedule.update(verification_schedule(target))
    return schedule


def _create_reminders(target) -> None:
    field = "action_item" if isinstance(target, ActionItem) else "milestone"
    for kind, due_at in reminder_schedule(target).items():
        # One save() each so every row gets its history.
        Reminder.objects.create(**{field: target}, kind=kind, due_at=due_at)


def _reschedule_reminders(target) -> None:
    schedule = _full_schedule(target)
    for reminder in target.reminders.select_for_update().filter(status=Reminder.Status.PENDING):
        if reminder.kind in schedule and reminder.due_at != schedule[reminder.kind]:
            reminder.due_at = schedule[reminder.kind]
            reminder.save()


def _arm_reminders(item: ActionItem, schedule: dict[str, datetime], *, after=None) -> None:
    """Make `item`'s reminders of the kinds in `schedule` pending at those times (only those due after
    `after`, if given): created if missing, armed again if cancelled. One sent or skipped stays as it is:
    a reminder row goes out once (its outbox key is its id)."""
    existing = {r.kind: r for r in item.reminders.select_for_update().filter(kind__in=list(schedule))}
    for kind, due_at in schedule.items():
        if after is not None and due_at <= after:
            continue
        reminder = existing.get(kind)
        if reminder is None:
            Reminder.objects.create(action_item=item, kind=kind, due_at=due_at)
        elif reminder.status == Reminder.Status.CANCELLED or (
            reminder.status == Reminder.Status.PENDING and reminder.due_at != due_at
        ):
            reminder.status, reminder.due_at, reminder.handled_at, reminder.note = (
                Reminder.Status.PENDING,
                due_at,
                None,
                "",
            )
            reminder.save()


def _cancel_reminders(target, note: str, kinds=None) -> int:
    now = timezone.now()
    count = 0
    pending = target.reminders.select_for_update().filter(status=Reminder.Status.PENDING)
    if kinds is not None:
        pending = pending.filter(kind__in=list(kinds))
    for reminder in pending:
        reminder.status = Reminder.Status.CANCELLED
        reminder.handled_at = now
        reminder.note = note[:255]
        reminder.save()
        count += 1
    return count


def _timeline_markdown(incident: Incident) -> str:
    lines = []
    for entry in incident.timeline.order_by("occurred_at", "id"):
        text = " ".join(entry.text.split())
        lines.append(f"- **{entry.occurred_at:%Y-%m-%d %H:%M} UTC** — {text}")
    return "\n".join(lines)


def postmortem_open(*, incident: Incident, actor, reason: str = "Post-mortem opened") -> tuple[PostMortem, bool]:
    """Open the incident's post-mortem, or return the one it has. Returns (post-mortem, created).

    The owner is the Incident Commander (else the actor); participants start as
    the Incident Commander, the Technical Lead and the affected services' owners;
    the timeline of events is prefilled from the incident's timeline. Milestones
    are due from the resolution, or from now for an incident not resolved yet.
    """
    with transaction.atomic(), acting_as(actor, reason):
        incident = Incident.objects.select_for_update().get(pk=incident.pk)
        existing = PostMortem.objects.filter(incident=incident).first()
        if existing:
            return existing, False
        holders = active_role_holders([incident.pk], (ROLE_IC, ROLE_TL)).get(incident.pk, {})
        owner = holders.get(ROLE_IC) or (actor if actor and actor.is_active else None)
        started = incident.resolved_at or timezone.now()
        postmortem = PostMortem.objects.create(
            incident=incident,
            owner=owner,
            opened_by=actor,
            clock_started_at=started,
            awaiting_resolution=incident.resolved_at is None,
            timeline_summary=_timeline_markdown(incident),
            impact_assessment=incident.user_impact,
        )
        participants = {u for u in holders.values()} | {s.owner for s in incident.services.all() if s.owner}
        if owner:
            participants.add(owner)
        postmortem.participants.set([u for u in participants if u.is_active])
        for kind, offset in milestone_offsets().items():
            milestone = Milestone.objects.create(postmortem=postmortem, kind=kind, due_at=started + offset)
            _create_reminders(milestone)
    return postmortem, True


def postmortem_start_clock(*, postmortem: PostMortem, started_at: datetime, actor) -> PostMortem:
    """Re-date the open milestones (and their pending reminders) from `started_at`,
    for a post-mortem opened before its incident was resolved."""
    with transaction.atomic(), acting_as(actor, "Post-mortem clock started at resolution"):
        postmortem = PostMortem.objects.select_for_update().get(pk=postmortem.pk)
        postmortem.clock_started_at = started_at
        postmortem.awaiting_resolution = False
        postmortem.save()
        offsets = milestone_offsets()
        for milestone in postmortem.milestones.open().select_for_update():
            milestone.due_at = started_at + offsets[milestone.kind]
            milestone.save()
            _reschedule_reminders(milestone)
    return postmortem


def open_on_resolve(sender, *, incident: Incident, actor, **kwargs) -> None:
    """Receiver of `incidents.events.incident_resolved`: runs inside the resolving
    transaction, so the incident and its post-mortem commit together."""
    existing = PostMortem.objects.filter(incident=incident).first()
    if existing is not None:
        if existing.awaiting_resolution:
            postmortem_start_clock(postmortem=existing, started_at=incident.resolved_at, actor=actor)
    elif postmortem_required(incident):
        postmortem_open(incident=incident, actor=actor, reason="Post-mortem opened on resolution")


def postmortem_required(incident: Incident) -> bool:
    """Whether the incident needs a post-mortem: once any severity it has had required one (its sticky
    flag), or its current severity does now (switched on in the admin since)."""
    return (
        incident.postmortem_required
        or Severity.objects.filter(pk=incident.severity_id, postmortem_required=True).exists()
    )


def closure_blockers(sender, *, incident: Incident, **kwargs) -> list[str]:
    """Receiver of `incidents.events.incident_closing`: an incident that requires a post-mortem
    closes only once that post-mortem is complete (one opened on request for another incident
    does not hold it open). Lowering the severity after the fact does not release it."""
    if not postmortem_required(incident):
        return []
    postmortem = PostMortem.objects.filter(incident=incident).first()
    if postmortem is None:
        if incident.severity.postmortem_required:
            return [f"A post-mortem is required for {incident.severity.code} incidents and none has been opened."]
        return [
            "A post-mortem is required for this incident (an earlier severity required one) and none has been opened."
        ]
    if postmortem.is_complete:
        return []
    open_kinds = [m.get_kind_display().lower() for m in postmortem.milestones.open().order_by("due_at")]
    return ["The post-mortem is not complete: " + ", ".join(open_kinds) + " still open."]


EDITABLE_FIELDS = {"owner", *PostMortem.DELIVERABLE_FIELDS}


def postmortem_update(*, postmortem: PostMortem, actor, participants=None, contact_participants=None, **fields):
    """Edit the owner, the deliverables and the participants."""
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise ValueError(f"Not editable here: {sorted(unknown)}")
    with transaction.atomic(), acting_as(actor, "Post-mortem edited"):
        postmortem = PostMortem.objects.select_for_update().get(pk=postmortem.pk)
        for name, value in fields.items():
            setattr(postmortem, name, value)
        postmortem.save()
        if participants is not None:
            postmortem.participants.set(participants)
        if contact_participants is not None:
            postmortem.contact_participants.set(contact_participants)
    return postmortem


def postmortem_complete_milestone(
    *, milestone: Milestone, actor, meeting_held_at: datetime | None = None, attendees=(), notes: str = ""
) -> Milestone:
    """Complete a milestone, recording who and when, and stop its reminders.

    The meeting needs when it was held and who attended; the analysis needs its
    deliverables filled in; the preventive measures need every action item done
    or deferred with a reason, and every preventive measure verified
    (`preventive_blockers`).
    """
    with transaction.atomic(), acting_as(actor, "Post-mortem milestone completed"):
        milestone = Milestone.objects.select_for_update().select_related("postmortem").get(pk=milestone.pk)
        postmortem = milestone.postmortem
        if milestone.is_complete:
            raise ValidationError(f"{milestone.get_kind_display()} is already complete.")
        now = timezone.now()
        if milestone.kind == K.MEETING:
            if meeting_held_at is None:
                raise ValidationError("Say when the meeting was held.")
            if meeting_held_at > now:
                raise ValidationError("The meeting cannot be recorded before it is held.")
            if not attendees:
                raise ValidationError("Say who attended the meeting.")
            milestone.meeting_held_at = meeting_held_at
        elif milestone.kind == K.ANALYSIS:
            missing = postmortem.missing_analysis()
            if missing:
                raise ValidationError("Fill in the analysis first: " + ", ".join(missing) + ".")
            # Four eyes (the severity's switch): refused without a second person's approval, which this uses up.
            approval_use(incident=postmortem.incident, action=ApprovalRequest.Action.COMPLETE_ANALYSIS, actor=actor)
        elif milestone.kind == K.PREVENTIVE:
            blockers = preventive_blockers(postmortem)
            if blockers:
                raise ValidationError(
                    "Every action item must be done or deferred with a reason, and every preventive measure "
                    "verified, first; " + "; ".join(blockers) + "."
                )
        milestone.completed_at = now
        milestone.completed_by = actor
        milestone.notes = notes.strip()
        milestone.save()
        if milestone.kind == K.MEETING:
            milestone.attendees.set(attendees)
        _cancel_reminders(milestone, "Milestone completed")
        if not postmortem.milestones.open().exists():
            postmortem.completed_at = now
            postmortem.save()
    return milestone


def preventive_blockers(postmortem: PostMortem) -> list[str]:
    """What holds the preventive-measures milestone: ["still open: A, B", "awaiting verification: C", …],
    empty when every action item is done or deferred with a reason and every preventive measure done
    is verified."""
    groups = {"still open": [], "awaiting verification": [], "done but not verified": []}
    for item in postmortem.action_items.only("title", "category", "status", "verified_at").order_by("due_at", "id"):
        if item.is_open:
            groups["still open"].append(item.title)
        elif item.is_awaiting_verification:
            groups["awaiting verification"].append(item.title)
        elif item.is_preventive and item.status == ActionItem.Status.DONE and not item.is_verified:
            # Marked done before verification was required: reopen it and mark it done with evidence, or defer it.
            groups["done but not verified"].append(item.title)
    return [f"{label}: {', '.join(titles)}" for label, titles in groups.items() if titles]


def _check_preventive(item: ActionItem) -> None:
    """A preventive measure has a success metric and a verify-by time, not before its due time."""
    if not item.is_preventive:
        return
    errors = {}
    if not item.success_metric.strip():
        errors["success_metric"] = "A preventive measure needs a success metric: how you will know it worked."
    if item.verify_by is None:
        errors["verify_by"] = "A preventive measure needs a verify-by time."
    elif item.due_at is not None and item.verify_by < item.due_at:
        errors["verify_by"] = "The verify-by time cannot be before the due time."
    if errors:
        raise ValidationError(errors)


def action_item_create(
    *,
    postmortem: PostMortem,
    actor,
    title: str,
    owner,
    due_at: datetime,
    category: str = ActionItem.Category.LONG_TERM,
    description: str = "",
    implementation_timeline: str = "",
    success_metric: str = "",
    verify_by: datetime | None = None,
) -> ActionItem:
    """Add an action item with its reminders. A preventive measure needs a success metric and a
    verify-by time (the default kind is a long-term improvement, which needs neither)."""
    title = title.strip()
    if not title:
        raise ValidationError("An action item needs a title.")
    validate_due_at(due_at)
    validate_due_at(verify_by)
    item = ActionItem(
        postmortem=postmortem,
        title=title,
        owner=owner,
        due_at=due_at,
        category=category,
        description=description,
        implementation_timeline=implementation_timeline,
        success_metric=success_metric,
        verify_by=verify_by,
    )
    _check_preventive(item)
    with transaction.atomic(), acting_as(actor, "Action item added"):
        item.save()
        _create_reminders(item)
    return item


ACTION_ITEM_FIELDS = {
    "title",
    "owner",
    "due_at",
    "category",
    "description",
    "implementation_timeline",
    "success_metric",
    "verify_by",
}


def action_item_update(*, item: ActionItem, actor, **fields) -> ActionItem:
    """Edit an action item; a new due or verify-by time moves its reminders that have not gone out.

    An item awaiting verification or done cannot move into or out of the preventive measures (its
    verification would lose its meaning): reopen it first."""
    unknown = set(fields) - ACTION_ITEM_FIELDS
    if unknown:
        raise ValueError(f"Not editable here: {sorted(unknown)}")
    for name in ("due_at", "verify_by"):
        if name in fields:
            validate_due_at(fields[name])
    with transaction.atomic(), acting_as(actor, "Action item edited"):
        item = ActionItem.objects.select_for_update().get(pk=item.pk)
        was_preventive = item.is_preventive
        for name, value in fields.items():
            setattr(item, name, value)
        done = item.status in (ActionItem.Status.TO_VERIFY, ActionItem.Status.DONE)
        if item.is_preventive != was_preventive and done:
            raise ValidationError(
                {"category": "A done item cannot move into or out of the preventive measures; reopen it first."}
            )
        _check_preventive(item)
        item.save()
        if item.is_open or item.is_awaiting_verification:
            _reschedule_reminders(item)
    return item


OWNER_KINDS = (R.BEFORE, R.OVERDUE, R.ESCALATION)


def action_item_set_status(
    *, item: ActionItem, actor, status: str, deferred_reason: str = "", evidence: str = ""
) -> ActionItem:
    """Move an action item to a status; done or deferred (with a reason) stops its reminders.

    A preventive measure marked done needs evidence (given here, or kept from before it was sent back)
    and then awaits verification by someone else (`action_item_verify`), and its verifiers' reminders
    start. Reopening or deferring a verified measure clears its verification."""
    deferred_reason = deferred_reason.strip()
    evidence = evidence.strip()
    if status == ActionItem.Status.TO_VERIFY:
        status = ActionItem.Status.DONE  # "awaiting verification" is where "done" leads a preventive measure
    if status not in ActionItem.Status.values:
        raise ValidationError(f"Unknown status “{status}”.")
    if status == ActionItem.Status.DEFERRED and not deferred_reason:
        raise ValidationError("Deferring an action item needs a reason.")
    with transaction.atomic(), acting_as(actor, f"Action item {status}"):
        item = ActionItem.objects.select_for_update().get(pk=item.pk)
        if evidence:
            item.evidence = evidence
        if item.is_preventive and status == ActionItem.Status.DONE:
            if item.is_verified:
                return item  # done and verified already: nothing to change
            if not item.evidence:
                raise ValidationError(
                    {"evidence": "Marking a preventive measure done needs evidence: a note or a link."}
                )
            try:
                _check_preventive(item)
            except ValidationError as exc:
                raise ValidationError("Give it a success metric and a verify-by time first (edit the item).") from exc
            status = ActionItem.Status.TO_VERIFY
        was_open = item.is_open
        item.status = status
        item.deferred_reason = deferred_reason if status == ActionItem.Status.DEFERRED else ""
        if status != ActionItem.Status.DONE and item.is_verified:
            item.verified_by = item.verified_at = None
            item.verification_note = ""
        if item.is_open:
            item.closed_at = item.closed_by = None
        elif was_open or status != ActionItem.Status.TO_VERIFY or item.closed_at is None:
            item.closed_at = timezone.now()
            item.closed_by = actor
        item.save()
        if item.is_awaiting_verification:
            _cancel_reminders(item, "Action item done, awaiting verification", kinds=OWNER_KINDS)
            _arm_reminders(item, verification_schedule(item))
        elif not item.is_open:
            _cancel_reminders(item, f"Action item {item.get_status_display().lower()}")
        else:
            _cancel_reminders(item, "Action item reopened", kinds=Reminder.VERIFICATION_KINDS)
            if not was_open:
                _reschedule_reminders(item)
    return item


def _verifiable(item: ActionItem, actor, doing: str) -> ActionItem:
    """`item` locked, if `actor` may verify it or send it back now (else a ValidationError saying why)."""
    item = ActionItem.objects.select_for_update().get(pk=item.pk)
    if not item.is_awaiting_verification:
        raise ValidationError(
            f"Only an action item awaiting verification can be {doing}; “{item.title}” is "
            f"{item.get_status_display().lower()}."
        )
    if actor is None or actor.pk == item.owner_id:
        raise ValidationError(f"You own “{item.title}”: someone else must check the evidence.")
    if actor.pk == item.closed_by_id:
        raise ValidationError(f"You marked “{item.title}” done: someone else must check the evidence.")
    return item


def action_item_verify(*, item: ActionItem, actor, note: str) -> ActionItem:
    """Verify a preventive measure awaiting verification: someone other than its owner and whoever
    marked it done has checked the evidence against the success metric. Its verifiers' reminders stop."""
    note = note.strip()
    if not note:
        raise ValidationError({"note": "Say what you checked."})
    with transaction.atomic(), acting_as(actor, "Action item verified"):
        item = _verifiable(item, actor, "verified")
        item.status = ActionItem.Status.DONE
        item.verified_by = actor
        item.verified_at = timezone.now()
        item.verification_note = note
        item.save()
        _cancel_reminders(item, "Action item verified", kinds=Reminder.VERIFICATION_KINDS)
    return item


def action_item_send_back(*, item: ActionItem, actor, reason: str) -> ActionItem:
    """Send a preventive measure awaiting verification back to its owner (in progress), with the reason;
    its evidence is kept. Its verifiers' reminders stop, and its owner's that are still ahead start again."""
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why it is sent back."})
    with transaction.atomic(), acting_as(actor, "Action item sent back"):
        item = _verifiable(item, actor, "sent back")
        item.status = ActionItem.Status.IN_PROGRESS
        item.closed_at = item.closed_by = None
        item.verification_note = reason
        item.save()
        _cancel_reminders(item, "Action item sent back", kinds=Reminder.VERIFICATION_KINDS)
        _arm_reminders(item, reminder_schedule(item), after=timezone.now())
    return item


# Regulatory report clocks: their reminder rows --------------------------------------------------------------------


def report_clock_arm(sender, *, clock, **kwargs) -> None:
    """Receiver of `regulatory.events.report_clock_started`: the clock's reminder rows, one per kind
    (before the deadline by the obligation's lead, at it, after its escalation grace), in the
    transaction that started the clock."""
    obligation = clock.obligation
    schedule = {R.OVERDUE: clock.due_at, R.ESCALATION: clock.due_at + obligation.escalate_after}
    if obligation.remind_before:
        schedule[R.BEFORE] = clock.due_at - obligation.remind_before
    for kind, due_at in schedule.items():
        Reminder.objects.create(report_clock=clock, kind=kind, due_at=due_at)


def report_clock_disarm(sender, *, clock, **kwargs) -> None:
    """Receiver of `regulatory.events.report_clock_submitted`: its pending reminders are not needed."""
    _cancel_reminders(clock, "Report submitted")


# The deadline sweep ---------------------------------------------------------------------------------------------


def _emergency_contacts(severity_levels) -> dict[int, list[Contact]]:
    """{severity level: active emergency contacts} for the levels configured to escalate to them."""
    levels = [level for level in severity_levels if level in settings.POSTMORTEM_ESCALATE_TO_EMERGENCY_CONTACTS]
    if not levels:
        return {}
    contacts = list(Contact.objects.filter(category=Contact.Category.EMERGENCY, is_active=True))
    return {level: contacts for level in levels}


def _incident(reminder: Reminder) -> Incident:
    """The incident whose deadline `reminder` is about."""
    if reminder.report_clock_id is not None:
        return reminder.report_clock.incident
    return reminder.target.postmortem.incident


def _owner(reminder: Reminder):
    target = reminder.target
    if reminder.report_clock_id is not None:
        return None  # a report clock has no owner: its reminders go to the incident's leads
    return target.owner if isinstance(target, ActionItem) else target.postmortem.owner


def _verifiers(reminder: Reminder, holders) -> list:
    """Who is asked to verify a preventive measure: the post-mortem's owner and the Incident Commander;
    for the escalation, or when neither can verify it, also the Technical Lead. Never the item's owner
    or whoever marked it done (they may not verify it)."""
    item = reminder.target
    incident_holders = holders.get(item.postmortem.incident_id, {})
    pool = [item.postmortem.owner, incident_holders.get(ROLE_IC)]
    excluded = {item.owner_id, item.closed_by_id}

    def eligible(people):
        return [p for p in people if p is not None and p.pk not in excluded and p.is_active and p.email]

    if reminder.kind == R.VERIFY_ESCALATION or not eligible(pool):
        pool.append(incident_holders.get(ROLE_TL))
    return eligible(pool)


def _recipients(reminder: Reminder, holders, emergency) -> list[str]:
    """The owner; for an escalation, or when nobody owns the post-mortem, also the
    Incident Commander and the Technical Lead (a deadline with no owner is theirs).
    A verification reminder goes to the verifiers instead (`_verifiers`), a report clock's to the
    incident's leads (`_report_clock_recipients`)."""
    if reminder.report_clock_id is not None:
        return _report_clock_recipients(reminder, holders, emergency)
    if reminder.kind in Reminder.VERIFICATION_KINDS:
        return sorted({p.email for p in _verifiers(reminder, holders)})
    postmortem = reminder.target.postmortem
    owner = _owner(reminder)
    people = [owner]
    if reminder.kind == R.ESCALATION or owner is None:
        incident_holders = holders.get(postmortem.incident_id, {})
        people += [incident_holders.get(ROLE_IC), incident_holders.get(ROLE_TL)]
    addresses = [p.email for p in people if p is not None and p.is_active and p.email]
    if reminder.kind == R.ESCALATION:
        addresses += [c.email for c in emergency.get(postmortem.incident.severity.level, []) if c.email]
    return sorted(set(addresses))


def _report_clock_recipients(reminder: Reminder, holders, emergency) -> list[str]:
    """A regulatory report's deadline: the Incident Commander and the Communications Lead (and the
    Technical Lead when neither is assigned); its escalation also the Technical Lead and the active
    emergency contacts with an email."""
    incident_holders = holders.get(reminder.report_clock.incident_id, {})
    people = [incident_holders.get(ROLE_IC), incident_holders.get(ROLE_CL)]
    if reminder.kind == R.ESCALATION or not any(people):
        people.append(incident_holders.get(ROLE_TL))
    addresses = [p.email for p in people if p is not None and p.is_active and p.email]
    if reminder.kind == R.ESCALATION:
        addresses += [c.email for c in emergency.get(REGULATORY_CONTACTS, []) if c.email]
    return sorted(set(addresses))


def _escalation_contacts(reminder: Reminder, emergency) -> list:
    """The emergency contacts an escalation lists (none for other kinds)."""
    if reminder.kind != R.ESCALATION:
        return []
    if reminder.report_clock_id is not None:
        return emergency.get(REGULATORY_CONTACTS, [])
    return emergency.get(reminder.target.postmortem.incident.severity.level, [])


SWEEP_REASON = "Deadline sweep"
SWEEP_FIELDS = ["status", "handled_at", "note", "recipients", "outbox_message"]


def _sweep_reads() -> list[str]:
    """The columns the sweep and its emails read. The other columns of the six joined tables
    (an incident's texts, every timestamp) would be read and parsed for nothing: a batch of a
    hundred takes 10 ms of CPU to read instead of 16."""
    person = ["email", "is_active", "first_name", "last_name", "username"]
    postmortem = [
        "incident__reference",
        "incident__title",
        "incident__severity__level",
        *(f"owner__{name}" for name in person),
    ]
    return [
        *(field.name for field in Reminder._meta.concrete_fields),
        *(f"milestone__{name}" for name in ["kind", "due_at", "completed_at"]),
        *(f"milestone__postmortem__{name}" for name in postmortem),
        *(
            f"action_item__{name}"
            for name in ["title", "due_at", "status", "verify_by", "closed_by", "success_metric", "evidence"]
        ),
        *(f"action_item__owner__{name}" for name in person),
        *(f"action_item__postmortem__{name}" for name in postmortem),
        *(f"report_clock__{name}" for name in ["incident", "obligation", "started_at", "due_at", "submitted_at"]),
        *(f"report_clock__incident__{name}" for name in ["reference", "title", "severity__level"]),
        *(f"report_clock__obligation__{name}" for name in ["name", "addressee"]),
    ]


SWEEP_READS = _sweep_reads()


def _settle(reminder: Reminder, now, holders, emergency) -> OutboxMessage | None:
    """Decide a due reminder, in memory: cancelled, skipped, or queued with its email (returned unsaved)."""
    target = reminder.target
    verifying = reminder.kind in Reminder.VERIFICATION_KINDS
    if verifying:
        still_open = target.is_awaiting_verification
    else:
        still_open = target.is_open if isinstance(target, ActionItem) else not target.is_complete
    reminder.handled_at = now
    if not still_open:
        reminder.status, reminder.note = Reminder.Status.CANCELLED, "Already completed"
        return None
    if reminder.kind == R.BEFORE and target.due_at <= now:
        # The sweep was not running while it was due; the overdue notice says more.
        reminder.status, reminder.note = Reminder.Status.SKIPPED, "Deadline already passed"
        return None
    if reminder.kind == R.VERIFY and target.verify_by <= now:
        # Marked done after its verify-by time, or the sweep was not running: the escalation says more.
        reminder.status, reminder.note = Reminder.Status.SKIPPED, "Verify-by time already passed"
        return None
    recipients = _recipients(reminder, holders, emergency)
    contacts = _escalation_contacts(reminder, emergency)
    message = emails.deadline_notice(reminder=reminder, recipients=recipients, now=now, emergency_contacts=contacts)
    if message is None:
        reminder.status, reminder.note = Reminder.Status.SKIPPED, "Nobody with an email address to tell"
        logger.warning("Reminder %s: no recipients", reminder.pk)
        return None
    reminder.status = Reminder.Status.QUEUED
    reminder.recipients = recipients
    return message


def _page_escalation(reminder: Reminder, contacts: list[Contact]) -> Page | None:
    """A Sev1 post-mortem escalation also pages the active emergency contacts with a number (executives,
    who may have only a phone number), each once: the reminder is handled once, each page has its own key."""
    if reminder.kind not in (R.ESCALATION, R.VERIFY_ESCALATION) or reminder.status == Reminder.Status.CANCELLED:
        return None
    if reminder.report_clock_id is not None:
        return None  # a report clock's escalation is emailed (to the emergency contacts too), not paged
    incident = reminder.target.postmortem.incident
    if incident.severity.level != 1:
        return None
    return Page(
        incident=incident,
        callees=tuple(Callee(c.name, c.phone) for c in contacts),
        key=f"postmortem-escalation:{reminder.pk}",
        text=f"Sev1 {incident.reference} post-mortem deadline missed ({reminder.get_kind_display().lower()}): "
        f"{incident.title}. {settings.SITE_URL}{incident.get_absolute_url()}",
        why="Sev1 post-mortem escalation",
    )


def _paging_contacts(batch: list[Reminder]) -> list[Contact]:
    """The emergency contacts with a phone number, read once for a batch holding a Sev1 escalation."""
    if not any(
        r.kind in (R.ESCALATION, R.VERIFY_ESCALATION)
        and r.report_clock_id is None
        and r.target.postmortem.incident.severity.level == 1
        for r in batch
    ):
        return []
    contacts = Contact.objects.filter(category=Contact.Category.EMERGENCY, is_active=True).exclude(phone="")
    return list(contacts.order_by("escalation_order", "name"))


def deadlines_claim_batch(*, now, batch_size: int) -> dict[str, int]:
    """Claim up to `batch_size` due reminders and handle them, all in one transaction.

    Rows another sweep holds are skipped (`skip_locked`), and a handled row is no
    longer pending, so two sweeps at once never handle the same reminder twice; a
    sweep that dies mid-batch rolls back and the rows stay due for the next one.
    The same queries whatever the batch's size: the due rows claimed, then read with
    what their emails need; the role holders and emergency contacts; the emails queued
    with `outbox_enqueue_many` (one delivery task for the batch); the reminders saved
    with one UPDATE and one INSERT of history rows, as the system user.
    """
    counts: dict[str, int] = {}
    actor = system_user()
    with transaction.atomic():
        # Claimed alone, then read with what the emails need: locking the joined query would
        # join and sort every due row before its LIMIT, where this walks reminder_pending_due.
        claimed = list(
            Reminder.objects.due(now)
            .select_for_update(skip_locked=True)
            .order_by("due_at")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not claimed:
            return counts
        batch = list(
            Reminder.objects.filter(pk__in=claimed)
            .select_related(
                "milestone__postmortem__owner",
                "milestone__postmortem__incident__severity",
                "action_item__owner",
                "action_item__postmortem__owner",  # a verification reminder goes to it
                "action_item__postmortem__incident__severity",
                "report_clock__incident__severity",
                "report_clock__obligation",
            )
            .only(*SWEEP_READS)
            .order_by("due_at", "pk")
        )
        escalations = [r for r in batch if r.kind == R.ESCALATION]
        # The Incident Commander and Technical Lead of the incidents whose reminders go to them (see _recipients).
        lead_incidents = {
            _incident(r).pk
            for r in batch
            if r.kind in (R.ESCALATION, *Reminder.VERIFICATION_KINDS) or _owner(r) is None
        }
        holders = active_role_holders(lead_incidents, (ROLE_IC, ROLE_TL, ROLE_CL)) if lead_incidents else {}
        emergency = _emergency_contacts(
            {r.target.postmortem.incident.severity.level for r in escalations if r.report_clock_id is None}
        )
        if any(r.report_clock_id is not None for r in escalations):
            # A missed regulatory deadline is a compliance violation: its escalation goes to every emergency contact.
            emergency[REGULATORY_CONTACTS] = list(
                Contact.objects.filter(category=Contact.Category.EMERGENCY, is_active=True)
            )
        paging_contacts = _paging_contacts(batch)
        emails_of, pages = {}, []
        for reminder in batch:
            message = _settle(reminder, now, holders, emergency)
            if message is not None:
                emails_of[reminder.pk] = message
            if (page := _page_escalation(reminder, paging_contacts)) is not None:
                pages.append(page)
        queued = outbox_enqueue_many(emails_of.values(), actor=actor, reason=SWEEP_REASON)
        page_people_many(pages, actor=actor, reason="Sev1 post-mortem escalation paged")
        for reminder in batch:
            if reminder.pk in emails_of:
                reminder.outbox_message = queued[emails_of[reminder.pk].key][0]
            counts[str(reminder.status)] = counts.get(str(reminder.status), 0) + 1
        bulk_save(batch, SWEEP_FIELDS, actor=actor, reason=SWEEP_REASON)
    return counts


def deadlines_sweep(*, now: datetime | None = None, batch_size: int | None = None, max_batches: int = 1000) -> dict:
    """Send every reminder that is due, batch by batch. Returns counts by outcome."""
    batch_size = batch_size or settings.POSTMORTEM_SWEEP_BATCH
    totals: dict[str, int] = {}
    for _ in range(max_batches):
        counts = deadlines_claim_batch(now=now or timezone.now(), batch_size=batch_size)
        if not counts:
            break
        for outcome, count in counts.items():
            totals[outcome] = totals.get(outcome, 0) + count
    return totals
