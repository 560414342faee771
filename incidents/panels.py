"""Panels: other apps' boxes on pages that `incidents` owns (the dashboard, the
incident page), without `incidents` importing those apps.

A page sends its signal; each receiver returns a `Panel` to show, or None when
it has nothing for this user. Receivers must run a constant number of queries
whatever the data size, so the pages stay within their query budget.

- `dashboard_panels(sender=None, request)`
- `incident_panels(sender=Incident, request, incident)`

A list of incidents (the dashboard's open incidents) asks for badges to show on
each row: each receiver returns {incident id: Badge} for the incidents it is
given, from one query for all of them, or {} when it has nothing for this user.

- `incident_list_badges(sender=Incident, request, incidents)`
"""

from dataclasses import dataclass

from django.dispatch import Signal

dashboard_panels = Signal()
incident_panels = Signal()
incident_list_badges = Signal()


@dataclass(frozen=True)
class Panel:
    name: str
    template: str
    context: dict
    order: int = 100


def collect(signal: Signal, sender=None, **kwargs) -> list[Panel]:
    """The panels the receivers returned, in order."""
    panels = [panel for _, panel in signal.send(sender=sender, **kwargs) if panel is not None]
    return sorted(panels, key=lambda panel: (panel.order, panel.name))


@dataclass(frozen=True)
class Badge:
    """A short text on an incident's row in a list (plain text, escaped by the template)."""

    name: str
    text: str
    title: str = ""


def collect_badges(signal: Signal, sender=None, **kwargs) -> dict[int, list[Badge]]:
    """{incident id: [badges]} from every receiver, each incident's badges in the order of their names."""
    badges: dict[int, list[Badge]] = {}
    for _, found in signal.send(sender=sender, **kwargs):
        for incident_id, badge in (found or {}).items():
            badges.setdefault(incident_id, []).append(badge)
    return {incident_id: sorted(found, key=lambda badge: badge.name) for incident_id, found in badges.items()}
