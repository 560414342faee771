"""Regulator reporting: the reports an incident may owe a regulator, as data the admin edits
(`ReportObligation`), and for each incident an obligation applies to, a clock (`ReportClock`)
running from its start to the report's deadline until the report is recorded as submitted.

An obligation applies to an incident when every criterion it names holds: the incident's severity
is among its severities (none named: any), its type among its types (none named: any), and, if it
asks for it, a responder flagged the incident as reportable (`ReportableFlag`). A clock, once
started, stays: the report's deadline does not go away when the severity is lowered.
"""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse

from audit.models import TimeStamped, history
from incidents.models import Incident, IncidentType, Severity

# Longest deadline an obligation may set: beyond a year it is a typing mistake, not a regulation.
MAX_DUE_AFTER = timedelta(days=366)


class ReportObligation(TimeStamped):
    """A report some incidents owe a regulator: its name, its addressee, which incidents it applies
    to, and its deadline relative to the incident's declaration, classification or resolution."""

    class ClockFrom(models.TextChoices):
        DECLARED = "declared", "Declaration (the incident's detected time)"
        CLASSIFIED = "classified", "Classification (when the obligation first applied)"
        RESOLVED = "resolved", "Resolution"

    name = models.CharField(max_length=120, unique=True, help_text="For example “Initial notification”.")
    addressee = models.CharField(max_length=200, help_text="Who receives the report, and where or how.")
    guidance = models.TextField(blank=True, help_text="What the report must contain, how it is sent.")
    severities = models.ManyToManyField(
        Severity, blank=True, related_name="+", help_text="Applies to these severities; none chosen: any severity."
    )
    incident_types = models.ManyToManyField(
        IncidentType, blank=True, related_name="+", help_text="Applies to these types; none chosen: any type."
    )
    when_flagged = models.BooleanField(
        "only when flagged",
        default=False,
        help_text="Applies only to incidents a responder flagged as reportable to regulators.",
    )
    clock_from = models.CharField(
        "deadline counted from", max_length=20, choices=ClockFrom.choices, default=ClockFrom.CLASSIFIED
    )
    due_after = models.DurationField(help_text="How long after that moment the report is due, e.g. 4:00:00.")
    remind_before = models.DurationField(
        default=timedelta(hours=1), help_text="When the reminder goes out, before the deadline (0: none)."
    )
    escalate_after = models.DurationField(
        default=timedelta(hours=1), help_text="When the escalation goes out, after a missed deadline."
    )
    is_example = models.BooleanField(
        default=False, help_text="An example shipped with the portal, not legal advice: check it before relying on it."
    )
    is_active = models.BooleanField(default=True, help_text="Inactive obligations start no new clocks.")

    history = history(m2m_fields=[severities, incident_types])

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(due_after__gt=timedelta(0), due_after__lte=MAX_DUE_AFTER),
                name="%(app_label)s_%(class)s_due_after_range",
                violation_error_message="A deadline is more than zero and at most 366 days.",
            ),
            models.CheckConstraint(
                condition=Q(remind_before__gte=timedelta(0), remind_before__lte=MAX_DUE_AFTER),
                name="%(app_label)s_%(class)s_remind_before_range",
                violation_error_message="The reminder lead is from zero to 366 days.",
            ),
            models.CheckConstraint(
                condition=Q(escalate_after__gte=timedelta(0), escalate_after__lte=MAX_DUE_AFTER),
                name="%(app_label)s_%(class)s_escalate_after_range",
                violation_error_message="The escalation grace is from zero to 366 days.",
            ),
        ]

    def __str__(self):
        return f"{self.name} (example)" if self.is_example else self.name


class ReportableFlag(TimeStamped):
    """A responder's judgement that an incident is reportable to regulators (or no longer is),
    with who said so, when and why. Obligations with `when_flagged` apply only while it is set."""

    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="reportable_flag")
    is_set = models.BooleanField(default=True)
    reason = models.TextField()
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    set_at = models.DateTimeField()

    history = history()

    def __str__(self):
        return f"{self.incident_id}: {'reportable' if self.is_set else 'not reportable'}"


class ReportClockQuerySet(models.QuerySet):
    def open(self):
        """Clocks whose report is not submitted yet (partial index reportclock_open_due)."""
        return self.filter(submitted_at__isnull=True)

    def overdue(self, now):
        return self.open().filter(due_at__lte=now)


class ReportClock(TimeStamped):
    """One incident's deadline for one obligation's report, and the report once submitted: by whom,
    when, the regulator's reference, and the text or file sent."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="report_clocks")
    obligation = models.ForeignKey(ReportObligation, on_delete=models.PROTECT, related_name="clocks")
    started_at = models.DateTimeField(help_text="The moment the deadline is counted from.")
    due_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(null=True, blank=True, help_text="When the submission was recorded here.")
    regulator_reference = models.CharField(max_length=200, blank=True)
    text = models.TextField(blank=True)
    # In the default storage: files under MEDIA_ROOT, handed out only by regulatory's signed-in view.
    file = models.FileField(upload_to="regulatory/%Y/%m/", max_length=255, blank=True)

    objects = ReportClockQuerySet.as_manager()
    history = history()

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [
            # The list of open clocks across incidents, soonest deadline first, a page at a time.
            models.Index(fields=["due_at", "id"], condition=Q(submitted_at__isnull=True), name="reportclock_open_due"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "obligation"],
                name="%(app_label)s_%(class)s_once_per_incident",
                violation_error_message="This incident already has a clock for this obligation.",
            ),
            models.CheckConstraint(
                condition=Q(due_at__gt=F("started_at")),
                name="%(app_label)s_%(class)s_due_after_start",
                violation_error_message="A report is due after its clock starts.",
            ),
            models.CheckConstraint(
                condition=Q(submitted_at__isnull=True, submitted_by__isnull=True, recorded_at__isnull=True)
                | Q(submitted_at__isnull=False, submitted_by__isnull=False, recorded_at__isnull=False),
                name="%(app_label)s_%(class)s_submitted_by_whom",
                violation_error_message="A submitted report records who submitted it and when.",
            ),
        ]

    def __str__(self):
        return f"{self.obligation.name} for {self.incident.reference}"

    def get_absolute_url(self):
        return reverse("incidents:detail", args=[self.incident.reference]) + f"#report-clock-{self.pk}"

    @property
    def is_complete(self) -> bool:
        """The report was submitted (what the deadline sweep asks of every target)."""
        return self.submitted_at is not None

    @property
    def met_on_time(self) -> bool | None:
        """True or False once submitted; None while not."""
        return None if self.submitted_at is None else self.submitted_at <= self.due_at

    def is_overdue(self, now) -> bool:
        return self.submitted_at is None and self.due_at <= now

    def time_left(self, now) -> timedelta:
        return self.due_at - now
