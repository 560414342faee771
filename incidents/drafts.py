"""Starting drafts for status updates: the update template for an audience and the
incident's current phase, with its placeholders filled in from the incident."""

import re
from datetime import UTC

from .models import Incident, StatusUpdate, UpdateTemplate

PLACEHOLDER = re.compile(r"\{(\w+)\}")


def placeholders(incident: Incident) -> dict[str, str]:
    """The values of the templates' placeholders (UpdateTemplate.body's help text lists them).
    Uses the incident's prefetched services, so no query beyond those the page makes."""
    due = incident.next_update_due_at
    return {
        "reference": incident.reference,
        "title": incident.title,
        "severity": f"{incident.severity.code} ({incident.severity.name})",
        "phase": incident.get_status_display(),
        "services": ", ".join(service.name for service in incident.services.all()) or "—",
        "user_impact": incident.user_impact or "—",
        "next_update": f"{due.astimezone(UTC):%H:%M} UTC" if due and incident.is_open else "as needed",
        "bridge_url": incident.bridge_url or "—",
    }


def fill(body: str, values: dict[str, str]) -> str:
    """`body` with each known {placeholder} replaced; unknown ones and stray braces are left as written."""
    return PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), body)


def template_for(incident: Incident, audience: str) -> UpdateTemplate | None:
    """The audience's template for the incident's phase, else its any-phase one; one query."""
    found = list(UpdateTemplate.objects.filter(audience=audience, phase__in=[incident.status, ""]))
    found.sort(key=lambda template: template.phase == "")  # the phase's own first
    return found[0] if found else None


def update_draft(incident: Incident, audience: str) -> str | None:
    """The starting draft for an update to `audience`, or None when there is no template for it."""
    if audience not in StatusUpdate.Audience.values:
        return None
    template = template_for(incident, audience)
    return fill(template.body, placeholders(incident)) if template else None
