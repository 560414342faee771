"""The API's read queries: the rows each endpoint shows, with what its serializer reads
loaded up front, so a list costs the same number of queries for 5 rows as for 200."""

from django.db.models import Prefetch

from incidents.models import Incident, RoleAssignment, Service, StatusUpdate, TimelineEntry
from incidents.selectors import LIST_COLUMNS
from postmortems.models import ActionItem, PostMortem
from postmortems.selectors import postmortem_detail_queryset

PERSON = ("username", "first_name", "last_name")


def _person(path: str) -> list[str]:
    return [f"{path}__{name}" for name in PERSON]


def incident_list_queryset():
    """The incident list's rows (as `incidents.selectors.incident_list_queryset`, with service slugs)."""
    return (
        Incident.objects.select_related("severity", "incident_type")
        .only(*LIST_COLUMNS)
        .prefetch_related(Prefetch("services", queryset=Service.objects.only("slug", "name").order_by("name")))
    )


def incident_detail(reference: str) -> Incident:
    """One incident with its people and roles, or Incident.DoesNotExist."""
    return (
        Incident.objects.select_related("severity", "incident_type", "declared_by", "initial_responder")
        .prefetch_related(
            Prefetch("services", queryset=Service.objects.order_by("name")),
            Prefetch(
                "role_assignments",
                queryset=RoleAssignment.objects.filter(ended_at__isnull=True)
                .select_related("role", "user")
                .order_by("role__position", "-started_at"),
            ),
        )
        .get(reference=reference)
    )


TIMELINE_ORDER = ["-occurred_at", "-id"]
UPDATES_ORDER = ["-posted_at", "-id"]


def timeline_queryset(incident):
    """The incident's timeline, newest first (paged by TIMELINE_ORDER, index timeline_incident_time_id)."""
    return TimelineEntry.objects.filter(incident=incident).select_related("author").defer("data")


def status_updates_queryset(incident):
    return StatusUpdate.objects.filter(incident=incident).select_related("author")


def postmortem_detail(reference: str) -> PostMortem:
    """One post-mortem with everything its page shows, or PostMortem.DoesNotExist."""
    return postmortem_detail_queryset().get(incident__reference=reference)


def action_item_detail(pk: int) -> ActionItem:
    return ActionItem.objects.select_related("postmortem__incident", "owner", "closed_by", "verified_by").get(pk=pk)
