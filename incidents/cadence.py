"""The runbook's communication schedule: overdue-update reminders, escalation of
unacknowledged incidents, and the adherence panel on the incident page.

The sweeps run every minute from beat and may run twice at once (two beat
processes, a slow run overlapping the next): each notice is an outbox row under
a unique key, so a second run finds it queued and sends nothing. "Sent" is that
row, never inferred.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Prefetch, Q
from django.utils import timezone

from .audit import acting_as, system_user
from .models import Contact, Incident, OutboxMessage, RoleAssignment, Severity, StatusUpdate, TimelineEntry
from .outbox import email_enqueue
from .panels import Panel

COMMS_LEAD = "communications-lead"
INCIDENT_COMMANDER = "incident-commander"


def duration_text(value: timedelta | None) -> str:
    """30 minutes, 1 hour, 1 h 30 min; empty for None."""
    if not value:
        return ""
    minutes = int(value.total_seconds() // 60)
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    if not rest:
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{hours} h {rest} min"


def missed_slot(incident: Incident, now: datetime) -> datetime:
    """The due time of the latest slot missed by `now`: one reminder per slot.

    With a 30-minute cadence and the update due at 10:00, at 10:45 the 10:00
    slot is missed, at 10:31 still that one, at 11:05 the 10:30 one as well.
    """
    due, interval = incident.next_update_due_at, incident.severity.update_interval
    if not interval:
        return due
    return due + interval * ((now - due) // interval)


def _active_roles():
    return Prefetch(
        "role_assignments",
        queryset=RoleAssignment.objects.filter(
            ended_at__isnull=True, role__slug__in=[COMMS_LEAD, INCIDENT_COMMANDER]
        ).select_related("user", "role"),
        to_attr="active_leads",
    )


def _holder(incident: Incident, role_slug: str):
    return next((a.user for a in incident.active_leads if a.role.slug == role_slug and a.user.is_active), None)


def reminder_recipient(incident: Incident):
    """The Communications Lead, else the Incident Commander, else the initial responder."""
    for user in (_holder(incident, COMMS_LEAD), _holder(incident, INCIDENT_COMMANDER), incident.initial_responder):
        if user is not None and user.email and user.is_active:
            return user
    return None


def _already_queued(keys: list[str]) -> set[str]:
    return set(OutboxMessage.objects.filter(key__in=keys).values_list("key", flat=True))


def remind_overdue_updates(*, now=None) -> int:
    """Remind whoever owns communication on every incident whose status update is overdue. Returns reminders queued."""
    now = now or timezone.now()
    incidents = list(
        Incident.objects.update_overdue(now)
        .filter(severity__update_interval__isnull=False)
        .select_related("severity", "initial_responder")
        .prefetch_related(_active_roles())
    )
    keyed = [(f"update-overdue:{i.pk}:{missed_slot(i, now):%Y%m%dT%H%M%S}", i) for i in incidents]
    done = _already_queued([key for key, _ in keyed])
    queued = 0
    for key, incident in keyed:
        if key in done:
            continue
        user = reminder_recipient(incident)
        if user is None:
            continue
        with transaction.atomic(), acting_as(system_user(), "Overdue status update reminder"):
            result = email_enqueue(
                key=key,
                template="update_overdue",
                context={
                    "incident": incident,
                    "recipient_name": user.get_full_name() or user.username,
                    "due_at": missed_slot(incident, now),
                    "interval_text": duration_text(incident.severity.update_interval),
                },
                recipients=[user.email],
            )
        queued += bool(result and result[1])
    return queued


def escalation_recipients(incident: Incident, support: list[Contact], commanders: list[Contact]) -> list[str]:
    addresses = [c.email for c in support + commanders if c.email]
    ic = _holder(incident, INCIDENT_COMMANDER)
    if ic is not None and ic.email:
        addresses.append(ic.email)
    return addresses


def escalate_unacknowledged(*, now=None) -> int:
    """Escalate, once, every incident still unacknowledged past its severity's deadline (15 minutes by the runbook)."""
    now = now or timezone.now()
    shortest = min(Severity.objects.values_list("acknowledge_within", flat=True), default=timedelta(minutes=15))
    incidents = [
        incident
        for incident in Incident.objects.unacknowledged_since(now - shortest)
        .select_related("severity")
        .prefetch_related(_active_roles())
        if incident.detected_at + incident.severity.acknowledge_within <= now
    ]
    if not incidents:
        return 0
    keyed = [(f"unacknowledged:{i.pk}", i) for i in incidents]
    done = _already_queued([key for key, _ in keyed])
    contacts = list(
        Contact.objects.filter(is_active=True)
        .filter(Q(category=Contact.Category.SUPPORT) | Q(category=Contact.Category.TEAM, role__slug=INCIDENT_COMMANDER))
        .order_by("category", "escalation_order")
    )
    support = [c for c in contacts if c.category == Contact.Category.SUPPORT]
    commanders = [c for c in contacts if c.category == Contact.Category.TEAM]
    queued = 0
    actor = system_user()
    for key, incident in keyed:
        if key in done:
            continue
        with transaction.atomic(), acting_as(actor, "Unacknowledged incident escalated"):
            result = email_enqueue(
                key=key,
                template="incident_unacknowledged",
                context={
                    "incident": incident,
                    "waiting_minutes": int((now - incident.detected_at).total_seconds() // 60),
                    "support_phones": [c for c in support if c.phone],
                },
                recipients=escalation_recipients(incident, support, commanders),
            )
            if result and result[1]:
                TimelineEntry.objects.create(
                    incident=incident,
                    kind=TimelineEntry.Kind.EVENT,
                    occurred_at=now,
                    text="Not acknowledged within "
                    f"{int(incident.severity.acknowledge_within.total_seconds() // 60)} minutes: "
                    "escalated to 24/7 support and the Incident Commander.",
                    author=actor,
                    data={"outbox": key},
                )
                queued += 1
    return queued


@dataclass(frozen=True)
class Gap:
    start: datetime
    end: datetime
    label: str
    ongoing: bool
    late: bool

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    @property
    def length_text(self) -> str:
        return duration_text(self.length) or "0 minutes"


def cadence_gaps(incident: Incident, posted: list[datetime], now: datetime) -> list[Gap]:
    """Each gap between updates, from detection, against the severity's interval.

    While the incident is open the last gap runs to now; it is late once it has
    passed the target. Every audience counts, as in `status_update_post`,
    which restarts the clock on any update.
    """
    target = incident.severity.update_interval
    points = [incident.detected_at] + sorted(p for p in posted if p >= incident.detected_at)
    gaps = []
    for number, (start, end) in enumerate(zip(points, points[1:], strict=False), start=1):
        gaps.append(
            Gap(
                start=start,
                end=end,
                label="Detection → update 1" if number == 1 else f"Update {number - 1} → {number}",
                ongoing=False,
                late=bool(target) and end - start > target,
            )
        )
    if incident.is_open:
        start = points[-1]
        gaps.append(
            Gap(
                start=start,
                end=now,
                label="Since detection (no update yet)" if len(points) == 1 else "Since the last update",
                ongoing=True,
                late=bool(target) and now - start > target,
            )
        )
    return gaps


def cadence_panel_context(request, incident: Incident) -> dict:
    """One query, whatever the number of updates (the page has loaded the severity)."""
    now = timezone.now()
    posted = list(StatusUpdate.objects.filter(incident=incident).values_list("posted_at", flat=True))
    gaps = cadence_gaps(incident, posted, now)
    return {
        "target": incident.severity.update_interval,
        "target_text": duration_text(incident.severity.update_interval),
        "severity_code": incident.severity.code,
        "gaps": gaps,
        "late_count": sum(gap.late for gap in gaps),
    }


PANEL = Panel(name="cadence", template="incidents/panels/cadence.html", context=cadence_panel_context, order=50)
