"""The read queries of the approvals' pages and panels. Each is bounded and runs a
fixed number of queries whatever the number of requests."""

from django.db.models import Case, IntegerField, Value, When

from portal.pagination import KeysetPage, keyset_page

from .models import ApprovalRequest

S = ApprovalRequest.State

# Newest first: the partial index approval_pending_newest, read backwards from the cursor.
LIST_ORDER = ["-requested_at", "-id"]
PANEL_ROWS = 20
# The dashboard counts at most this many waiting requests ("1,000+"), so the count stays an index range.
COUNT_CAP = 1000
INCIDENT_ROWS = 20


def _for_lists(queryset):
    return queryset.select_related("incident__severity", "requested_by").only(
        "id",
        "action",
        "state",
        "requested_at",
        "request_comment",
        "incident__reference",
        "incident__title",
        "incident__status",
        "incident__severity__level",
        "incident__severity__name",
        "requested_by__first_name",
        "requested_by__last_name",
        "requested_by__username",
    )


def waiting_for(user, cap: int = PANEL_ROWS) -> tuple[list[ApprovalRequest], int]:
    """The newest requests `user` may decide (at most `cap`) and how many there are (at most COUNT_CAP):
    two queries, whatever the number."""
    waiting = ApprovalRequest.objects.decidable_by(user)
    rows = list(_for_lists(waiting).order_by(*LIST_ORDER)[:cap])
    return rows, waiting.order_by()[:COUNT_CAP].count()


def decidable_page(user, params, per_page: int) -> KeysetPage:
    """A page of the requests `user` may decide, newest first, from the cursor in `params`."""
    return keyset_page(_for_lists(ApprovalRequest.objects.decidable_by(user)), LIST_ORDER, params, per_page=per_page)


def own_waiting(user, cap: int = PANEL_ROWS) -> list[ApprovalRequest]:
    """`user`'s own requests still waiting for someone else, newest first."""
    return list(_for_lists(ApprovalRequest.objects.pending().filter(requested_by=user)).order_by(*LIST_ORDER)[:cap])


def incident_requests(incident, actions=None, cap: int = INCIDENT_ROWS) -> list[ApprovalRequest]:
    """The incident's requests (of `actions`, or all): the open ones first, then the newest, in one query."""
    requests = ApprovalRequest.objects.filter(incident=incident)
    if actions is not None:
        requests = requests.filter(action__in=list(actions))
    open_first = Case(
        When(state__in=[S.PENDING, S.APPROVED], then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    return list(
        requests.select_related("requested_by", "decided_by")
        .annotate(open_first=open_first)
        .order_by("open_first", "-requested_at", "-id")[:cap]
    )


def approval_for_page(pk: int) -> ApprovalRequest:
    """One request with what its page shows, or ApprovalRequest.DoesNotExist."""
    return ApprovalRequest.objects.select_related("incident__severity", "requested_by", "decided_by").get(pk=pk)
