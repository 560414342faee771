"""An incident's audit trail in one list: the incident's own changes and those
of its roles, checklist, notes and status updates (rendered by `audit.history`),
a page at a time."""

from django.contrib.auth import get_user_model

from audit.history import PER_PAGE, FieldChange, HistoryEntry, HistorySource, history_page
from portal.pagination import KeysetPage

from .models import ChecklistItem, Incident, Role, RoleAssignment, StatusUpdate, TimelineEntry

# A child row's creation need not repeat which incident it belongs to.
CHILD = {"hidden_on_create": ("incident",)}


def _checklist_created(created: list[HistoryEntry]) -> HistoryEntry:
    """The checklist is created as a whole when an incident is declared; show it as one entry."""
    first = created[0]
    if len(created) < 2:
        return first
    return HistoryEntry(
        when=first.when,
        user=first.user,
        reason=first.reason,
        action="created",
        subject="Checklist",
        label=f"{len(created)} items from the runbook",
        changes=[FieldChange("Item", "", e.label) for e in created],
        sort_key=first.sort_key,
    )


def _audience(record, _) -> str:
    return StatusUpdate.Audience(record.audience).label if record.audience in StatusUpdate.Audience else ""


def incident_history(incident: Incident, params=None, *, per_page: int = PER_PAGE) -> KeysetPage:
    """A page of the incident's own changes and those of its roles, checklist, notes
    and status updates, newest first, from the cursor in `params` (see `history_page`).

    Of the timeline, the notes people wrote: the other entries are the portal's
    own account of changes listed here already. The checklist's creation is one
    entry, read whole (its size is the runbook's, not the history's), so that a
    page boundary never splits it."""
    user_model = get_user_model()
    checklist = ChecklistItem.history.filter(incident_id=incident.pk)
    sources = [
        HistorySource(Incident, incident.history.all(), label=lambda r, _: r.reference),
        HistorySource(
            RoleAssignment,
            RoleAssignment.history.filter(incident_id=incident.pk),
            label=lambda r, res: f"{res.name(Role, r.role_id)}: {res.name(user_model, r.user_id)}",
            **CHILD,
        ),
        HistorySource(
            ChecklistItem,
            checklist.filter(history_type="+"),
            label=lambda r, _: r.text,
            summarize=_checklist_created,
            **CHILD,
        ),
        HistorySource(ChecklistItem, checklist.exclude(history_type="+"), label=lambda r, _: r.text, **CHILD),
        HistorySource(StatusUpdate, StatusUpdate.history.filter(incident_id=incident.pk), label=_audience, **CHILD),
        HistorySource(
            TimelineEntry,
            TimelineEntry.history.filter(incident_id=incident.pk, kind=TimelineEntry.Kind.NOTE),
            label=lambda r, _: "Note",
            subject="Timeline note",
            **CHILD,
        ),
    ]
    return history_page(sources, params or {}, per_page=per_page)
