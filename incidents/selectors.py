"""Read queries that the pages share. Each runs a fixed number of queries,
whatever the number of incidents, timeline entries or updates."""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db.models import Case, Count, IntegerField, Prefetch, Q, Value, When

from portal.pagination import KeysetPage, keyset_page

from .models import (
    ChecklistItem,
    Contact,
    Incident,
    RoleAssignment,
    Service,
    Severity,
    StatusUpdate,
    TimelineEntry,
)

# The order the runbook escalates in: 24/7 lines, the team, vendors, then executives.
CONTACT_CATEGORY_ORDER = [
    Contact.Category.SUPPORT,
    Contact.Category.TEAM,
    Contact.Category.VENDOR,
    Contact.Category.EMERGENCY,
]


def incident_list_queryset():
    """The incident list's rows with what the page shows of each, in a fixed number
    of queries; `incidents.filters.IncidentFilterSet` filters and sorts them."""
    return (
        Incident.objects.select_related("severity", "incident_type")
        .only(*LIST_COLUMNS)
        .prefetch_related(Prefetch("services", queryset=Service.objects.only("name").order_by("name")))
    )


# What a list row shows of an incident: not its description or notes.
LIST_COLUMNS = ["reference", "title", "status", "detected_at", "severity", "incident_type", "next_update_due_at"]


# How many incidents each dashboard group shows; the rest are a link to the list away.
DASHBOARD_CAP = 20


@dataclass
class DashboardGroup:
    severity: Severity
    count: int
    incidents: list


def dashboard_open_groups(cap: int = DASHBOARD_CAP) -> list[DashboardGroup]:
    """Open incidents by severity, oldest first, at most `cap` of each: a count per
    severity, then one query per severity that has any (the partial index
    `incident_open_severity` serves both, however many incidents there are)."""
    counts = dict(Incident.objects.open().values_list("severity").annotate(n=Count("id")).order_by())
    groups = []
    for severity in Severity.objects.filter(pk__in=counts).order_by("level"):
        incidents = list(
            Incident.objects.open()
            .filter(severity=severity)
            .select_related("incident_type")
            .only(*LIST_COLUMNS)
            .order_by("detected_at", "id")[:cap]
        )
        for incident in incidents:
            incident.severity = severity
        groups.append(DashboardGroup(severity, counts[severity.pk], incidents))
    return groups


def update_overdue(now, cap: int = DASHBOARD_CAP) -> tuple[list[Incident], int]:
    """The open incidents whose status update is overdue, most overdue first (at most `cap`), and how many there are."""
    overdue = Incident.objects.update_overdue(now)
    rows = list(overdue.select_related("severity").only(*LIST_COLUMNS).order_by("next_update_due_at", "id")[:cap])
    return rows, (len(rows) if len(rows) < cap else overdue.count())


def user_active_assignments(user):
    """The roles `user` holds now, on incidents that are still open."""
    return list(
        RoleAssignment.objects.filter(user=user, ended_at__isnull=True, incident__status__in=Incident.OPEN_STATUSES)
        .select_related("role", "incident", "incident__severity")
        .order_by("incident__severity__level", "role__position")
    )


def incident_for_page(reference: str):
    """The incident with everything its page shows, or Incident.DoesNotExist."""
    return (
        Incident.objects.select_related("severity", "incident_type", "declared_by", "initial_responder")
        .prefetch_related(
            Prefetch("services", queryset=Service.objects.order_by("name")),
            Prefetch(
                "role_assignments",
                queryset=RoleAssignment.objects.select_related("role", "user", "assigned_by").order_by(
                    "role__position", "-started_at"
                ),
            ),
            Prefetch("checklist", queryset=ChecklistItem.objects.select_related("done_by")),
        )
        .get(reference=reference)
    )


# How much of an incident's timeline and updates its page shows at a time.
TIMELINE_PAGE = 50
UPDATES_SHOWN = 20


def timeline_page(incident, params) -> KeysetPage:
    """A page of the incident's timeline, newest first (the page shows it oldest
    first), from the cursor in `params`: any length costs one indexed query."""
    entries = TimelineEntry.objects.filter(incident=incident).select_related("author").defer("data")
    return keyset_page(entries, ["-occurred_at", "-id"], params, per_page=TIMELINE_PAGE)


def latest_status_updates(incident, limit: int = UPDATES_SHOWN) -> list[StatusUpdate]:
    return list(
        StatusUpdate.objects.filter(incident=incident).select_related("author").order_by("-posted_at", "-id")[:limit]
    )


def contacts_in_escalation_order(*, search: str = ""):
    order = Case(
        *[When(category=c, then=Value(i)) for i, c in enumerate(CONTACT_CATEGORY_ORDER)],
        default=Value(99),
        output_field=IntegerField(),
    )
    qs = Contact.objects.filter(is_active=True).select_related("role")
    if search:
        qs = qs.filter(
            Q(name__icontains=search)
            | Q(phone__icontains=search)
            | Q(email__icontains=search)
            | Q(notes__icontains=search)
            | Q(role__name__icontains=search)
        )
    return list(qs.annotate(category_rank=order).order_by("category_rank", "escalation_order", "name"))


def group_contacts(contacts) -> list[tuple[str, list[Contact]]]:
    """[(category label, contacts)] in escalation order, leaving out empty categories."""
    groups: dict[str, list[Contact]] = {}
    for contact in contacts:
        groups.setdefault(contact.get_category_display(), []).append(contact)
    return list(groups.items())


def assignable_users():
    """Active people who may work incidents: they can hold a role."""
    User = get_user_model()
    permission = Permission.objects.filter(codename="change_incident", content_type__app_label="incidents")
    return (
        User.objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(user_permissions__in=permission) | Q(groups__permissions__in=permission))
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


def active_role_holders(incident_ids, slugs) -> dict[int, dict[str, object]]:
    """{incident id: {role slug: user}}: who holds each of the roles `slugs` now, in one query."""
    holders: dict[int, dict[str, object]] = {}
    assignments = RoleAssignment.objects.filter(
        incident_id__in=list(incident_ids), role__slug__in=list(slugs), ended_at__isnull=True
    ).select_related("user", "role")
    for assignment in assignments:
        holders.setdefault(assignment.incident_id, {})[assignment.role.slug] = assignment.user
    return holders
