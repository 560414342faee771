"""Reaching people by phone: pages through the paging gateway, and what the timeline says about them.

A page is an outbox message (channel "page") under a unique key, so an escalation
pages each person once however often its sweep runs. The timeline records the
page as queued when it is queued, and its outcome only when the outbox reports
one (`notifications.events.message_settled`): "accepted by the gateway" once the
gateway answered 2xx, "failed after N attempts" once the outbox gave up. It never
says someone was reached before the gateway accepted the page. With paging off
(PAGING_WEBHOOK_URL unset) nothing is queued and the timeline says so.
"""

import logging
from dataclasses import dataclass

from audit.actors import acting_as, system_user
from notifications.services import outbox_enqueue_many, page_message, paging_configured

from .models import Incident, TimelineEntry
from .services import timeline_record, timeline_record_many

logger = logging.getLogger(__name__)

PAGE = "page"


@dataclass(frozen=True)
class Callee:
    """Someone to page: a name for the timeline and the number the gateway calls or texts."""

    name: str
    phone: str


@dataclass(frozen=True)
class Page:
    """One escalation's pages: who, under which key, saying what, and why (for the timeline)."""

    incident: Incident
    callees: tuple
    key: str
    text: str
    why: str


def page_people(*, incident: Incident, callees, key: str, text: str, why: str, actor) -> int:
    """Page each callee with a phone number once (keys `<key>:page:<phone>`), inside the caller's
    transaction and `acting_as` block; record each new page on the timeline as queued. Returns pages queued.

    With paging off, records once per call that these people were not paged; callers call it once
    per escalation (when the escalation itself is new)."""
    return page_people_many([Page(incident, tuple(callees), key, text, why)], actor=actor, reason=f"Paging: {why}")


def page_people_many(pages: list[Page], *, actor, reason: str) -> int:
    """Several escalations' pages (a sweep's batch) in the caller's transaction: one query for the keys
    already queued, one INSERT of the new pages, one of their timeline entries (and one each for their
    history rows), whatever their number. Returns the number of pages newly queued."""
    configured = paging_configured()
    entries, messages, about = [], [], {}
    for page in pages:
        callees = [c for c in page.callees if c.phone.strip()]
        if not callees:
            continue
        if not configured:
            entries.append(
                TimelineEntry(
                    incident=page.incident,
                    kind=TimelineEntry.Kind.OUTREACH,
                    text=f"Paging is not configured: {_names(callees)} not paged by phone ({page.why}).",
                    author=actor,
                    data={"paging": "off", "escalation": page.key},
                )
            )
            continue
        for callee in callees:
            phone = callee.phone.strip()
            message = page_message(
                key=f"{page.key}:page:{phone}",
                phone=phone,
                text=page.text,
                context={"kind": PAGE, "incident": page.incident.pk, "name": callee.name, "phone": phone},
            )
            messages.append(message)
            about[message.key] = (page, callee)
    queued = outbox_enqueue_many(messages, actor=actor, reason=reason) if messages else {}
    new = 0
    for key, (message, created) in queued.items():
        if not created:
            continue
        page, callee = about[key]
        new += 1
        entries.append(
            TimelineEntry(
                incident=page.incident,
                kind=TimelineEntry.Kind.OUTREACH,
                text=f"Paging {callee.name} ({callee.phone.strip()}) through the paging gateway ({page.why}): queued.",
                author=actor,
                data={"outbox": message.key},
            )
        )
    if entries:
        timeline_record_many(entries=entries, actor=actor, reason=reason)
    return new


def _names(callees) -> str:
    return ", ".join(f"{c.name} ({c.phone.strip()})" for c in callees)


def page_settled(sender, *, message, **kwargs) -> None:
    """Receiver of `notifications.events.message_settled`: the page's outcome on its incident's timeline."""
    context = message.context or {}
    if context.get("kind") != PAGE:
        return
    incident = Incident.objects.filter(pk=context.get("incident")).first()
    if incident is None:
        logger.info("Page %s settled for an incident that no longer exists", message.pk)
        return
    who = f"Paged {context.get('name', 'someone')} ({context.get('phone', '?')}) through the paging gateway"
    if message.status == message.Status.SENT:
        text = f"{who}: accepted by the gateway."
    else:
        attempts = "attempt" if message.attempts == 1 else "attempts"
        text = f"{who}: failed after {message.attempts} {attempts}: {message.last_error}"
    actor = system_user()
    with acting_as(actor, "Page outcome recorded"):
        timeline_record(
            incident=incident,
            actor=actor,
            kind=TimelineEntry.Kind.OUTREACH,
            occurred_at=message.sent_at if message.status == message.Status.SENT else None,
            text=text,
            data={"outbox": message.key, "outcome": message.status},
        )
