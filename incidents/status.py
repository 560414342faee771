"""The public status page's data and its subscribers.

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
from django.core import signing
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import Truncator

from .audit import acting_as, system_user
from .models import Incident, StatusSubscriber, StatusUpdate
from .outbox import email_enqueue

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


def normalise_email(email: str) -> str:
    return email.strip().lower()


def subscriber_subscribe(*, email: str) -> StatusSubscriber:
    """Start a subscription: the address receives a confirmation link and nothing else until it is followed.

    Asking again re-sends the link, at most once a day per address, so the form
    cannot be used to flood someone's inbox.
    """
    email = normalise_email(email)
    with transaction.atomic(), acting_as(system_user(), "Status page: subscribe"):
        subscriber, _ = StatusSubscriber.objects.get_or_create(email=email)
        subscriber = StatusSubscriber.objects.select_for_update().get(pk=subscriber.pk)
        if subscriber.is_receiving:
            return subscriber
        if subscriber.unsubscribed_at or subscriber.confirmed_at:
            subscriber.unsubscribed_at = subscriber.confirmed_at = None
            subscriber.save()
        from .notifications import CONFIRM_SALT, subscriber_link

        email_enqueue(
            key=f"status-confirm:{subscriber.pk}:{timezone.now():%Y-%m-%d}",
            template="status_confirm",
            context={
                "confirm_url": subscriber_link(subscriber, "confirm", CONFIRM_SALT),
                "valid_days": settings.STATUS_CONFIRM_MAX_AGE.days,
                "title": settings.STATUS_PAGE_TITLE,
            },
            recipients=[subscriber.email],
        )
    return subscriber


def subscriber_from_token(token: str, salt: str, max_age=None) -> StatusSubscriber | None:
    try:
        pk = signing.loads(token, salt=salt, max_age=max_age)
    except signing.BadSignature:  # SignatureExpired is a BadSignature
        return None
    if not isinstance(pk, int):
        return None
    return StatusSubscriber.objects.filter(pk=pk).first()


def subscriber_confirm(*, subscriber: StatusSubscriber) -> StatusSubscriber:
    with transaction.atomic(), acting_as(system_user(), "Status page: subscription confirmed"):
        subscriber = StatusSubscriber.objects.select_for_update().get(pk=subscriber.pk)
        if subscriber.confirmed_at is None or subscriber.unsubscribed_at is not None:
            subscriber.confirmed_at = timezone.now()
            subscriber.unsubscribed_at = None
            subscriber.save()
    return subscriber


def subscriber_unsubscribe(*, subscriber: StatusSubscriber) -> StatusSubscriber:
    with transaction.atomic(), acting_as(system_user(), "Status page: unsubscribed"):
        subscriber = StatusSubscriber.objects.select_for_update().get(pk=subscriber.pk)
        if subscriber.unsubscribed_at is None:
            subscriber.unsubscribed_at = timezone.now()
            subscriber.save()
    return subscriber
