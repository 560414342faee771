"""The runbook's domain: severities, incident types and their runbooks, services,
roles, contacts, channels, and the incidents themselves with their roles,
timeline, status updates and checklists."""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from audit.models import TimeStamped, history


class Severity(TimeStamped):
    """A severity level (Sev1–Sev4) carrying its own behaviour: the runbook's
    criteria, the status-update cadence, the response targets, whether a
    post-mortem is required and whether closing needs a second person's approval."""

    level = models.PositiveSmallIntegerField(unique=True, help_text="1 is the most severe.")
    name = models.CharField(max_length=40, help_text="For example “Critical”.")
    criteria = models.TextField(help_text="One criterion per line, as in the runbook.")
    update_interval = models.DurationField(
        null=True,
        blank=True,
        help_text="How often status updates are due. Empty means “as needed”.",
    )
    acknowledge_within = models.DurationField(default=timedelta(minutes=15))
    investigate_within = models.DurationField(
        default=timedelta(hours=2), help_text="Target end of the investigation phase, from detection."
    )
    postmortem_required = models.BooleanField(
        default=True,
        help_text="Incidents of this severity need a post-mortem before closing. Once an incident has needed one, "
        "lowering its severity does not release it.",
    )
    stall_after = models.DurationField(
        null=True,
        blank=True,
        help_text="An open incident with no timeline activity for this long is chased. Empty means never.",
    )
    four_eyes = models.BooleanField(
        default=False, help_text="Closing and completing the post-mortem analysis need a second person"
    )

    history = history()

    class Meta:
        ordering = ["level"]
        verbose_name_plural = "severities"
        constraints = [
            models.CheckConstraint(
                condition=Q(level__gte=1),
                name="%(app_label)s_%(class)s_level_positive",
                violation_error_message="Severity levels start at 1.",
            )
        ]

    def __str__(self):
        return f"{self.code} – {self.name}"

    @property
    def code(self) -> str:
        return f"Sev{self.level}"

    def criteria_list(self) -> list[str]:
        return [line.strip() for line in self.criteria.splitlines() if line.strip()]


class IncidentType(TimeStamped):
    """A kind of incident with its own runbook (symptoms, investigation steps,
    resolution actions)."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    history = history()

    class Meta:
        ordering = ["position", "name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("incidents:runbook_detail", args=[self.slug])


class RunbookStep(TimeStamped):
    """One ordered line of a runbook: an incident type's own, or (with no type) a general
    step of the runbook that every incident's checklist carries."""

    class Kind(models.TextChoices):
        INITIAL_RESPONSE = "initial_response", "Initial response"
        SYMPTOM = "symptom", "Symptom"
        INVESTIGATION = "investigation", "Investigation step"
        RESOLUTION = "resolution", "Resolution action"
        POST_INCIDENT = "post_incident", "Post-incident activity"

    class Performs(models.TextChoices):
        """Steps the portal itself carries out, ticked by it when it does."""

        TICKET_CREATED = "ticket_created", "The incident ticket is created"
        RESPONDER_ASSIGNED = "responder_assigned", "A responder is assigned"
        TEAM_NOTIFIED = "team_notified", "The response team is notified"
        STATUS_PAGE_UPDATED = "status_page_updated", "The status page is updated"

    incident_type = models.ForeignKey(
        IncidentType,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="steps",
        help_text="Empty for a general step of the runbook, in every incident's checklist.",
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    position = models.PositiveSmallIntegerField()
    text = models.CharField(max_length=255)
    performed_by_portal = models.CharField(
        max_length=30,
        choices=Performs.choices,
        blank=True,
        help_text="The portal ticks this step itself when it does this.",
    )

    history = history()

    class Meta:
        ordering = ["incident_type", "kind", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident_type", "kind", "position"],
                name="%(app_label)s_%(class)s_unique_position",
                violation_error_message="Two steps of one runbook section cannot share a position.",
            ),
            models.UniqueConstraint(
                fields=["kind", "position"],
                condition=Q(incident_type__isnull=True),
                name="%(app_label)s_%(class)s_unique_general_position",
                violation_error_message="Two general steps of one runbook section cannot share a position.",
            ),
        ]

    def __str__(self):
        return f"{self.incident_type or 'General'}: {self.get_kind_display()} {self.position}. {self.text}"


class Service(TimeStamped):
    """A system an incident can affect, with the staff member who owns it."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_services"
    )
    dashboard_url = models.URLField(max_length=500, blank=True, help_text="Its monitoring dashboard.")

    history = history()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Role(TimeStamped):
    """An incident role (Incident Commander, Technical Lead, …) and its responsibilities."""

    # Slugs of the runbook's roles that the portal itself relies on (reminders, escalations).
    INCIDENT_COMMANDER = "incident-commander"
    TECHNICAL_LEAD = "technical-lead"
    COMMUNICATIONS_LEAD = "communications-lead"

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=60)
    responsibilities = models.TextField(help_text="One responsibility per line.")
    position = models.PositiveSmallIntegerField(default=0)

    history = history()

    class Meta:
        ordering = ["position"]

    def __str__(self):
        return self.name

    def responsibility_list(self) -> list[str]:
        return [line.strip() for line in self.responsibilities.splitlines() if line.strip()]


class Contact(TimeStamped):
    """A person, team, line or vendor to reach during an incident."""

    class Category(models.TextChoices):
        SUPPORT = "support", "24/7 support"
        TEAM = "team", "Team"
        VENDOR = "vendor", "Vendor"
        EMERGENCY = "emergency", "Emergency"

    name = models.CharField(max_length=100)
    category = models.CharField(max_length=20, choices=Category.choices)
    role = models.ForeignKey(Role, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts")
    phone = models.CharField(max_length=40, blank=True)
    email = models.EmailField(blank=True)
    notes = models.CharField(max_length=255, blank=True)
    escalation_order = models.PositiveSmallIntegerField(default=1, help_text="Within its category, 1 is tried first.")
    last_verified = models.DateField(null=True, blank=True, help_text="When someone last confirmed it works.")
    is_active = models.BooleanField(default=True)

    history = history()

    class Meta:
        ordering = ["category", "escalation_order", "name"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(phone="") | ~Q(email=""),
                name="%(app_label)s_%(class)s_reachable",
                violation_error_message="A contact needs a phone number or an email address.",
            ),
            models.UniqueConstraint(
                fields=["category", "name"],
                name="%(app_label)s_%(class)s_unique_name",
                violation_error_message="A contact with this name already exists in this category.",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.get_category_display()})"


class CommunicationChannel(TimeStamped):
    """A channel of the communication plan, internal or external."""

    class Audience(models.TextChoices):
        INTERNAL = "internal", "Internal"
        EXTERNAL = "external", "External"

    class Kind(models.TextChoices):
        SLACK = "slack", "Slack"
        EMAIL = "email", "Email"
        PHONE = "phone", "Phone"
        STATUS_PAGE = "status_page", "Status page"
        SOCIAL = "social", "Social media"
        REGULATORY = "regulatory", "Regulatory reporting"
        BRIDGE = "bridge", "Conference bridge"

    name = models.CharField(max_length=100, unique=True)
    audience = models.CharField(max_length=20, choices=Audience.choices)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    target = models.CharField(max_length=255, blank=True, help_text="Channel name, address or URL.")
    purpose = models.CharField(max_length=255, help_text="For example “Primary channel” or “Customers”.")
    position = models.PositiveSmallIntegerField(default=0)

    history = history()

    class Meta:
        ordering = ["audience", "position"]

    def __str__(self):
        return self.name


class ReferenceCounter(models.Model):
    """The last incident number given out in a year. Declarations take the next
    one under this row's lock, so concurrent declarations never collide and the
    numbers go on past 9,999 (INC-2026-10000)."""

    year = models.PositiveSmallIntegerField(unique=True)
    last_number = models.PositiveIntegerField(default=0)

    history = history()

    class Meta:
        ordering = ["-year"]

    def __str__(self):
        return f"{self.year}: {self.last_number}"


# The phases of an open incident, for the partial indexes and constraints below
# (a model's Meta cannot see the model's own attributes).
_OPEN_STATUSES = ["detected", "acknowledged", "investigating", "mitigating"]


class IncidentQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status__in=Incident.OPEN_STATUSES)

    def update_overdue(self, now):
        """Open incidents whose next status update is past due (indexed on next_update_due_at)."""
        return self.open().filter(next_update_due_at__lte=now)

    def unacknowledged_since(self, cutoff):
        """Incidents still waiting for acknowledgement that were detected before `cutoff`."""
        return self.filter(status=Incident.Status.DETECTED, detected_at__lte=cutoff)


class Incident(TimeStamped):
    """An incident, moving through the runbook's phases from detection to closure."""

    class Status(models.TextChoices):
        DETECTED = "detected", "Detected"
        ACKNOWLEDGED = "acknowledged", "Initial response"
        INVESTIGATING = "investigating", "Investigating"
        MITIGATING = "mitigating", "Resolving"
        RESOLVED = "resolved", "Post-incident"
        CLOSED = "closed", "Closed"

    class DetectionSource(models.TextChoices):
        ALERT = "alert", "Automated alert"
        USER_REPORT = "user_report", "User report"
        MANUAL_CHECK = "manual_check", "Manual check"
        MAINTENANCE = "maintenance", "Scheduled maintenance"

    OPEN_STATUSES = tuple(map(Status, _OPEN_STATUSES))

    reference = models.CharField(max_length=20, unique=True, editable=False)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    severity = models.ForeignKey(Severity, on_delete=models.PROTECT, related_name="incidents")
    incident_type = models.ForeignKey(IncidentType, on_delete=models.PROTECT, related_name="incidents")
    services = models.ManyToManyField(Service, blank=True, related_name="incidents")
    detection_source = models.CharField(max_length=20, choices=DetectionSource.choices)
    user_impact = models.TextField(blank=True, help_text="Who is affected and how, as far as known.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DETECTED)

    detected_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    investigating_at = models.DateTimeField(null=True, blank=True)
    mitigating_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    next_update_due_at = models.DateTimeField(
        null=True, blank=True, help_text="When the next status update is due by the severity's cadence."
    )

    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    initial_responder = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolution_note = models.TextField(blank=True, help_text="How the resolution was verified.")
    alert_group_key = models.CharField(
        max_length=255, blank=True, help_text="Alertmanager groupKey of the alerts that opened it."
    )
    bridge_url = models.URLField(
        "conference bridge",
        max_length=500,
        blank=True,
        help_text="Where responders talk. CONFERENCE_BRIDGE_URL by default.",
    )
    postmortem_required = models.BooleanField(
        default=False,
        help_text="Set once any severity it has had required a post-mortem; lowering the severity does not clear it.",
    )

    objects = IncidentQuerySet.as_manager()
    history = history(m2m_fields=[services])

    class Meta:
        ordering = ["-detected_at"]
        # One index per order the lists offer, and per filter that leads a list
        # (a deep page seeks into the index at its cursor instead of sorting).
        indexes = [
            models.Index(
                fields=["next_update_due_at"], condition=Q(status__in=_OPEN_STATUSES), name="incident_open_next_update"
            ),
            models.Index(fields=["detected_at", "id"], name="incident_detected"),
            models.Index(fields=["severity", "detected_at", "id"], name="incident_severity_detected"),
            models.Index(fields=["incident_type", "detected_at", "id"], name="incident_type_detected"),
            models.Index(fields=["status", "-detected_at", "-id"], name="incident_status_newest"),
            models.Index(fields=["title", "id"], name="incident_title"),
            models.Index(
                fields=["severity", "detected_at"],
                condition=Q(status__in=_OPEN_STATUSES),
                name="incident_open_severity",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True) | Q(resolved_at__gte=F("detected_at")),
                name="%(app_label)s_%(class)s_resolved_after_detected",
                violation_error_message="An incident cannot be resolved before it was detected.",
            ),
            models.UniqueConstraint(
                fields=["alert_group_key"],
                condition=~Q(alert_group_key="") & Q(status__in=_OPEN_STATUSES),
                name="%(app_label)s_%(class)s_one_open_per_alert_group",
                violation_error_message="An open incident already exists for this alert group.",
            ),
        ]

    def __str__(self):
        return f"{self.reference} {self.title}"

    def get_absolute_url(self):
        return reverse("incidents:detail", args=[self.reference])

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    def phase_started_at(self):
        return {
            self.Status.DETECTED: self.detected_at,
            self.Status.ACKNOWLEDGED: self.acknowledged_at,
            self.Status.INVESTIGATING: self.investigating_at,
            self.Status.MITIGATING: self.mitigating_at,
            self.Status.RESOLVED: self.resolved_at,
            self.Status.CLOSED: self.closed_at,
        }[self.status]

    def phase_deadline(self):
        """When the current phase should end by the runbook, or None if it has no target.

        Acknowledgement is due 15 minutes after detection; the investigation
        phase is expected to end 2 hours after detection.
        """
        if self.status == self.Status.DETECTED:
            return self.detected_at + self.severity.acknowledge_within
        if self.status in (self.Status.ACKNOWLEDGED, self.Status.INVESTIGATING):
            return self.detected_at + self.severity.investigate_within
        return None

    def is_phase_overdue(self, now=None) -> bool:
        deadline = self.phase_deadline()
        return deadline is not None and (now or timezone.now()) > deadline

    def is_update_overdue(self, now=None) -> bool:
        return (
            self.is_open and self.next_update_due_at is not None and (now or timezone.now()) > self.next_update_due_at
        )


class RoleAssignment(TimeStamped):
    """Who holds a role on an incident, and since when; a hand-off ends one
    assignment and starts the next, so the history of holders is kept."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="role_assignments")
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="assignments")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="role_assignments")
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=255, blank=True)

    history = history()

    class Meta:
        ordering = ["role__position", "-started_at"]
        indexes = [models.Index(fields=["user", "ended_at"], name="assignment_user_active")]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "role"],
                condition=Q(ended_at__isnull=True),
                name="%(app_label)s_%(class)s_one_holder_per_role",
                violation_error_message="This role already has a holder on this incident.",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="%(app_label)s_%(class)s_ends_after_start",
                violation_error_message="An assignment cannot end before it started.",
            ),
        ]

    def __str__(self):
        return f"{self.role} on {self.incident.reference}: {self.user}"

    @property
    def is_active(self) -> bool:
        return self.ended_at is None


class TimelineEntry(TimeStamped):
    """Something that happened during an incident: an automatic event or a
    responder's note. `occurred_at` may be earlier than `created_at`."""

    class Kind(models.TextChoices):
        NOTE = "note", "Note"
        EVENT = "event", "Event"
        ALERT = "alert", "Alert"
        STATUS_UPDATE = "status_update", "Status update"
        OUTREACH = "outreach", "Outreach"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="timeline")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    occurred_at = models.DateTimeField(default=timezone.now)
    text = models.TextField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    data = models.JSONField(default=dict, blank=True, help_text="Structured detail, such as an alert's labels.")

    history = history()

    class Meta:
        ordering = ["occurred_at", "id"]
        verbose_name_plural = "timeline entries"
        indexes = [models.Index(fields=["incident", "occurred_at", "id"], name="timeline_incident_time_id")]

    def __str__(self):
        return f"{self.incident.reference} {self.occurred_at:%Y-%m-%d %H:%M} {self.get_kind_display()}"

    @property
    def is_backdated(self) -> bool:
        return self.created_at is not None and self.created_at - self.occurred_at > timedelta(minutes=1)


class StatusUpdate(TimeStamped):
    """A progress report to one audience, on the severity's cadence."""

    class Audience(models.TextChoices):
        INTERNAL = "internal", "Internal"
        CUSTOMERS = "customers", "Customers (status page)"
        STAKEHOLDERS = "stakeholders", "Stakeholders"
        REGULATORS = "regulators", "Regulators"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="status_updates")
    audience = models.CharField(max_length=20, choices=Audience.choices)
    body = models.TextField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    posted_at = models.DateTimeField(default=timezone.now)

    history = history()

    class Meta:
        ordering = ["-posted_at", "-id"]
        indexes = [models.Index(fields=["incident", "audience", "posted_at"], name="update_incident_audience")]

    def __str__(self):
        return f"{self.incident.reference} {self.get_audience_display()} {self.posted_at:%Y-%m-%d %H:%M}"


class ChecklistItem(TimeStamped):
    """A step to tick on an incident: the runbook's initial response, or a line
    of the incident type's runbook."""

    class Section(models.TextChoices):
        INITIAL_RESPONSE = "initial_response", "Initial response"
        SYMPTOM = "symptom", "Symptoms to check"
        INVESTIGATION = "investigation", "Investigation steps"
        RESOLUTION = "resolution", "Resolution actions"
        POST_INCIDENT = "post_incident", "Post-incident activities"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="checklist")
    section = models.CharField(max_length=20, choices=Section.choices)
    position = models.PositiveSmallIntegerField()
    text = models.CharField(max_length=255)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    performed_by_portal = models.CharField(
        max_length=30,
        choices=RunbookStep.Performs.choices,
        blank=True,
        help_text="Ticked by the portal when it does this.",
    )

    history = history()

    class Meta:
        ordering = ["incident", "section", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "section", "position"],
                name="%(app_label)s_%(class)s_unique_position",
                violation_error_message="Two checklist items of one section cannot share a position.",
            ),
            models.CheckConstraint(
                condition=Q(done_at__isnull=True) | Q(done_by__isnull=False),
                name="%(app_label)s_%(class)s_done_has_who",
                violation_error_message="A ticked item records who ticked it.",
            ),
        ]

    def __str__(self):
        return self.text

    @property
    def is_done(self) -> bool:
        return self.done_at is not None


class UpdateTemplate(TimeStamped):
    """A starting draft for a status update to one audience in one phase, offered in the update form."""

    audience = models.CharField(max_length=20, choices=StatusUpdate.Audience.choices)
    phase = models.CharField(
        max_length=20, choices=Incident.Status.choices, blank=True, help_text="Empty: any phase without its own."
    )
    body = models.TextField(
        help_text="Placeholders: {reference}, {title}, {severity}, {phase}, {services}, {user_impact}, "
        "{next_update}, {bridge_url}."
    )

    history = history()

    class Meta:
        ordering = ["audience", "phase"]
        constraints = [
            models.UniqueConstraint(
                fields=["audience", "phase"],
                name="%(app_label)s_%(class)s_one_per_audience_phase",
                violation_error_message="This audience already has a template for this phase.",
            )
        ]

    def __str__(self):
        return f"{self.get_audience_display()} – {self.get_phase_display() or 'any phase'}"
