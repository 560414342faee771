"""Regulatory reporting's box on the incident page (connected in RegulatoryConfig.ready): each report
clock with its deadline, the time left or how overdue it is, the submission once recorded, the form
to record it, and the reportable flag. At most three queries whatever the number of clocks."""

from django.utils import timezone

from incidents.panels import Panel

from . import selectors
from .forms import ReportableFlagForm, ReportSubmitForm, submit_initial

VIEW = "regulatory.view_reportclock"
SUBMIT = "regulatory.change_reportclock"
FLAG = "regulatory.change_reportableflag"


def actions(user) -> dict:
    return {"submit": user.has_perm(SUBMIT), "flag": user.has_perm(FLAG)}


def attach_submit_forms(clocks, starting_text: str, bound=None) -> None:
    """Give each open clock its submission form (`clock.submit_form`): `bound` for its own clock."""
    for clock in clocks:
        if clock.submitted_at is not None:
            clock.submit_form = None
        elif bound is not None and bound.clock.pk == clock.pk:
            clock.submit_form = bound
        else:
            clock.submit_form = ReportSubmitForm(clock=clock, initial=submit_initial(starting_text))


def incident_panel(sender, *, request, incident, **kwargs) -> Panel | None:
    if not request.user.has_perm(VIEW):
        return None
    now = timezone.now()
    can = actions(request.user)
    clocks = selectors.incident_clocks(incident)
    if can["submit"] and any(clock.submitted_at is None for clock in clocks):
        attach_submit_forms(clocks, selectors.regulator_updates_text(incident))
    flag = selectors.incident_flag(incident)
    context = {
        "incident": incident,
        "clocks": clocks,
        "flag": flag,
        "flag_form": ReportableFlagForm(initial={"reportable": "no" if flag and flag.is_set else "yes"}),
        "now": now,
        "can": can,
    }
    return Panel(name="regulatory", template="regulatory/panels/incident.html", context=context, order=45)
