"""Extension points for pages owned by `incidents` that show other apps' data.

`incidents` never imports the apps built on it; instead they register panels
here from their `AppConfig.ready()`. A panel is a template plus a function that
returns its context. Each panel's context function must run a constant number
of queries, whatever the data size, so the pages stay within their query budget.

- dashboard panels: `context(request) -> dict | None`, rendered on `/`;
- incident panels: `context(request, incident) -> dict | None`, rendered on the incident page.

A context of None means the panel has nothing to show this user (no permission,
say) and it is left out. The template gets the context's keys by name.
"""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Panel:
    name: str
    template: str
    context: Callable[..., dict]
    order: int = 100


dashboard_panels: list[Panel] = []
incident_panels: list[Panel] = []


def register(panels: list[Panel], panel: Panel) -> None:
    """Add `panel`, replacing one of the same name (ready() may run twice in tests)."""
    panels[:] = sorted([p for p in panels if p.name != panel.name] + [panel], key=lambda p: (p.order, p.name))


def render_context(panels: list[Panel], *args) -> list[dict]:
    """[{"name", "template", "context"}] for a template to `{% include %}` in order."""
    rendered = []
    for panel in panels:
        context = panel.context(*args)
        if context is not None:
            rendered.append({"name": panel.name, "template": panel.template, "context": context})
    return rendered
