"""Read queries that the pages share. Each runs a fixed number of queries,
whatever the number of incidents, timeline entries or updates."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db.models import Case, IntegerField, Prefetch, Q, Value, When

from .models import (
    ChecklistItem,
    Contact,
    Incident,
    RoleAssignment,
    Service,
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
    return Incident.objects.select_related("severity", "incident_type").prefetch_related(
        Prefetch("services", queryset=Service.objects.order_by("name"))
    )


def dashboard_open_incidents():
    return list(
        Incident.objects.open()
        .select_related("severity", "incident_type", "initial_responder")
        .order_by("severity__level", "detected_at")
    )


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
            Prefetch("timeline", queryset=TimelineEntry.objects.select_related("author")),
            Prefetch("status_updates", queryset=StatusUpdate.objects.select_related("author")),
        )
        .get(reference=reference)
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
