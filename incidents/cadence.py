"""The runbook's communication schedule: overdue-update reminders, escalation of
unacknowledged incidents, and the adherence panel on the incident page.

The sweeps run every minute from beat and may run twice at once (two beat
processes, a slow run overlapping the next): each notice is an outbox row under
a unique key, so a second run finds it queued and sends nothing. "Sent" is that
row, never inferred.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.actors import acting_as, system_user
from notifications.models import OutboxMessage
from notifications.services import email_enqueue, paging_configured
from portal.display import duration_text, person_name

from .models import Contact, Incident, Role, Severity, StatusUpdate, TimelineEntry
from .outreach import Callee, page_people
from .panels import Panel
from .selectors import active_role_holders
from .services import timeline_record

COMMS_LEAD = Role.COMMUNICATIONS_LEAD
INCIDENT_COMMANDER = Role.INCIDENT_COMMANDER


def missed_slot(incident: Incident, now: datetime) -> datetime:
    """The due time of the latest slot missed by `now`: one reminder per slot.

    With a 30-minute cadence and the update due at 10:00, at 10:45 the 10:00
    slot is missed, at 10:31 still that one, at 11:05 the 10:30 one as well.
    """
    due, interval = incident.next_update_due_at, incident.severity.update_interval
    if not interval:
        return due
    return due + interval * ((now - due) // interval)


def _leads(incidents) -> dict[int, dict[str, object]]:
    return active_role_holders([i.pk for i in incidents], slugs=[COMMS_LEAD, INCIDENT_COMMANDER])


def reminder_recipient(incident: Incident, holders: dict[str, object]):
    """The Communications Lead, else the Incident Commander, else the initial responder."""
    for user in (holders.get(COMMS_LEAD), holders.get(INCIDENT_COMMANDER), incident.initial_responder):
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
    )
    holders = _leads(incidents)
    keyed = [(f"update-overdue:{i.pk}:{missed_slot(i, now):%Y%m%dT%H%M%S}", i) for i in incidents]
    done = _already_queued([key for key, _ in keyed])
    queued = 0
    for key, incident in keyed:
        if key in done:
            continue
        user = reminder_recipient(incident, holders.get(incident.pk, {}))
        if user is None:
            continue
        with transaction.atomic(), acting_as(system_user(), "Overdue status update reminder"):
            result = email_enqueue(
                key=key,
                template="update_overdue",
                context={
                    "incident": incident,
                    "recipient_name": person_name(user),
                    "due_at": missed_slot(incident, now),
                    "interval_text": duration_text(incident.severity.update_interval),
                },
                recipients=[user.email],
            )
        queued += bool(result and result[1])
    return queued


def escalation_recipients(support: list[Contact], commanders: list[Contact], holders: dict[str, object]) -> list[str]:
    addresses = [c.email for c in support + commanders if c.email]
    ic = holders.get(INCIDENT_COMMANDER)
    if ic is not None and ic.is_active and ic.email:
        addresses.append(ic.email)
    return addresses


def escalate_unacknowledged(*, now=None) -> int:
    """Escalate, once, every incident still unacknowledged past its severity's deadline (15 minutes by the runbook)."""
    now = now or timezone.now()
    shortest = min(Severity.objects.values_list("acknowledge_within", flat=True), default=timedelta(minutes=15))
    incidents = [
        incident
        for incident in Incident.objects.unacknowledged_since(now - shortest).select_related("severity")
        if incident.detected_at + incident.severity.acknowledge_within <= now
    ]
    if not incidents:
        return 0
    holders = _leads(incidents)
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
        waiting_minutes = int((now - incident.detected_at).total_seconds() // 60)
        with transaction.atomic(), acting_as(actor, "Unacknowledged incident escalated"):
            result = email_enqueue(
                key=key,
                template="incident_unacknowledged",
                context={
                    "incident": incident,
                    "waiting_minutes": waiting_minutes,
                    "support_phones": [c for c in support if c.phone],
                },
                recipients=escalation_recipients(support, commanders, holders.get(incident.pk, {})),
            )
            emailed = bool(result and result[1])
            paged = 0
            # The 24/7 lines have only phone numbers: page them too (each once, by its own key). Without an
            # email to send, the pages' keys alone keep this to once; "paging is off" is said with the email.
            if emailed or (result is None and paging_configured()):
                paged = page_people(
                    incident=incident,
                    callees=[Callee(c.name, c.phone) for c in support + commanders],
                    key=key,
                    text=f"{incident.severity.code} incident {incident.reference} not acknowledged after "
                    f"{waiting_minutes} min: {incident.title}. {settings.SITE_URL}{incident.get_absolute_url()}",
                    why="not acknowledged in time",
                    actor=actor,
                )
            if emailed:
                timeline_record(
                    incident=incident,
                    actor=actor,
                    kind=TimelineEntry.Kind.EVENT,
                    occurred_at=now,
                    text=f"Not acknowledged within {duration_text(incident.severity.acknowledge_within)}: "
                    "escalation emailed to 24/7 support and the Incident Commander.",
                    data={"outbox": key},
                )
            if emailed or paged:
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
        return duration_text(self.length)


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


def cadence_panel(sender, *, request, incident: Incident, **kwargs) -> Panel:
    """Receiver of `incidents.panels.incident_panels`: the gaps between updates against the target.

    One query, whatever the number of updates (the page has loaded the severity)."""
    now = timezone.now()
    posted = list(StatusUpdate.objects.filter(incident=incident).values_list("posted_at", flat=True))
    gaps = cadence_gaps(incident, posted, now)
    context = {
        "target": incident.severity.update_interval,
        "target_text": duration_text(incident.severity.update_interval),
        "severity_code": incident.severity.code,
        "gaps": gaps,
        "late_count": sum(gap.late for gap in gaps),
    }
    return Panel(name="cadence", template="incidents/panels/cadence.html", context=context, order=50)
