"""The read queries of the post-mortem pages and panels.

Each is bounded and served by an index of `postmortems.models` at any table size:
the lists read only the columns they show (never the Markdown deliverables) and are
paged by cursor in the order their index holds (`POSTMORTEM_ORDER`,
`ACTION_ITEM_ORDER`), so page 3,000 costs what page 1 costs.
"""

from django.db.models import Prefetch

from .models import ActionItem, Milestone, PostMortem, Reminder

# Newest clock first (index postmortem_started; postmortem_owner_started behind ?owner=).
POSTMORTEM_ORDER = ["-clock_started_at", "-id"]
# Soonest due first (actionitem_due, actionitem_open_due, actionitem_owner_open_due, actionitem_to_verify_due).
ACTION_ITEM_ORDER = ["due_at", "id"]
PANEL_ROWS = 20

# What `person_name` reads of a user.
PERSON_FIELDS = ("first_name", "last_name", "username")


def _person(path: str) -> list[str]:
    return [f"{path}__{name}" for name in PERSON_FIELDS]


def _milestone_states():
    """Milestones as the lists and panels show them: kind and state, no notes."""
    return Milestone.objects.only("id", "postmortem_id", "kind", "due_at", "completed_at").order_by("due_at", "id")


def postmortem_list_queryset():
    """Post-mortems as their list shows them: incident, severity, owner and milestone states."""
    return (
        PostMortem.objects.select_related("incident__severity", "owner")
        .only(
            "id",
            "clock_started_at",
            "incident__reference",
            "incident__title",
            "incident__severity__level",
            *_person("owner"),
        )
        .prefetch_related(Prefetch("milestones", queryset=_milestone_states()))
        .order_by(*POSTMORTEM_ORDER)
    )


def action_item_list_queryset():
    """Action items as their list shows them: no description or timeline; a preventive measure's metric,
    verify-by time, evidence and verification, which its verifiers read there."""
    return (
        ActionItem.objects.select_related("postmortem__incident", "owner", "verified_by")
        .only(
            "id",
            "title",
            "category",
            "due_at",
            "status",
            "success_metric",
            "verify_by",
            "evidence",
            "closed_by_id",
            "verified_at",
            "verification_note",
            "postmortem__incident__reference",
            *_person("owner"),
            *_person("verified_by"),
        )
        .order_by(*ACTION_ITEM_ORDER)
    )


def postmortem_detail_queryset():
    """Post-mortems with everything their page shows (one post-mortem per page)."""
    return PostMortem.objects.select_related("incident__severity", "owner", "opened_by").prefetch_related(
        "participants",
        "contact_participants",
        Prefetch("milestones", queryset=Milestone.objects.select_related("completed_by").prefetch_related("attendees")),
        Prefetch("action_items", queryset=ActionItem.objects.select_related("owner", "closed_by", "verified_by")),
    )


def handled_reminders(postmortem: PostMortem) -> list[Reminder]:
    """The post-mortem's reminders that were sent, cancelled or skipped, newest first.

    One query of two halves, each a range of an index (on milestone_id, on
    action_item_id), asked by the ids of the milestones and action items the
    page has already loaded, which become the reminders' targets. Asking
    through both relations at once (a join to each, OR-ed) made PostgreSQL read
    every reminder in the table, so the page slowed as reminders accumulated
    on other post-mortems.
    """
    milestones = {m.pk: m for m in postmortem.milestones.all()}
    items = {i.pk: i for i in postmortem.action_items.all()}
    handled = (
        Reminder.objects.exclude(status=Reminder.Status.PENDING)
        .only("id", "milestone_id", "action_item_id", "kind", "due_at", "status", "handled_at", "note", "recipients")
        .order_by()  # the union's parts are unordered; the whole is ordered below
    )
    reminders = list(
        handled.filter(milestone_id__in=milestones)
        .union(handled.filter(action_item_id__in=items), all=True)
        .order_by("-handled_at", "-id")
    )
    for reminder in reminders:
        if reminder.milestone_id is not None:
            reminder.milestone = milestones[reminder.milestone_id]
        else:
            reminder.action_item = items[reminder.action_item_id]
    return reminders


def overdue_milestones(now) -> list[Milestone]:
    """The most overdue open milestones (index milestone_open_due), with post-mortem and owner."""
    return list(
        Milestone.objects.overdue(now)
        .select_related("postmortem__incident", "postmortem__owner")
        .only("id", "kind", "due_at", "completed_at", "postmortem__incident__reference", *_person("postmortem__owner"))
        .order_by("due_at", "id")[:PANEL_ROWS]
    )


def overdue_action_items(now) -> list[ActionItem]:
    """The most overdue open action items (index actionitem_open_due), with incident and owner."""
    return list(
        ActionItem.objects.overdue(now)
        .select_related("postmortem__incident", "owner")
        .only("id", "title", "due_at", "status", "postmortem__incident__reference", *_person("owner"))
        .order_by("due_at", "id")[:PANEL_ROWS]
    )


def incident_postmortem(incident) -> PostMortem | None:
    """The incident's post-mortem with its milestone states, for the incident page's panel."""
    postmortem = (
        PostMortem.objects.filter(incident=incident)
        .only("id", "incident_id", "completed_at")
        .prefetch_related(Prefetch("milestones", queryset=_milestone_states()))
        .first()
    )
    if postmortem is not None:
        postmortem.incident = incident  # its link needs the reference, which the page has loaded
    return postmortem
