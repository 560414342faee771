"""Four eyes: the actions that need a second person's approval when the incident's
severity says so (`Severity.four_eyes`), and the requests and decisions that
record who asked, who approved and why.

One person requests (with a comment), another who holds the action's approve
permission approves or rejects it (with a comment); the requester may withdraw
it while it waits. An approved request is used by the action it allowed, once.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse

from audit.models import TimeStamped, history
from incidents.models import Incident

_PENDING = "pending"
_APPROVED = "approved"


class ApprovalRequestQuerySet(models.QuerySet):
    def pending(self):
        return self.filter(state=ApprovalRequest.State.PENDING)

    def decidable_by(self, user):
        """Pending requests `user` may decide: someone else's, for an action they hold the permission for
        (newest first on the partial index approval_pending_newest)."""
        actions = ApprovalRequest.actions_approvable_by(user)
        if not actions:
            return self.none()
        return self.pending().filter(action__in=actions).exclude(requested_by=user)


class ApprovalRequest(TimeStamped):
    """A request for a second person's approval of an action on an incident,
    and its outcome: pending → approved (→ used by the action) | rejected | withdrawn."""

    class Action(models.TextChoices):
        CLOSE_INCIDENT = "close_incident", "Close the incident"
        COMPLETE_ANALYSIS = "complete_analysis", "Complete the post-mortem's detailed analysis"

    class State(models.TextChoices):
        PENDING = _PENDING, "Waiting for approval"
        APPROVED = _APPROVED, "Approved"
        REJECTED = "rejected", "Rejected"
        WITHDRAWN = "withdrawn", "Withdrawn"
        USED = "used", "Approved and done"

    # The permission a second person needs to approve each action.
    PERMISSIONS = {
        Action.CLOSE_INCIDENT: "approvals.approve_close_incident",
        Action.COMPLETE_ANALYSIS: "approvals.approve_complete_analysis",
    }

    action = models.CharField(max_length=30, choices=Action.choices)
    # Indexed by approval_incident_newest, which leads with it.
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="approval_requests", db_index=False)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    request_comment = models.TextField(help_text="Why the action should be approved.")
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True, help_text="When it was approved, rejected or withdrawn.")
    decision_comment = models.TextField(blank=True)
    used_at = models.DateTimeField(null=True, blank=True, help_text="When the approved action was carried out.")

    objects = ApprovalRequestQuerySet.as_manager()
    history = history()

    class Meta:
        ordering = ["-requested_at", "-id"]
        permissions = [
            ("approve_close_incident", "Can approve closing an incident (as the second person)"),
            ("approve_complete_analysis", "Can approve completing a post-mortem's analysis (as the second person)"),
        ]
        indexes = [
            # "Waiting for your approval" and /approvals/: pending ones, newest first (a small partial index).
            models.Index(fields=["requested_at", "id"], condition=Q(state=_PENDING), name="approval_pending_newest"),
            # An incident's requests, newest first (its page and the closing check).
            models.Index(fields=["incident", "requested_at", "id"], name="approval_incident_newest"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "action"],
                condition=Q(state__in=[_PENDING, _APPROVED]),
                name="%(app_label)s_%(class)s_one_open_per_action",
                violation_error_message="This action already has a request waiting or approved.",
            ),
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True) | ~Q(decided_by=F("requested_by")),
                name="%(app_label)s_%(class)s_second_person",
                violation_error_message="The person who requested an approval cannot decide it.",
            ),
            models.CheckConstraint(
                condition=Q(state__in=[_PENDING, "withdrawn"]) | Q(decided_by__isnull=False, decided_at__isnull=False),
                name="%(app_label)s_%(class)s_decision_has_who",
                violation_error_message="An approved or rejected request records who decided it and when.",
            ),
            models.CheckConstraint(
                condition=~Q(state="used") | Q(used_at__isnull=False),
                name="%(app_label)s_%(class)s_used_has_time",
                violation_error_message="A used approval records when it was used.",
            ),
            models.CheckConstraint(
                condition=~Q(request_comment=""),
                name="%(app_label)s_%(class)s_request_has_comment",
                violation_error_message="A request needs a comment.",
            ),
        ]

    def __str__(self):
        return f"{self.get_action_display()} ({self.incident.reference}): {self.get_state_display().lower()}"

    def get_absolute_url(self):
        return reverse("approvals:detail", args=[self.pk])

    @property
    def is_pending(self) -> bool:
        return self.state == self.State.PENDING

    @property
    def permission(self) -> str:
        return self.PERMISSIONS[self.action]

    @classmethod
    def actions_approvable_by(cls, user) -> list[str]:
        """The actions `user` holds the approve permission for (their permissions are read once, then cached)."""
        if not user.is_active:
            return []
        return [action for action, permission in cls.PERMISSIONS.items() if user.has_perm(permission)]

    def may_be_decided_by(self, user) -> bool:
        return self.is_pending and user.pk != self.requested_by_id and user.has_perm(self.permission)
