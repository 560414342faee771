"""The post-mortems' panels on pages that `incidents` owns (connected in
PostmortemsConfig.ready): overdue deadlines on the dashboard, the post-mortem
on the incident page. Each runs a constant number of queries."""

from django.utils import timezone

from incidents.panels import Panel

from .models import ActionItem, Milestone, PostMortem


def dashboard_panel(sender, *, request, **kwargs) -> Panel | None:
    """Overdue milestones and action items."""
    if not request.user.has_perm("postmortems.view_postmortem"):
        return None
    now = timezone.now()
    context = {
        "now": now,
        "milestones": list(
            Milestone.objects.overdue(now).select_related("postmortem__incident", "postmortem__owner")[:20]
        ),
        "action_items": list(ActionItem.objects.overdue(now).select_related("postmortem__incident", "owner")[:20]),
    }
    return Panel(name="postmortems-overdue", template="postmortems/panels/dashboard.html", context=context, order=50)


def incident_panel(sender, *, request, incident, **kwargs) -> Panel | None:
    """The incident's post-mortem and its milestones, or a button to open one."""
    if not request.user.has_perm("postmortems.view_postmortem"):
        return None
    postmortem = (
        PostMortem.objects.filter(incident=incident).select_related("owner").prefetch_related("milestones").first()
    )
    context = {
        "now": timezone.now(),
        "incident": incident,
        "postmortem": postmortem,
        "can_open": request.user.has_perm("postmortems.add_postmortem"),
    }
    return Panel(name="postmortems-incident", template="postmortems/panels/incident.html", context=context, order=50)
