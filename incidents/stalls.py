"""Stalled incidents, chased: the investigation past its target, and an open
incident with no timeline activity for its severity's `stall_after`.

A stall is chased once per period: at the period's start a reminder to the
Incident Commander and the Technical Lead (the initial responder when neither
role is held), and from the second period on an escalation to 24/7 support and
the Incident Commanders as well, until the incident moves again.

- Investigation overdue: acknowledged or investigating past `detected_at +
  investigate_within`. The periods start at that target and last `stall_after`
  (the investigation target itself when the severity has none).
- No activity: no timeline entry written by a person (`created_at`, not
  `occurred_at`: a note backdated today is activity today) for `stall_after`,
  in any open phase; detection counts as activity when there is none. The
  portal's own entries (this chasing, alerts, other sweeps) do not count, so a
  reminder does not restart the clock it is about.

Like the sweeps in `cadence`, this runs every minute from beat and may run
twice at once: each notice is an outbox row under a unique key,
stalled:<incident>:<reason>:<reminder|escalation>:<period start>, written in a
batch transaction that holds the incidents' rows (`skip_locked`), so a second
run finds it queued or skips the rows being chased.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import DateTimeField, ExpressionWrapper, F, Max, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from audit.actors import system_user
from notifications.services import email_message, outbox_enqueue_many
from portal.display import duration_text, person_name

from .cadence import _already_queued, escalation_recipients
from .models import Contact, Incident, Role, TimelineEntry
from .selectors import active_role_holders
from .services import timeline_record_many

INVESTIGATION = "investigation"
NO_ACTIVITY = "no-activity"
REMINDER = "reminder"
ESCALATION = "escalation"
CHASED_ROLES = (Role.INCIDENT_COMMANDER, Role.TECHNICAL_LEAD)
INVESTIGATING = (Incident.Status.ACKNOWLEDGED, Incident.Status.INVESTIGATING)
REASON = "Stalled incident chased"
# The shortest period a stall is chased at, whatever a severity says (a zero period would chase every minute).
SHORTEST_PERIOD = timedelta(minutes=5)


@dataclass(frozen=True)
class Stall:
    """One way an incident has stalled, as of `now`."""

    reason: str
    first: datetime  # when it started to count as stalled: the start of its first period
    period: timedelta
    now: datetime

    @property
    def since(self) -> datetime:
        return self.first

    @property
    def slot(self) -> datetime:
        """The start of the period `now` falls in: one reminder (and one escalation) per period."""
        return self.first + self.period * ((self.now - self.first) // self.period)

    @property
    def escalate_at(self) -> datetime:
        return self.slot + self.period

    @property
    def kinds(self) -> list[str]:
        return [REMINDER, ESCALATION] if self.now >= self.first + self.period else [REMINDER]

    @property
    def headline(self) -> str:
        return "investigation past its target" if self.reason == INVESTIGATION else "no activity"

    @property
    def explanation(self) -> str:
        if self.reason == INVESTIGATION:
            return (
                f"The investigation was due to end by {timezone.localtime(self.first):%Y-%m-%d %H:%M %Z} "
                "(the runbook's investigation target) and the incident is still being investigated."
            )
        return f"Nothing has been recorded on its timeline for {duration_text(self.now - self.first + self.period)}."

    def key(self, incident_id: int, kind: str) -> str:
        return f"stalled:{incident_id}:{self.reason}:{kind}:{self.slot:%Y%m%dT%H%M%S}"


def _period(value) -> timedelta:
    return max(value, SHORTEST_PERIOD)


def incident_stalls(incident: Incident, last_activity: datetime, now: datetime) -> list[Stall]:
    """How `incident` (with its severity loaded) has stalled at `now`, given its last activity."""
    if not incident.is_open:
        return []
    severity = incident.severity
    stalls = []
    if incident.status in INVESTIGATING:
        target = incident.detected_at + severity.investigate_within
        if target <= now:
            stalls.append(
                Stall(INVESTIGATION, target, _period(severity.stall_after or severity.investigate_within), now)
            )
    if severity.stall_after and last_activity + severity.stall_after <= now:
        stalls.append(Stall(NO_ACTIVITY, last_activity + severity.stall_after, _period(severity.stall_after), now))
    return stalls


def _activity_entries():
    """Timeline entries that count as activity: written by a person, not by the portal, and not outreach."""
    return (
        TimelineEntry.objects.filter(author__isnull=False)
        .exclude(kind=TimelineEntry.Kind.OUTREACH)
        .exclude(author__username=settings.PORTAL_SYSTEM_USERNAME)
    )


def last_activity_expression():
    """Per incident row: its last activity, or its detection when it has none."""
    latest = (
        _activity_entries()
        .filter(incident=OuterRef("pk"))
        .order_by()
        .values("incident")
        .annotate(latest=Max("created_at"))
        .values("latest")
    )
    return Coalesce(Subquery(latest), F("detected_at"), output_field=DateTimeField())


def last_activity(incident: Incident) -> datetime:
    """One incident's last activity (one query), for its page."""
    latest = _activity_entries().filter(incident=incident).aggregate(latest=Max("created_at"))["latest"]
    return latest or incident.detected_at


def stalled_candidates(now: datetime):
    """Open incidents stalled at `now` one way or the other, with `last_activity` annotated.

    Reads the open incidents only (the partial indexes on open incidents) and each one's
    timeline through its (incident, …) index."""

    def at(expression):
        return ExpressionWrapper(expression, output_field=DateTimeField())

    investigation_due = Q(status__in=INVESTIGATING, investigation_target__lte=now)
    quiet = Q(severity__stall_after__isnull=False, quiet_at__lte=now)
    return (
        Incident.objects.open()
        .annotate(last_activity=last_activity_expression())
        .alias(
            investigation_target=at(F("detected_at") + F("severity__investigate_within")),
            quiet_at=at(F("last_activity") + F("severity__stall_after")),
        )
        .filter(investigation_due | quiet)
        .select_related("severity", "initial_responder")
    )


def _chased(incident: Incident, holders: dict[str, object]) -> list:
    """The Incident Commander and the Technical Lead; the initial responder when neither role is held."""
    users = [holders.get(slug) for slug in CHASED_ROLES]
    users = [u for u in users if u is not None and u.is_active and u.email]
    if not users and incident.initial_responder is not None:
        responder = incident.initial_responder
        users = [responder] if responder.is_active and responder.email else []
    return list({u.pk: u for u in users}.values())


def _escalation_contacts() -> tuple[list[Contact], list[Contact]]:
    contacts = list(
        Contact.objects.filter(is_active=True)
        .filter(
            Q(category=Contact.Category.SUPPORT) | Q(category=Contact.Category.TEAM, role__slug=Role.INCIDENT_COMMANDER)
        )
        .order_by("category", "escalation_order")
    )
    support = [c for c in contacts if c.category == Contact.Category.SUPPORT]
    commanders = [c for c in contacts if c.category == Contact.Category.TEAM]
    return support, commanders


def _chase_batch(incidents: list[Incident], *, now: datetime, portal, contacts: dict) -> int:
    """Queue what is due for `incidents` (rows this transaction holds): a fixed number of queries."""
    planned = [
        (stall.key(incident.pk, kind), incident, stall, kind)
        for incident in incidents
        for stall in incident_stalls(incident, incident.last_activity, now)
        for kind in stall.kinds
    ]
    if not planned:
        return 0
    done = _already_queued([key for key, *_ in planned])
    planned = [plan for plan in planned if plan[0] not in done]
    if not planned:
        return 0
    holders = active_role_holders([i.pk for _, i, _, _ in planned], slugs=list(CHASED_ROLES))
    messages, entries = [], []
    for key, incident, stall, kind in planned:
        incident_holders = holders.get(incident.pk, {})
        if kind == REMINDER:
            users = _chased(incident, incident_holders)
            message = email_message(
                key=key,
                template="incident_stalled",
                context={
                    "incident": incident,
                    "stall": stall,
                    "recipient_names": " and ".join(person_name(u) for u in users),
                },
                recipients=[u.email for u in users],
            )
            text = f"Stalled ({stall.headline}): reminder sent to " + " and ".join(person_name(u) for u in users) + "."
        else:
            if "support" not in contacts:
                contacts["support"], contacts["commanders"] = _escalation_contacts()
            message = email_message(
                key=key,
                template="incident_stalled_escalation",
                context={
                    "incident": incident,
                    "stall": stall,
                    "support_phones": [c for c in contacts["support"] if c.phone],
                },
                recipients=escalation_recipients(contacts["support"], contacts["commanders"], incident_holders),
            )
            text = (
                f"Stalled ({stall.headline}) a period after the reminder: "
                "escalated to 24/7 support and the Incident Commander."
            )
        if message is None:
            continue
        messages.append(message)
        entries.append(
            TimelineEntry(
                incident=incident,
                kind=TimelineEntry.Kind.OUTREACH,
                occurred_at=now,
                text=text,
                author=portal,
                data={"outbox": key, "stall": stall.reason, "notice": kind},
            )
        )
    if not messages:
        return 0
    queued = outbox_enqueue_many(messages, actor=portal, reason=REASON)
    timeline_record_many(entries=entries, actor=portal, reason=REASON)
    return sum(created for _, created in queued.values())


def chase_stalled_incidents(*, now=None, batch_size=None) -> int:
    """Remind, then escalate, every stalled open incident, once per period. Returns notices queued.

    Batch by batch, each in its own transaction holding its incidents' rows: a second sweep at the
    same time skips them, and a sweep killed mid-way leaves the committed batches done and the rest
    to the next run."""
    now = now or timezone.now()
    batch_size = batch_size or settings.STALL_SWEEP_BATCH
    portal = system_user()
    contacts: dict = {}
    after, queued = 0, 0
    while True:
        with transaction.atomic():
            incidents = list(
                stalled_candidates(now)
                .filter(pk__gt=after)
                .order_by("pk")
                .select_for_update(skip_locked=True, of=("self",))[:batch_size]
            )
            if not incidents:
                return queued
            after = incidents[-1].pk
            queued += _chase_batch(incidents, now=now, portal=portal, contacts=contacts)
        # A short batch is not the end: rows held by someone else were skipped, and later ones may follow.
