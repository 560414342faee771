"""The ledger's boxes on pages that `incidents` owns (connected in LedgerConfig.ready): the impact
panel on the incident page, the totals on each open incident's row of the dashboard, and the
entries awaiting your confirmation on the dashboard. Each runs one or two bounded queries,
whatever the number of entries or incidents (see `selectors`)."""

from incidents.panels import Badge, Panel

from . import selectors
from .forms import ImpactEntryForm, attach_reverse_forms

VIEW = "ledger.view_impactentry"
ADD = "ledger.add_impactentry"
CHANGE = "ledger.change_impactentry"
CONFIRM = "ledger.confirm_impactentry"


def entry_actions(user) -> dict:
    """Which of the ledger's buttons `user` gets (the templates' `can`)."""
    return {
        "add": user.has_perm(ADD),
        "request": user.has_perm(CHANGE),
        "reverse": user.has_perm(ADD),
        "confirm": user.has_perm(CONFIRM),
        "user_id": user.pk,
    }


def incident_panel(sender, *, request, incident, **kwargs) -> Panel | None:
    """The incident's totals per currency, its latest entries with their buttons, and the entry form."""
    if not request.user.has_perm(VIEW):
        return None
    entries = selectors.latest_entries(incident)
    attach_reverse_forms(entries)
    totals = selectors.incident_totals(incident)
    context = {
        "incident": incident,
        "totals": totals,
        "entries": entries,
        "more_entries": totals.entries - len(entries),
        "form": ImpactEntryForm(),
        "can": entry_actions(request.user),
        "back": "incident",
    }
    return Panel(name="impact", template="ledger/panels/incident.html", context=context, order=40)


def incident_list_badges(sender, *, request, incidents, **kwargs) -> dict[int, Badge]:
    """Each listed incident's totals, compact: "≈ USD 12,500.00 est. · EUR 800.00 confirmed"."""
    if not request.user.has_perm(VIEW):
        return {}
    totals = selectors.totals_for_incidents(incident.pk for incident in incidents)
    return {
        incident_id: Badge(name="impact", text=found.compact, title="Financial impact, per currency")
        for incident_id, found in totals.items()
    }


def dashboard_panel(sender, *, request, **kwargs) -> Panel | None:
    """Entries others entered and asked to have confirmed, which you may confirm."""
    if not request.user.has_perm(CONFIRM):
        return None
    entries, count = selectors.awaiting_confirmation(request.user)
    context = {
        "entries": entries,
        "count": count,
        "count_cap": selectors.AWAITING_COUNT_CAP,
        "count_capped": count > selectors.AWAITING_COUNT_CAP,
    }
    return Panel(name="impact-awaiting", template="ledger/panels/awaiting.html", context=context, order=45)
