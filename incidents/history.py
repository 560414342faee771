"""An incident's audit trail in one list: the incident's own changes and those
of its roles, checklist, notes and status updates (rendered by `audit.history`)."""

from django.contrib.auth import get_user_model

from audit.history import FieldChange, HistoryEntry, newest_first, readable_history

from .models import ChecklistItem, Incident, Role, RoleAssignment, StatusUpdate, TimelineEntry

# A child row's creation need not repeat which incident it belongs to.
CHILD = {"hidden_on_create": ("incident",)}


def _collapse_checklist_creation(entries: list[HistoryEntry]) -> list[HistoryEntry]:
    """The checklist is created as a whole when an incident is declared; show it as one entry."""
    created = [e for e in entries if e.action == "created"]
    if len(created) < 2:
        return entries
    first = created[0]
    summary = HistoryEntry(
        when=first.when,
        user=first.user,
        reason=first.reason,
        action="created",
        subject="Checklist",
        label=f"{len(created)} items from the runbook",
        changes=[FieldChange("Item", "", e.label) for e in created],
        sort_key=first.sort_key,
    )
    return [summary] + [e for e in entries if e.action != "created"]


def incident_history(incident: Incident) -> list[HistoryEntry]:
    """The incident's own changes and those of its roles, checklist, notes and status updates, newest first.

    Of the timeline, the notes people wrote: the other entries are the portal's
    own account of changes listed here already."""
    user_model = get_user_model()
    entries = readable_history(
        Incident,
        incident.history.select_related("history_user"),
        label=lambda r, _: r.reference,
    )
    entries += readable_history(
        RoleAssignment,
        RoleAssignment.history.filter(incident_id=incident.pk).select_related("history_user"),
        label=lambda r, res: f"{res.name(Role, r.role_id)}: {res.name(user_model, r.user_id)}",
        **CHILD,
    )
    entries += _collapse_checklist_creation(
        readable_history(
            ChecklistItem,
            ChecklistItem.history.filter(incident_id=incident.pk).select_related("history_user"),
            label=lambda r, _: r.text,
            **CHILD,
        )
    )
    entries += readable_history(
        StatusUpdate,
        StatusUpdate.history.filter(incident_id=incident.pk).select_related("history_user"),
        label=lambda r, _: StatusUpdate.Audience(r.audience).label if r.audience in StatusUpdate.Audience else "",
        **CHILD,
    )
    entries += readable_history(
        TimelineEntry,
        TimelineEntry.history.filter(incident_id=incident.pk, kind=TimelineEntry.Kind.NOTE).select_related(
            "history_user"
        ),
        label=lambda r, _: "Note",
        subject="Timeline note",
        **CHILD,
    )
    return newest_first(entries)
