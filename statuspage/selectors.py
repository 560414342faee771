"""What the public status page shows.

What the public sees is built only from customer-facing status updates: an
incident appears once a customer update has been posted for it, and its heading
is the first line of its first customer update. The incident's own title,
description, impact, type, services, reference and every person's name stay
internal: titles are written by responders for responders ("Executor key leaked
in logs") and are not reviewed for the public, while customer updates are. The
queries load only the columns the page needs, so a template cannot leak what
was never read.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.text import Truncator

from incidents.models import Incident, StatusUpdate

S = Incident.Status
PUBLIC_STATUS = {
    S.DETECTED: "Investigating",
    S.ACKNOWLEDGED: "Investigating",
    S.INVESTIGATING: "Investigating",
    S.MITIGATING: "Fix in progress",
    S.RESOLVED: "Resolved",
    S.CLOSED: "Resolved",
}
UNTITLED = "Service incident"


def public_status(incident: Incident) -> str:
    return PUBLIC_STATUS[incident.status]


def heading_from(body: str) -> str:
    first_line = next((line.strip() for line in body.splitlines() if line.strip()), "")
    return Truncator(first_line).chars(100) or UNTITLED


def public_heading(incident: Incident) -> str:
    first = (
        StatusUpdate.objects.filter(incident=incident, audience=StatusUpdate.Audience.CUSTOMERS)
        .order_by("posted_at", "id")
        .values_list("body", flat=True)
        .first()
    )
    return heading_from(first) if first else UNTITLED


@dataclass
class PublicUpdate:
    id: int
    body: str
    posted_at: datetime


@dataclass
class PublicIncident:
    id: int
    status: str
    is_open: bool
    started_at: datetime
    resolved_at: datetime | None
    updates: list[PublicUpdate] = field(default_factory=list)  # newest first

    @property
    def heading(self) -> str:
        return heading_from(self.updates[-1].body) if self.updates else UNTITLED


def public_updates(now=None):
    """Customer updates of the page's window (and every one of still-open incidents), newest first. One query."""
    now = now or timezone.now()
    since = now - timedelta(days=settings.STATUS_PAGE_HISTORY_DAYS)
    return (
        StatusUpdate.objects.filter(audience=StatusUpdate.Audience.CUSTOMERS)
        .filter(Q(posted_at__gte=since) | Q(incident__status__in=Incident.OPEN_STATUSES))
        .select_related("incident")
        .only(
            "id",
            "body",
            "posted_at",
            "incident__id",
            "incident__status",
            "incident__detected_at",
            "incident__resolved_at",
        )
        .order_by("-posted_at", "-id")
    )


def public_incidents(now=None) -> tuple[list[PublicIncident], list[PublicIncident]]:
    """(current, past): incidents as the public sees them, newest first."""
    by_incident: dict[int, PublicIncident] = {}
    for update in public_updates(now):
        incident = update.incident
        entry = by_incident.get(incident.pk)
        if entry is None:
            entry = by_incident[incident.pk] = PublicIncident(
                id=incident.pk,
                status=public_status(incident),
                is_open=incident.is_open,
                started_at=incident.detected_at,
                resolved_at=incident.resolved_at,
            )
        entry.updates.append(PublicUpdate(id=update.pk, body=update.body, posted_at=update.posted_at))
    incidents = list(by_incident.values())
    return [i for i in incidents if i.is_open], [i for i in incidents if not i.is_open]
