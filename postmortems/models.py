"""Post-mortems, their milestones and action items, and the reminders that
enforce their deadlines.

A post-mortem belongs to one incident. Its three milestones fall due at times
computed from the incident's resolution. Each milestone and action item carries
one `Reminder` row per kind (before the deadline, at it, after a grace period),
with the time it falls due, so the deadline sweep is an indexed query for due
rows and "this reminder was sent" is a row in the database, never inferred.
"""

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Exists, F, OuterRef, Q
from django.urls import reverse
from django.utils import timezone

from audit.models import TimeStamped, history
from incidents.models import Contact, Incident
from notifications.models import OutboxMessage
from regulatory.models import ReportClock

EARLIEST_DUE = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_DUE_AHEAD = timedelta(days=366 * 10)


def validate_due_at(value) -> None:
    """A due time a person could mean: from 2000 to ten years ahead. The calendar's
    ends (0001-01-01, 9999-12-31) would overflow the reminder arithmetic."""
    if value is None:
        return
    if value < EARLIEST_DUE:
        raise ValidationError("A due date before 2000 cannot be right.", code="too_early")
    if value > timezone.now() + LATEST_DUE_AHEAD:
        raise ValidationError("A due date more than ten years ahead cannot be right.", code="too_late")


class PostMortemQuerySet(models.QuerySet):
    def overdue(self, now):
        """Post-mortems with at least one open milestone past its deadline."""
        return self.filter(Exists(Milestone.objects.overdue(now).filter(postmortem=OuterRef("pk"))))

    def with_open_milestone(self, kind):
        return self.filter(Exists(Milestone.objects.open().filter(postmortem=OuterRef("pk"), kind=kind)))


class PostMortem(TimeStamped):
    """The runbook's post-incident analysis of one incident: its deliverables
    (summary, root cause analysis, corrective actions, follow-up items), owner and
    participants. Long text fields are Markdown."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="postmortems")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_postmortems",
        help_text="Receives the reminders. The Incident Commander by default.",
    )
    participants = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="postmortems", help_text="Staff taking part."
    )
    contact_participants = models.ManyToManyField(
        Contact, blank=True, related_name="postmortems", help_text="Stakeholders from the contact list."
    )
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    clock_started_at = models.DateTimeField(help_text="The incident's resolution, from which milestones are due.")
    awaiting_resolution = models.BooleanField(
        default=False,
        help_text="Opened before the incident was resolved: its milestones are re-dated from the resolution.",
    )
    completed_at = models.DateTimeField(null=True, blank=True, help_text="When the last milestone was completed.")

    # Incident summary
    timeline_summary = models.TextField("timeline of events", blank=True)
    impact_assessment = models.TextField(blank=True)
    response_effectiveness = models.TextField(blank=True)
    # Root cause analysis
    primary_cause = models.TextField(blank=True)
    contributing_factors = models.TextField(blank=True)
    system_vulnerabilities = models.TextField(blank=True)
    # Corrective actions
    immediate_fixes = models.TextField(blank=True)
    long_term_improvements = models.TextField(blank=True)
    preventive_measures = models.TextField(blank=True)

    objects = PostMortemQuerySet.as_manager()
    history = history(m2m_fields=[participants, contact_participants])

    DELIVERABLES = [
        ("Incident summary", ["timeline_summary", "impact_assessment", "response_effectiveness"]),
        ("Root cause analysis", ["primary_cause", "contributing_factors", "system_vulnerabilities"]),
        ("Corrective actions", ["immediate_fixes", "long_term_improvements", "preventive_measures"]),
    ]
    DELIVERABLE_FIELDS = [name for _, names in DELIVERABLES for name in names]

    class Meta:
        ordering = ["-clock_started_at", "-id"]
        verbose_name = "post-mortem"
        # The list's order (newest clock first), alone and behind its owner filter, so a
        # page is an index range from its cursor rather than a sort of every post-mortem.
        indexes = [
            models.Index(fields=["clock_started_at", "id"], name="postmortem_started"),
            models.Index(fields=["owner", "clock_started_at", "id"], name="postmortem_owner_started"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["incident"],
                name="%(app_label)s_%(class)s_one_per_incident",
                violation_error_message="This incident already has a post-mortem.",
            ),
        ]

    def __str__(self):
        return f"Post-mortem of {self.incident.reference}"

    def get_absolute_url(self):
        return reverse("postmortems:detail", args=[self.incident.reference])

    @property
    def is_complete(self) -> bool:
        return self.completed_at is not None

    def deliverable_sections(self):
        """[(section title, [(label, markdown text)])] in the runbook's order."""
        return [
            (title, [(self._meta.get_field(name).verbose_name.capitalize(), getattr(self, name)) for name in names])
            for title, names in self.DELIVERABLES
        ]

    def missing_analysis(self) -> list[str]:
        """The analysis deliverables still empty (the detailed analysis cannot complete until none are)."""
        names = [name for _, names in self.DELIVERABLES[:2] for name in names]
        return [self._meta.get_field(n).verbose_name.capitalize() for n in names if not getattr(self, n).strip()]


class MilestoneQuerySet(models.QuerySet):
    def open(self):
        return self.filter(completed_at__isnull=True)

    def overdue(self, now):
        """Open milestones past their deadline (partial index milestone_open_due)."""
        return self.open().filter(due_at__lte=now)


class Milestone(TimeStamped):
    """One of the runbook's three post-mortem deadlines. Completing it is explicit
    and records who and when (and, for the meeting, when it was held and who came)."""

    class Kind(models.TextChoices):
        MEETING = "meeting", "Initial post-mortem meeting"
        ANALYSIS = "analysis", "Detailed analysis"
        PREVENTIVE = "preventive", "Preventive measures implemented"

    ORDER = [Kind.MEETING, Kind.ANALYSIS, Kind.PREVENTIVE]

    postmortem = models.ForeignKey(PostMortem, on_delete=models.CASCADE, related_name="milestones")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    due_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    meeting_held_at = models.DateTimeField(null=True, blank=True)
    attendees = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="postmortem_meetings")
    notes = models.TextField(blank=True, help_text="Markdown.")

    objects = MilestoneQuerySet.as_manager()
    history = history(m2m_fields=[attendees])

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [
            models.Index(fields=["due_at", "id"], condition=Q(completed_at__isnull=True), name="milestone_open_due"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["postmortem", "kind"],
                name="%(app_label)s_%(class)s_one_per_kind",
                violation_error_message="A post-mortem has one milestone of each kind.",
            ),
            models.CheckConstraint(
                condition=Q(completed_at__isnull=True) | Q(completed_by__isnull=False),
                name="%(app_label)s_%(class)s_completed_has_who",
                violation_error_message="A completed milestone records who completed it.",
            ),
            models.CheckConstraint(
                condition=~Q(kind="meeting") | Q(completed_at__isnull=True) | Q(meeting_held_at__isnull=False),
                name="%(app_label)s_%(class)s_meeting_has_time",
                violation_error_message="A completed meeting records when it was held.",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} ({self.postmortem.incident.reference})"

    def get_absolute_url(self):
        return self.postmortem.get_absolute_url() + f"#milestone-{self.kind}"

    @property
    def is_complete(self) -> bool:
        return self.completed_at is not None

    def is_overdue(self, now) -> bool:
        return not self.is_complete and self.due_at <= now


class ActionItemQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status__in=ActionItem.OPEN_STATUSES)

    def overdue(self, now):
        """Open action items past their due time (partial index actionitem_open_due)."""
        return self.open().filter(due_at__lte=now)

    def owned_by(self, user):
        return self.filter(owner=user)

    def awaiting_verification(self):
        """Preventive items marked done with evidence, waiting for someone else to verify them
        (partial index actionitem_to_verify_due)."""
        return self.filter(status=ActionItem.Status.TO_VERIFY)

    def to_verify_by(self, user):
        """Awaiting verification on post-mortems `user` owns, and neither theirs nor marked done by them:
        the ones they may verify and are asked to."""
        return self.awaiting_verification().filter(postmortem__owner=user).exclude(owner=user).exclude(closed_by=user)


class ActionItem(TimeStamped):
    """A follow-up item of a post-mortem: an immediate fix, a long-term
    improvement or a preventive measure, with an owner, a due time, an
    implementation timeline, a success metric and a status.

    A preventive measure is verified, not just ticked: it has a success metric
    and a verify-by time; its owner marks it done with evidence (text or a
    link), which leaves it awaiting verification until someone else checks the
    evidence against the metric and verifies it, or sends it back."""

    class Category(models.TextChoices):
        IMMEDIATE_FIX = "immediate_fix", "Immediate fix"
        LONG_TERM = "long_term", "Long-term improvement"
        PREVENTIVE = "preventive", "Preventive measure"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        IN_PROGRESS = "in_progress", "In progress"
        TO_VERIFY = "to_verify", "Done, awaiting verification"
        DONE = "done", "Done"
        DEFERRED = "deferred", "Deferred"

    # The owner's work is still to do. An item awaiting verification is not open (its owner's
    # reminders stop) and not finished either (it holds the preventive-measures milestone).
    OPEN_STATUSES = (Status.OPEN, Status.IN_PROGRESS)
    FINISHED_STATUSES = (Status.DONE, Status.DEFERRED)

    postmortem = models.ForeignKey(PostMortem, on_delete=models.CASCADE, related_name="action_items")
    title = models.CharField(max_length=200)
    category = models.CharField(max_length=20, choices=Category.choices, default=Category.PREVENTIVE)
    description = models.TextField(blank=True, help_text="Markdown.")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="action_items")
    due_at = models.DateTimeField("due", validators=[validate_due_at])
    implementation_timeline = models.TextField(blank=True, help_text="Markdown: the steps and when.")
    success_metric = models.TextField(blank=True, help_text="How we will know it worked.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    deferred_reason = models.TextField(blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Preventive measures only: see the class docstring.
    verify_by = models.DateTimeField(
        "verify by",
        null=True,
        blank=True,
        validators=[validate_due_at],
        help_text="When someone other than the owner should have checked that it worked. Not before the due time.",
    )
    evidence = models.TextField(blank=True, help_text="What shows it is done: a note, or a link (http or https).")
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    verification_note = models.TextField(
        blank=True, help_text="The verifier's note, or why it was sent back (kept until it is verified)."
    )

    objects = ActionItemQuerySet.as_manager()
    history = history()

    class Meta:
        ordering = ["due_at", "id"]
        # One per view of the action-item list, in its order (due first, then id):
        # all, overdue (open) and mine (mine and open).
        indexes = [
            models.Index(fields=["due_at", "id"], name="actionitem_due"),
            models.Index(
                fields=["due_at", "id"], condition=Q(status__in=["open", "in_progress"]), name="actionitem_open_due"
            ),
            models.Index(
                fields=["owner", "due_at", "id"],
                condition=Q(status__in=["open", "in_progress"]),
                name="actionitem_owner_open_due",
            ),
            # Awaiting verification, and mine to verify (the few awaiting, joined to their post-mortem).
            models.Index(fields=["due_at", "id"], condition=Q(status="to_verify"), name="actionitem_to_verify_due"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="deferred") | ~Q(deferred_reason=""),
                name="%(app_label)s_%(class)s_deferred_has_reason",
                violation_error_message="A deferred action item needs a reason.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["open", "in_progress"]) | Q(closed_at__isnull=False),
                name="%(app_label)s_%(class)s_closed_has_time",
                violation_error_message="A done or deferred action item records when.",
            ),
            # The verification rules the database can hold for every row, old ones included. "A preventive
            # measure has a metric and a verify-by time" and "a done one is verified" are the services' (and
            # the form's): items written before verification existed have neither.
            models.CheckConstraint(
                condition=Q(verify_by__isnull=True) | Q(verify_by__gte=F("due_at")),
                name="%(app_label)s_%(class)s_verify_not_before_due",
                violation_error_message="The verify-by time cannot be before the due time.",
            ),
            models.CheckConstraint(
                condition=Q(verified_at__isnull=True) | Q(status="done", category="preventive"),
                name="%(app_label)s_%(class)s_verified_only_if_done",
                violation_error_message="Only a done preventive measure can be verified.",
            ),
            models.CheckConstraint(
                condition=Q(verified_at__isnull=True, verified_by__isnull=True)
                | Q(verified_at__isnull=False, verified_by__isnull=False),
                name="%(app_label)s_%(class)s_verified_has_who",
                violation_error_message="A verification records who verified and when.",
            ),
            models.CheckConstraint(
                condition=Q(verified_by__isnull=True) | ~Q(verified_by=F("owner")),
                name="%(app_label)s_%(class)s_verifier_not_owner",
                violation_error_message="An action item cannot be verified by its owner.",
            ),
            models.CheckConstraint(
                condition=Q(verified_by__isnull=True) | Q(closed_by__isnull=True) | ~Q(verified_by=F("closed_by")),
                name="%(app_label)s_%(class)s_verifier_not_closer",
                violation_error_message="An action item cannot be verified by whoever marked it done.",
            ),
        ]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return self.postmortem.get_absolute_url() + f"#action-item-{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    def is_overdue(self, now) -> bool:
        return self.is_open and self.due_at <= now

    @property
    def is_preventive(self) -> bool:
        return self.category == self.Category.PREVENTIVE

    @property
    def is_awaiting_verification(self) -> bool:
        return self.status == self.Status.TO_VERIFY

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None

    @property
    def was_sent_back(self) -> bool:
        """Sent back by a verifier and not yet marked done again (the reason is the verification note)."""
        return self.is_open and bool(self.verification_note) and not self.is_verified

    def verification_overdue(self, now) -> bool:
        return self.is_awaiting_verification and self.verify_by is not None and self.verify_by <= now

    def may_verify(self, user) -> bool:
        """Whether `user` may verify this item or send it back: someone other than its owner and whoever
        marked it done, with the right to change post-mortems. (The services check the same.)"""
        return (
            self.is_awaiting_verification
            and user.is_authenticated
            and user.pk not in (self.owner_id, self.closed_by_id)
            and user.has_perm("postmortems.change_postmortem")
        )


class ReminderQuerySet(models.QuerySet):
    def due(self, now):
        """Reminders waiting to go out whose time has come (partial index reminder_pending_due)."""
        return self.filter(status=Reminder.Status.PENDING, due_at__lte=now)


class Reminder(TimeStamped):
    """One notice about one milestone, action item or regulatory report clock: a reminder
    before its deadline, an overdue notice at it, or an escalation after the grace period.

    There is exactly one row per (milestone or action item, kind), created with
    its due time when the milestone or item is (the verification kinds when a
    preventive measure is marked done; a row cancelled because it was sent back
    is armed again when it is next marked done); the sweep claims due rows under
    a row lock and queues the email in the same transaction, so each notice is
    queued once. The email itself is an `OutboxMessage` (retried with backoff).
    """

    class Kind(models.TextChoices):
        BEFORE = "before", "Reminder"
        OVERDUE = "overdue", "Overdue notice"
        ESCALATION = "escalation", "Escalation"
        # A preventive measure awaiting verification: to the verifiers before its verify-by time, and
        # an escalation after it.
        VERIFY = "verify", "Verification reminder"
        VERIFY_ESCALATION = "verify_escalation", "Verification escalation"

    VERIFICATION_KINDS = (Kind.VERIFY, Kind.VERIFY_ESCALATION)

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        QUEUED = "queued", "Sent"
        CANCELLED = "cancelled", "Not needed (completed)"
        SKIPPED = "skipped", "Skipped"

    milestone = models.ForeignKey(Milestone, null=True, blank=True, on_delete=models.CASCADE, related_name="reminders")
    action_item = models.ForeignKey(
        ActionItem, null=True, blank=True, on_delete=models.CASCADE, related_name="reminders"
    )
    report_clock = models.ForeignKey(
        ReportClock, null=True, blank=True, on_delete=models.CASCADE, related_name="reminders"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    due_at = models.DateTimeField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    handled_at = models.DateTimeField(null=True, blank=True, help_text="When it was queued, cancelled or skipped.")
    recipients = models.JSONField(default=list, blank=True)
    note = models.CharField(max_length=255, blank=True, help_text="Why it was skipped or cancelled.")
    outbox_message = models.OneToOneField(
        OutboxMessage, null=True, blank=True, on_delete=models.PROTECT, related_name="postmortem_reminder"
    )

    objects = ReminderQuerySet.as_manager()
    history = history()

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [models.Index(fields=["due_at"], condition=Q(status="pending"), name="reminder_pending_due")]
        constraints = [
            models.CheckConstraint(
                condition=Q(milestone__isnull=True, action_item__isnull=False, report_clock__isnull=True)
                | Q(milestone__isnull=False, action_item__isnull=True, report_clock__isnull=True)
                | Q(milestone__isnull=True, action_item__isnull=True, report_clock__isnull=False),
                name="%(app_label)s_%(class)s_one_target",
                violation_error_message="A reminder is about one milestone, one action item or one report clock.",
            ),
            models.UniqueConstraint(
                fields=["milestone", "kind"],
                condition=Q(milestone__isnull=False),
                name="%(app_label)s_%(class)s_once_per_milestone_kind",
                violation_error_message="This milestone already has a reminder of this kind.",
            ),
            models.UniqueConstraint(
                fields=["action_item", "kind"],
                condition=Q(action_item__isnull=False),
                name="%(app_label)s_%(class)s_once_per_action_item_kind",
                violation_error_message="This action item already has a reminder of this kind.",
            ),
            models.UniqueConstraint(
                fields=["report_clock", "kind"],
                condition=Q(report_clock__isnull=False),
                name="%(app_label)s_%(class)s_once_per_report_clock_kind",
                violation_error_message="This report clock already has a reminder of this kind.",
            ),
            models.CheckConstraint(
                condition=Q(status="pending") | Q(handled_at__isnull=False),
                name="%(app_label)s_%(class)s_handled_has_time",
                violation_error_message="A handled reminder records when.",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} for {self.target}"

    @property
    def target(self):
        return self.milestone or self.action_item or self.report_clock

    @property
    def outbox_key(self) -> str:
        return f"postmortems:reminder:{self.pk}"
