"""What the API reads and writes. Output serializers show rows as the selectors loaded
them (no query per row); input serializers check the shape and types of a body and
turn names into rows, and the services then apply the rules, exactly as the pages'
forms do. An input serializer refuses fields it does not know: a misspelt field is
an error, not a silently ignored wish."""

from collections.abc import Mapping

from django.contrib.auth import get_user_model
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from incidents import services as incident_services
from incidents.models import Contact, Incident, IncidentType, Service, Severity, StatusUpdate, TimelineEntry
from portal.display import person_name
from postmortems.models import ActionItem, Milestone

# Bounds on free text: the pages' where they have one, generous ones where a page has none.
LONG_TEXT = 50_000
MAX_LIST = 100
SLUG = r"^[-a-zA-Z0-9_]+$"
USERNAME = r"^[\w.@+-]+$"


# Output --------------------------------------------------------------------------------------------------------
# Choices are described in words here and enumerated only in the input serializers, so that the schema has
# one named enum per choice set.


def choices_text(choices) -> str:
    return "One of: " + ", ".join(choices.values) + "."


class PersonSerializer(serializers.Serializer):
    username = serializers.CharField(read_only=True)
    name = serializers.SerializerMethodField()

    def get_name(self, user) -> str:
        return person_name(user)


class SeveritySerializer(serializers.Serializer):
    level = serializers.IntegerField(read_only=True)
    code = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)


class NamedSlugSerializer(serializers.Serializer):
    slug = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)


def _url(serializer, name: str, *args) -> str:
    return reverse(f"api:{name}", args=args, request=serializer.context.get("request"))


class IncidentListSerializer(serializers.Serializer):
    """An incident as the list shows it."""

    reference = serializers.CharField(read_only=True)
    url = serializers.SerializerMethodField()
    title = serializers.CharField(read_only=True)
    status = serializers.CharField(read_only=True, help_text=choices_text(Incident.Status))
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    severity = SeveritySerializer(read_only=True)
    incident_type = NamedSlugSerializer(read_only=True)
    services = NamedSlugSerializer(many=True, read_only=True)
    detected_at = serializers.DateTimeField(read_only=True)
    next_update_due_at = serializers.DateTimeField(read_only=True, allow_null=True)

    def get_url(self, incident) -> str:
        return _url(self, "incident", incident.reference)


class RoleHolderSerializer(serializers.Serializer):
    role = NamedSlugSerializer(read_only=True)
    user = PersonSerializer(read_only=True)
    started_at = serializers.DateTimeField(read_only=True)


class IncidentSerializer(IncidentListSerializer):
    """One incident with its phases, people and what can be done next."""

    description = serializers.CharField(read_only=True)
    user_impact = serializers.CharField(read_only=True)
    detection_source = serializers.CharField(read_only=True)
    acknowledged_at = serializers.DateTimeField(read_only=True, allow_null=True)
    investigating_at = serializers.DateTimeField(read_only=True, allow_null=True)
    mitigating_at = serializers.DateTimeField(read_only=True, allow_null=True)
    resolved_at = serializers.DateTimeField(read_only=True, allow_null=True)
    closed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    resolution_note = serializers.CharField(read_only=True)
    update_overdue = serializers.SerializerMethodField()
    declared_by = PersonSerializer(read_only=True, allow_null=True)
    initial_responder = PersonSerializer(read_only=True, allow_null=True)
    roles = serializers.SerializerMethodField()
    allowed_actions = serializers.SerializerMethodField()
    timeline_url = serializers.SerializerMethodField()
    updates_url = serializers.SerializerMethodField()

    def get_update_overdue(self, incident) -> bool:
        return incident.is_update_overdue()

    @extend_schema_field(RoleHolderSerializer(many=True))
    def get_roles(self, incident):
        return RoleHolderSerializer([a for a in incident.role_assignments.all() if a.is_active], many=True).data

    def get_allowed_actions(self, incident) -> list[str]:
        return incident_services.allowed_transitions(incident)

    def get_timeline_url(self, incident) -> str:
        return _url(self, "incident_timeline", incident.reference)

    def get_updates_url(self, incident) -> str:
        return _url(self, "incident_updates", incident.reference)


class TimelineEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    kind = serializers.CharField(read_only=True, help_text=choices_text(TimelineEntry.Kind))
    occurred_at = serializers.DateTimeField(read_only=True)
    text = serializers.CharField(read_only=True)
    author = PersonSerializer(read_only=True, allow_null=True)


class StatusUpdateSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    audience = serializers.CharField(read_only=True, help_text=choices_text(StatusUpdate.Audience))
    body = serializers.CharField(read_only=True)
    author = PersonSerializer(read_only=True, allow_null=True)
    posted_at = serializers.DateTimeField(read_only=True)


class MilestoneStateSerializer(serializers.Serializer):
    kind = serializers.CharField(read_only=True, help_text=choices_text(Milestone.Kind))
    due_at = serializers.DateTimeField(read_only=True)
    completed_at = serializers.DateTimeField(read_only=True, allow_null=True)


class MilestoneSerializer(MilestoneStateSerializer):
    label = serializers.CharField(source="get_kind_display", read_only=True)
    completed_by = PersonSerializer(read_only=True, allow_null=True)
    meeting_held_at = serializers.DateTimeField(read_only=True, allow_null=True)
    attendees = PersonSerializer(many=True, read_only=True)
    notes = serializers.CharField(read_only=True)


class PostMortemListSerializer(serializers.Serializer):
    """A post-mortem as the list shows it (named by its incident's reference)."""

    reference = serializers.CharField(source="incident.reference", read_only=True)
    url = serializers.SerializerMethodField()
    title = serializers.CharField(source="incident.title", read_only=True)
    severity = serializers.IntegerField(source="incident.severity.level", read_only=True)
    owner = PersonSerializer(read_only=True, allow_null=True)
    clock_started_at = serializers.DateTimeField(read_only=True)
    milestones = MilestoneStateSerializer(many=True, read_only=True)

    def get_url(self, postmortem) -> str:
        return _url(self, "postmortem", postmortem.incident.reference)


class ActionItemListSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    url = serializers.SerializerMethodField()
    title = serializers.CharField(read_only=True)
    category = serializers.CharField(read_only=True, help_text=choices_text(ActionItem.Category))
    status = serializers.CharField(read_only=True, help_text=choices_text(ActionItem.Status))
    due_at = serializers.DateTimeField(read_only=True)
    owner = PersonSerializer(read_only=True)
    postmortem = serializers.CharField(source="postmortem.incident.reference", read_only=True)

    def get_url(self, item) -> str:
        return _url(self, "action_item", item.pk)


class ActionItemSerializer(ActionItemListSerializer):
    description = serializers.CharField(read_only=True)
    implementation_timeline = serializers.CharField(read_only=True)
    success_metric = serializers.CharField(read_only=True)
    deferred_reason = serializers.CharField(read_only=True)
    closed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    closed_by = PersonSerializer(read_only=True, allow_null=True, help_text="Who marked it done or deferred it.")
    # A preventive measure's verification (empty or null for the other kinds).
    verify_by = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="When someone other than its owner should have verified it."
    )
    evidence = serializers.CharField(read_only=True, help_text="What shows it is done: a note or a link.")
    verified_by = PersonSerializer(read_only=True, allow_null=True)
    verified_at = serializers.DateTimeField(read_only=True, allow_null=True)
    verification_note = serializers.CharField(
        read_only=True, help_text="What the verifier checked, or why it was sent back (until it is verified)."
    )


class ContactBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)


class PostMortemSerializer(PostMortemListSerializer):
    """One post-mortem: its deliverables (Markdown), milestones and action items."""

    milestones = MilestoneSerializer(many=True, read_only=True)
    opened_by = PersonSerializer(read_only=True, allow_null=True)
    participants = PersonSerializer(many=True, read_only=True)
    contact_participants = ContactBriefSerializer(many=True, read_only=True)
    awaiting_resolution = serializers.BooleanField(read_only=True)
    completed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    # The deliverables (Markdown), in the runbook's order (PostMortem.DELIVERABLES).
    timeline_summary = serializers.CharField(read_only=True)
    impact_assessment = serializers.CharField(read_only=True)
    response_effectiveness = serializers.CharField(read_only=True)
    primary_cause = serializers.CharField(read_only=True)
    contributing_factors = serializers.CharField(read_only=True)
    system_vulnerabilities = serializers.CharField(read_only=True)
    immediate_fixes = serializers.CharField(read_only=True)
    long_term_improvements = serializers.CharField(read_only=True)
    preventive_measures = serializers.CharField(read_only=True)
    action_items = serializers.SerializerMethodField()

    @extend_schema_field(ActionItemListSerializer(many=True))
    def get_action_items(self, postmortem):
        items = list(postmortem.action_items.all())
        for item in items:
            item.postmortem = postmortem  # loaded: the reference comes from here, not a query per item
        return ActionItemListSerializer(items, many=True, context=self.context).data


class ContactSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    category = serializers.CharField(read_only=True, help_text=choices_text(Contact.Category))
    category_label = serializers.CharField(source="get_category_display", read_only=True)
    role = NamedSlugSerializer(read_only=True, allow_null=True)
    phone = serializers.CharField(read_only=True)
    email = serializers.CharField(read_only=True)
    notes = serializers.CharField(read_only=True)
    escalation_order = serializers.IntegerField(read_only=True)
    last_verified = serializers.DateField(read_only=True, allow_null=True)


# Input ---------------------------------------------------------------------------------------------------------


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not declare, alongside any other errors of the body."""

    def to_internal_value(self, data):
        unknown = {}
        if isinstance(data, Mapping):
            known = {name for name, field in self.fields.items() if not field.read_only}
            unknown = {str(key): ["Unknown field."] for key in data if key not in known}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if unknown and isinstance(exc.detail, dict):
                exc.detail.update(unknown)
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


def text(max_length: int = LONG_TEXT, **kwargs):
    """Optional free text (may be empty)."""
    return serializers.CharField(max_length=max_length, required=False, allow_blank=True, default="", **kwargs)


def deliverable():
    return serializers.CharField(max_length=LONG_TEXT, required=False, allow_blank=True, help_text="Markdown.")


def slug_list(**kwargs):
    return serializers.ListField(
        child=serializers.RegexField(SLUG, max_length=50), max_length=MAX_LIST, required=False, **kwargs
    )


def username_list(**kwargs):
    return serializers.ListField(child=serializers.RegexField(USERNAME, max_length=150), max_length=MAX_LIST, **kwargs)


def _not_in_future(value):
    if value is not None and value > timezone.now():
        raise serializers.ValidationError("This cannot be in the future.")
    return value


def _rows_named(queryset, field: str, names: list, what: str) -> list:
    """The rows of `queryset` whose `field` is each of `names` (one query), or a ValidationError naming the missing."""
    names = list(dict.fromkeys(names))  # duplicates would be one row twice
    rows = {getattr(row, field): row for row in queryset.filter(**{f"{field}__in": names})}
    missing = [name for name in names if name not in rows]
    if missing:
        raise serializers.ValidationError(f"No {what} named {', '.join(map(str, missing))}.")
    return [rows[name] for name in names]


def active_users():
    return get_user_model().objects.filter(is_active=True)


def _severity(level: int) -> Severity:
    severity = Severity.objects.filter(level=level).first()
    if severity is None:
        levels = ", ".join(str(level) for level in Severity.objects.order_by("level").values_list("level", flat=True))
        raise serializers.ValidationError(f"No severity of level {level} (there are {levels}).")
    return severity


def _user(username: str):
    user = active_users().filter(username=username).first()
    if user is None:
        raise serializers.ValidationError(f"No active user named {username}.")
    return user


class IncidentDeclareSerializer(StrictSerializer):
    title = serializers.CharField(max_length=200, help_text="What is broken, in a few words.")
    severity = serializers.IntegerField(min_value=1, max_value=99, help_text="The level: 1 is the most severe.")
    incident_type = serializers.RegexField(SLUG, max_length=50, help_text="Slug of an incident type.")
    services = slug_list(help_text="Slugs of the affected services.")
    detection_source = serializers.ChoiceField(choices=Incident.DetectionSource.choices)
    detected_at = serializers.DateTimeField(required=False, allow_null=True, help_text="Empty for now.")
    user_impact = text(10_000)
    description = text()

    def validate_severity(self, value):
        return _severity(value)

    def validate_incident_type(self, value):
        incident_type = IncidentType.objects.filter(slug=value).first()
        if incident_type is None:
            raise serializers.ValidationError(f"No incident type {value}.")
        return incident_type

    def validate_services(self, value):
        return _rows_named(Service.objects.all(), "slug", value, "service")

    def validate_detected_at(self, value):
        return _not_in_future(value)


class TransitionSerializer(StrictSerializer):
    action = serializers.ChoiceField(choices=list(incident_services.TRANSITIONS))
    note = text(2000, help_text="Required to resolve (how it was verified) and to reopen (why).")


class SeverityChangeSerializer(StrictSerializer):
    severity = serializers.IntegerField(min_value=1, max_value=99)
    reason = serializers.CharField(max_length=500, help_text="Why the severity changes; it goes on the timeline.")

    def validate_severity(self, value):
        return _severity(value)


class NoteSerializer(StrictSerializer):
    text = serializers.CharField(max_length=5000)
    occurred_at = serializers.DateTimeField(required=False, allow_null=True, help_text="Set it to backdate the note.")

    def validate_occurred_at(self, value):
        return _not_in_future(value)


class StatusUpdateInputSerializer(StrictSerializer):
    audience = serializers.ChoiceField(choices=StatusUpdate.Audience.choices)
    body = serializers.CharField(max_length=5000)


class PostMortemUpdateSerializer(StrictSerializer):
    """Every field is optional: only those sent change."""

    owner = serializers.RegexField(USERNAME, max_length=150, required=False, allow_null=True)
    participants = username_list(required=False)
    contact_participants = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**31 - 1), max_length=MAX_LIST, required=False
    )
    timeline_summary = deliverable()
    impact_assessment = deliverable()
    response_effectiveness = deliverable()
    primary_cause = deliverable()
    contributing_factors = deliverable()
    system_vulnerabilities = deliverable()
    immediate_fixes = deliverable()
    long_term_improvements = deliverable()
    preventive_measures = deliverable()

    def validate_owner(self, value):
        return None if value is None else _user(value)

    def validate_participants(self, value):
        return _rows_named(active_users(), "username", value, "active user")

    def validate_contact_participants(self, value):
        return _rows_named(Contact.objects.filter(is_active=True), "pk", value, "active contact")


class MeetingCompleteSerializer(StrictSerializer):
    meeting_held_at = serializers.DateTimeField()
    attendees = username_list(min_length=1)
    notes = text()

    def validate_attendees(self, value):
        return _rows_named(active_users(), "username", value, "active user")


class MilestoneCompleteSerializer(StrictSerializer):
    notes = text()


# The page's limit on evidence, verification notes and reasons.
NOTE_MAX = 10_000


class ActionItemInputSerializer(StrictSerializer):
    title = serializers.CharField(max_length=200)
    # The service's default: an item sent without a kind is a plain one, not a preventive measure
    # (which would need a success metric and a verify-by time the sender never gave).
    category = serializers.ChoiceField(
        choices=ActionItem.Category.choices,
        default=ActionItem.Category.LONG_TERM,
        help_text="long_term when not sent. A preventive measure needs success_metric and verify_by.",
    )
    owner = serializers.RegexField(USERNAME, max_length=150, help_text="Username of an active user.")
    due_at = serializers.DateTimeField()
    description = text(help_text="Markdown.")
    implementation_timeline = text(help_text="Markdown: the steps and when.")
    success_metric = text(help_text="How we will know it worked. Required for a preventive measure.")
    verify_by = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="When someone other than the owner should have verified it: required for a preventive "
        "measure, not before due_at.",
    )

    def validate_owner(self, value):
        return _user(value)


class ActionItemStatusSerializer(StrictSerializer):
    # "done" on a preventive measure leads to to_verify, which is not chosen directly (as on the page).
    status = serializers.ChoiceField(
        choices=[c for c in ActionItem.Status.choices if c[0] != ActionItem.Status.TO_VERIFY],
        help_text="done on a preventive measure needs evidence and leaves it to_verify.",
    )
    deferred_reason = text(5000, help_text="Required to defer.")
    evidence = text(
        NOTE_MAX,
        help_text="What shows it is done, a note or a link: required to mark a preventive measure done "
        "(unless it kept evidence from before it was sent back).",
    )


class ActionItemVerifySerializer(StrictSerializer):
    note = serializers.CharField(max_length=NOTE_MAX, help_text="What you checked against the success metric.")


class ActionItemSendBackSerializer(StrictSerializer):
    reason = serializers.CharField(
        max_length=NOTE_MAX, help_text="Why it goes back to its owner (in progress; its evidence is kept)."
    )


# For the schema: the error body every refusal has.


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, for programs: invalid, refused, not_found, rate_limited, …")
    message = serializers.CharField(help_text="For people.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Each refused field and its messages; nested fields joined by dots.",
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


@extend_schema_field(OpenApiTypes.URI)
class LinkField(serializers.CharField):
    pass


class RootSerializer(serializers.Serializer):
    user = PersonSerializer()
    token = serializers.DictField()
    links = serializers.DictField(child=LinkField())
