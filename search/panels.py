"""The search's panel on the incident page (connected in SearchConfig.ready): similar
incidents, with what their post-mortems found. One query (search.selectors.similar_incidents)."""

from incidents.panels import Panel

from . import selectors


def similar_incidents_panel(sender, *, request, incident, **kwargs) -> Panel | None:
    """Up to five other incidents like this one; none where trigram search is not available (SQLite)."""
    if not request.user.has_perm("incidents.view_incident") or not selectors.full_text_available():
        return None
    show_root_causes = request.user.has_perm("postmortems.view_postmortem")
    context = {
        "similar": selectors.similar_incidents(incident, with_root_causes=show_root_causes),
        "show_root_causes": show_root_causes,
    }
    return Panel(name="search-similar", template="search/panels/similar.html", context=context, order=60)
