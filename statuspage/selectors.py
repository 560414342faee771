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
from django.db.models import Exists, OuterRef, Subquery
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


# The bounds: a status page lists what is happening and a recent history, never
# the whole archive. The feed reads further back, as it renders less per entry.
CURRENT_LIMIT = 20
PAST_LIMIT = 20
FEED_ENTRIES = 100


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
    heading: str
    updates: list[PublicUpdate] = field(default_factory=list)  # newest first


def _customer_updates():
    return StatusUpdate.objects.filter(audience=StatusUpdate.Audience.CUSTOMERS)


def _public(incidents):
    """The incidents among `incidents` that have a customer update, with the first one's
    body for the heading: each is an index probe (update_incident_audience)."""
    of_incident = _customer_updates().filter(incident=OuterRef("pk"))
    return (
        incidents.filter(Exists(of_incident))
        .annotate(first_update=Subquery(of_incident.order_by("posted_at", "id").values("body")[:1]))
        .only("id", "status", "detected_at", "resolved_at")
    )


def current_incidents() -> list[Incident]:
    """Open incidents with a customer update, newest first: at most CURRENT_LIMIT.

    Read in the order of index incident_status_newest (status, then newest), so
    the database reads open incidents only, however large the archive, and
    stops at the bound; the page then shows them newest first. More incidents
    in progress at once than the bound is more than a status page can say
    (it reads "At least 20 incidents in progress" then).
    """
    rows = list(_public(Incident.objects.open()).order_by("status", "-detected_at", "-id")[:CURRENT_LIMIT])
    return sorted(rows, key=lambda incident: (incident.detected_at, incident.pk), reverse=True)


def past_incidents(now=None, *, limit=PAST_LIMIT) -> list[Incident]:
    """The newest `limit` resolved incidents with a customer update that started in the
    page's window (STATUS_PAGE_HISTORY_DAYS), newest first.

    A range of index incident_detected from the window's start, read newest
    first until `limit` are found: the page costs the same whatever the size
    of the archive.
    """
    now = now or timezone.now()
    since = now - timedelta(days=settings.STATUS_PAGE_HISTORY_DAYS)
    started = Incident.objects.exclude(status__in=Incident.OPEN_STATUSES).filter(detected_at__gte=since)
    return list(_public(started).order_by("-detected_at", "-id")[:limit])


def _as_public(incident: Incident) -> PublicIncident:
    return PublicIncident(
        id=incident.pk,
        status=public_status(incident),
        is_open=incident.is_open,
        started_at=incident.detected_at,
        resolved_at=incident.resolved_at,
        heading=heading_from(incident.first_update),
    )


def _as_public_update(update: StatusUpdate) -> PublicUpdate:
    return PublicUpdate(id=update.pk, body=update.body, posted_at=update.posted_at)


def public_incidents(now=None) -> tuple[list[PublicIncident], list[PublicIncident]]:
    """(current, past): incidents as the public sees them, newest first, each with
    its customer updates (newest first). Three queries, each bounded."""
    current = [_as_public(incident) for incident in current_incidents()]
    past = [_as_public(incident) for incident in past_incidents(now)]
    by_id = {incident.id: incident for incident in current + past}
    updates = _customer_updates().filter(incident_id__in=by_id).only("id", "incident_id", "body", "posted_at")
    for update in updates.order_by("-posted_at", "-id"):
        by_id[update.incident_id].updates.append(_as_public_update(update))
    return current, past


def feed_entries(now=None) -> list[tuple[PublicIncident, PublicUpdate]]:
    """The newest FEED_ENTRIES customer updates of the current incidents and the
    FEED_ENTRIES newest past ones, newest first, each with its incident. Three queries."""
    rows = {incident.pk: incident for incident in current_incidents() + past_incidents(now, limit=FEED_ENTRIES)}
    updates = (
        _customer_updates()
        .filter(incident_id__in=rows)
        .only("id", "incident_id", "body", "posted_at")
        .order_by("-posted_at", "-id")[:FEED_ENTRIES]
    )
    incidents: dict[int, PublicIncident] = {}
    entries = []
    for update in updates:
        if update.incident_id not in incidents:
            incidents[update.incident_id] = _as_public(rows[update.incident_id])
        entries.append((incidents[update.incident_id], _as_public_update(update)))
    return entries
