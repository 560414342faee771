"""Panels: other apps' boxes on pages that `incidents` owns (the dashboard, the
incident page), without `incidents` importing those apps.

A page sends its signal; each receiver returns a `Panel` to show, or None when
it has nothing for this user. Receivers must run a constant number of queries
whatever the data size, so the pages stay within their query budget.

- `dashboard_panels(sender=None, request)`
- `incident_panels(sender=Incident, request, incident)`
"""

from dataclasses import dataclass

from django.dispatch import Signal

dashboard_panels = Signal()
incident_panels = Signal()


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
