"""Test data helpers: incidents, post-mortems and due reminders, fast."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from incidents.models import Incident, IncidentType, Severity
from incidents.services import incident_transition
from postmortems import services
from postmortems.models import ActionItem, Milestone, PostMortem, Reminder


def resolve(incident, actor):
    incident_transition(incident=incident, action="acknowledge", actor=actor)
    return incident_transition(incident=incident, action="resolve", actor=actor, note="Verified on dashboards.")


def bare_incidents(count, *, level=1, resolved_at=None, prefix="T"):
    """Resolved incidents written directly (test data: no checklist, no history)."""
    resolved_at = resolved_at or timezone.now()
    severity = Severity.objects.get(level=level)
    incident_type = IncidentType.objects.get(slug="other")
    return Incident.objects.bulk_create(
        [
            Incident(
                reference=f"INC-{prefix}-{i:05d}",
                title=f"Test incident {i}",
                severity=severity,
                incident_type=incident_type,
                detection_source=Incident.DetectionSource.ALERT,
                status=Incident.Status.RESOLVED,
                detected_at=resolved_at - timedelta(hours=1),
                resolved_at=resolved_at,
            )
            for i in range(count)
        ]
    )


def postmortems_via_service(count, actor, **kwargs):
    return [services.postmortem_open(incident=i, actor=actor)[0] for i in bare_incidents(count, **kwargs)]


def due_meetings(count, *, owner, overdue_by=timedelta(minutes=1), prefix="F"):
    """`count` post-mortems whose meeting is overdue by `overdue_by` (the other milestones far off),
    with every reminder row the service would create. Bulk-written: setup for the fault tests."""
    now = timezone.now()
    resolved_at = now - get_setting("POSTMORTEM_MEETING_WITHIN") - overdue_by
    incidents = bare_incidents(count, resolved_at=resolved_at, prefix=prefix)
    postmortems = PostMortem.objects.bulk_create(
        [PostMortem(incident=i, owner=owner, clock_started_at=resolved_at) for i in incidents]
    )
    milestones = Milestone.objects.bulk_create(
        [
            Milestone(postmortem=p, kind=kind, due_at=resolved_at + offset)
            for p in postmortems
            for kind, offset in services.milestone_offsets().items()
        ]
    )
    Reminder.objects.bulk_create(
        [
            Reminder(milestone=m, kind=kind, due_at=due_at)
            for m in milestones
            for kind, due_at in services.reminder_schedule(m).items()
        ]
    )
    return postmortems


def get_setting(name):
    from django.conf import settings

    return getattr(settings, name)


def action_item(postmortem, owner, *, due_in=timedelta(days=3), verify_after=timedelta(days=7), **kwargs):
    """An action item through the service; a preventive measure (the default) gets a success metric and
    a verify-by time `verify_after` its due time unless they are given."""
    category = kwargs.pop("category", ActionItem.Category.PREVENTIVE)
    due_at = timezone.now() + due_in
    if category == ActionItem.Category.PREVENTIVE:
        kwargs.setdefault("success_metric", "No repeat in 90 days")
        kwargs.setdefault("verify_by", due_at + verify_after)
    return services.action_item_create(
        postmortem=postmortem,
        actor=owner,
        title=kwargs.pop("title", "Add a circuit breaker to the executor"),
        owner=owner,
        due_at=due_at,
        category=category,
        **kwargs,
    )


def mark_done(item, actor, evidence="https://grafana.example.com/d/executor — no reverts for a week"):
    """A preventive measure marked done with evidence: it now awaits verification."""
    return services.action_item_set_status(item=item, actor=actor, status="done", evidence=evidence)


def make_user(username, *groups, **extra):
    from django.contrib.auth.models import Group

    user = get_user_model().objects.create_user(
        username=username, password="correct-horse-battery", email=f"{username}@example.com", **extra
    )
    user.groups.add(*Group.objects.filter(name__in=groups))
    return user


def due_verifications(count, *, owner, verifier, prefix="V"):
    """`count` preventive measures of `owner`, marked done by them and awaiting verification on post-mortems
    `verifier` owns, each with its verification reminder due now (its verify-by an hour ahead) and its
    escalation ahead. Bulk-written: setup for the sweep's concurrency tests. Returns the reminders' outbox keys."""
    now = timezone.now()
    incidents = bare_incidents(count, prefix=prefix)
    postmortems = PostMortem.objects.bulk_create(
        [PostMortem(incident=i, owner=verifier, clock_started_at=now) for i in incidents]
    )
    verify_by = now + timedelta(hours=1)
    items = ActionItem.objects.bulk_create(
        [
            ActionItem(
                postmortem=p,
                title=f"Preventive measure {i}",
                category=ActionItem.Category.PREVENTIVE,
                owner=owner,
                due_at=now - timedelta(hours=1),
                verify_by=verify_by,
                success_metric="No repeat in 90 days",
                evidence="https://grafana.example.com/d/executor",
                status=ActionItem.Status.TO_VERIFY,
                closed_at=now,
                closed_by=owner,
            )
            for i, p in enumerate(postmortems)
        ]
    )
    reminders = Reminder.objects.bulk_create(
        [
            Reminder(action_item=item, kind=kind, due_at=due_at)
            for item in items
            for kind, due_at in services.verification_schedule(item).items()
        ]
    )
    return {r.outbox_key for r in reminders if r.kind == Reminder.Kind.VERIFY}
