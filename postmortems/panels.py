"""The post-mortems' panels on pages that `incidents` owns (connected in
PostmortemsConfig.ready): overdue deadlines on the dashboard, the post-mortem
on the incident page. Each runs a constant number of bounded, indexed queries
(see `selectors`)."""

from django.utils import timezone

from incidents.panels import Panel

from . import selectors


def dashboard_panel(sender, *, request, **kwargs) -> Panel | None:
    """The most overdue milestones and action items."""
    if not request.user.has_perm("postmortems.view_postmortem"):
        return None
    now = timezone.now()
    context = {
        "now": now,
        "milestones": selectors.overdue_milestones(now),
        "action_items": selectors.overdue_action_items(now),
    }
    return Panel(name="postmortems-overdue", template="postmortems/panels/dashboard.html", context=context, order=50)


def incident_panel(sender, *, request, incident, **kwargs) -> Panel | None:
    """The incident's post-mortem and its milestones, or a button to open one."""
    if not request.user.has_perm("postmortems.view_postmortem"):
        return None
    context = {
        "now": timezone.now(),
        "incident": incident,
        "postmortem": selectors.incident_postmortem(incident),
        "can_open": request.user.has_perm("postmortems.add_postmortem"),
    }
    return Panel(name="postmortems-incident", template="postmortems/panels/incident.html", context=context, order=50)
