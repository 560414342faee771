"""Regulatory reporting's read queries, each bounded and run a fixed number of times whatever the
number of clocks or incidents."""

from django.db.models import Q

from incidents.models import StatusUpdate
from portal.pagination import KeysetPage, keyset_page

from .models import ReportableFlag, ReportClock

CLOCK_ORDER = ["due_at", "id"]  # served by the partial index reportclock_open_due
PAGE_ROWS = 50
PANEL_CLOCKS = 50  # an incident owes a handful of reports; the cap only bounds a misconfiguration
STARTING_UPDATES = 5  # the latest regulator updates offered as a submission's starting text


def _clocks():
    return ReportClock.objects.select_related("obligation", "submitted_by")


def incident_clocks(incident) -> list[ReportClock]:
    """The incident's clocks, soonest deadline first (one query)."""
    return list(_clocks().filter(incident=incident).order_by(*CLOCK_ORDER)[:PANEL_CLOCKS])


def incident_flag(incident) -> ReportableFlag | None:
    return ReportableFlag.objects.select_related("set_by").filter(incident=incident).first()


def regulator_updates_text(incident) -> str:
    """The latest status updates to regulators, oldest first, as the starting text of a report."""
    updates = list(
        StatusUpdate.objects.filter(incident=incident, audience=StatusUpdate.Audience.REGULATORS)
        .order_by("-posted_at", "-id")
        .values_list("body", flat=True)[:STARTING_UPDATES]
    )
    return "\n\n".join(reversed(updates))


def open_clocks_page(params, *, now, overdue_only: bool = False, per_page: int = PAGE_ROWS) -> KeysetPage:
    """Open clocks across incidents, soonest (most overdue) deadline first, a page at a time."""
    clocks = _clocks().select_related("incident__severity").filter(submitted_at__isnull=True)
    if overdue_only:
        clocks = clocks.filter(Q(due_at__lte=now))
    return keyset_page(clocks, CLOCK_ORDER, params, per_page=per_page)
