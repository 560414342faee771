"""The JSON API's endpoints. Each reads through the selectors and writes through the
same service as the portal's page for that action, as the token's owner (so history
names them), after the same permission check as that page (`required_permissions`)."""

from django.db.models import Q
from django.http import Http404
from django.urls import Resolver404, resolve
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from drf_spectacular.views import SpectacularAPIView
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from incidents import selectors as incident_selectors
from incidents import services as incident_services
from incidents.models import Incident, Severity
from postmortems import selectors as postmortem_selectors
from postmortems import services as postmortem_services
from postmortems.models import ActionItem, Milestone, PostMortem

from . import selectors
from . import serializers as s
from .filters import ActionItemFilterSet, IncidentFilterSet, PostMortemFilterSet
from .pagination import DEFAULT_LIMIT, MAX_LIMIT, cursor_page, paged_response
from .parsers import JSONParser
from .permissions import TokenScopePermission

# The largest id PostgreSQL's bigint holds: a larger one names nothing (404, not a database error).
MAX_ID = 2**63 - 1


class ApiView(APIView):
    """Every endpoint: JSON in (bounded), JSON out, a token, its scope and the page's permissions."""

    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]
    # {"GET": "app.perm", "POST": ("app.perm", …)}: checked by api.permissions.TokenScopePermission.
    required_permissions: dict = {}

    def validated_body(self, serializer_class, **kwargs):
        serializer = serializer_class(data=self.request.data, context={"request": self.request}, **kwargs)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def output(self, serializer_class, instance, **kwargs):
        return serializer_class(instance, context={"request": self.request}, **kwargs).data


def _text_key(value: str) -> str:
    """A path's text, refused (404) where no row could be named by it (NUL, overlong)."""
    if "\x00" in value or len(value) > 255:
        raise NotFound()
    return value


def _incident(reference: str) -> Incident:
    incident = Incident.objects.filter(reference=_text_key(reference)).first()
    if incident is None:
        raise NotFound("No incident with this reference.")
    return incident


def _incident_detail(reference: str) -> Incident:
    try:
        return selectors.incident_detail(_text_key(reference))
    except Incident.DoesNotExist:
        raise NotFound("No incident with this reference.") from None


def _postmortem(reference: str) -> PostMortem:
    postmortem = PostMortem.objects.select_related("incident").filter(incident__reference=_text_key(reference)).first()
    if postmortem is None:
        raise NotFound("No post-mortem for this reference.")
    return postmortem


def _action_item(pk: int) -> ActionItem:
    item = ActionItem.objects.filter(pk=pk).first() if pk <= MAX_ID else None
    if item is None:
        raise NotFound("No action item with this id.")
    return item


def _filtered(filterset_class, request, queryset):
    filterset = filterset_class(request.query_params, queryset=queryset, request=request)
    if not filterset.is_valid():
        raise ValidationError(filterset.errors)
    return filterset


REFERENCE = OpenApiParameter("reference", str, OpenApiParameter.PATH, description="The incident's reference.")
PAGING = [
    OpenApiParameter("limit", int, description=f"Rows per page: {DEFAULT_LIMIT} by default, at most {MAX_LIMIT}."),
    OpenApiParameter("after", str, description="The cursor of the page's `next` link."),
    OpenApiParameter("before", str, description="The cursor of the page's `previous` link."),
]
ERRORS = {
    400: OpenApiResponse(s.ErrorSerializer, description="Invalid or refused (see error.code)."),
    401: OpenApiResponse(s.ErrorSerializer, description="No valid token."),
    403: OpenApiResponse(s.ErrorSerializer, description="The token's scope or the account's permissions."),
    404: OpenApiResponse(s.ErrorSerializer, description="No such object."),
    429: OpenApiResponse(s.ErrorSerializer, description="Rate limited (see Retry-After)."),
}


def responses(ok_status: int, serializer, *extra: int) -> dict:
    codes = {400, 401, 403, 429, *extra}
    return {ok_status: serializer, **{code: ERRORS[code] for code in sorted(codes)}}


def paged(serializer_class):
    """The schema of a page of `serializer_class` rows."""
    return inline_serializer(
        name=f"{serializer_class.__name__.removesuffix('Serializer')}Page",
        fields={
            "results": serializer_class(many=True),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
        },
    )


# The root -------------------------------------------------------------------------------------------------------


class RootView(ApiView):
    """Who the token acts as, and where the lists are."""

    @extend_schema(responses=responses(200, s.RootSerializer), operation_id="root")
    def get(self, request):
        token = request.auth

        def link(name):
            return reverse(f"api:{name}", request=request)

        return Response(
            {
                "user": s.PersonSerializer(request.user).data,
                "token": {"name": token.name, "scope": token.scope, "expires_at": token.expires_at},
                "links": {
                    "incidents": link("incidents"),
                    "postmortems": link("postmortems"),
                    "action_items": link("action_items"),
                    "contacts": link("contacts"),
                    "schema": link("schema"),
                },
            }
        )


# Incidents ------------------------------------------------------------------------------------------------------


INCIDENT_FILTERS = [
    OpenApiParameter("q", str, description="Text in the reference, title or description."),
    OpenApiParameter(
        "status", str, description="open (any open phase), or one status.", enum=["open", *Incident.Status.values]
    ),
    OpenApiParameter("severity", int, description="Severity level."),
    OpenApiParameter("type", str, description="Incident type slug."),
    OpenApiParameter("service", str, description="Service slug."),
    OpenApiParameter("detected_from", OpenApiTypes.DATE, description="Detected on or after this day."),
    OpenApiParameter("detected_to", OpenApiTypes.DATE, description="Detected on or before this day."),
    OpenApiParameter("sort", str, enum=["newest", "oldest", "severity", "reference", "status", "title"]),
]


class IncidentListView(ApiView):
    required_permissions = {"GET": "incidents.view_incident", "POST": "incidents.add_incident"}

    @extend_schema(
        summary="List incidents",
        operation_id="incidents_list",
        description="The incident list's filters and orders, newest first by default, paged by cursor.",
        parameters=INCIDENT_FILTERS + PAGING,
        responses=responses(200, paged(s.IncidentListSerializer)),
    )
    def get(self, request):
        filterset = _filtered(IncidentFilterSet, request, selectors.incident_list_queryset())
        ordering = filterset.ordering
        partitions = None
        if ordering[0] == "severity__level":
            # As the list page does: one index range per severity instead of a sort of the whole join.
            levels = Severity.objects.order_by("level").values_list("pk", "level")
            partitions = [(level, Q(severity_id=pk)) for pk, level in levels]
        page = cursor_page(request, filterset.qs, ordering, partitions=partitions)
        return paged_response(request, page, self.output(s.IncidentListSerializer, page.object_list, many=True))

    @extend_schema(
        summary="Declare an incident",
        description="You become its initial responder; its runbook becomes its checklist.",
        request=s.IncidentDeclareSerializer,
        responses=responses(201, s.IncidentSerializer),
    )
    def post(self, request):
        data = self.validated_body(s.IncidentDeclareSerializer)
        incident = incident_services.incident_declare(
            actor=request.user,
            title=data["title"],
            severity=data["severity"],
            incident_type=data["incident_type"],
            detection_source=data["detection_source"],
            description=data["description"],
            user_impact=data["user_impact"],
            services=data.get("services", []),
            detected_at=data.get("detected_at"),
        )
        body = self.output(s.IncidentSerializer, selectors.incident_detail(incident.reference))
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": body["url"]})


class IncidentDetailView(ApiView):
    required_permissions = {"GET": "incidents.view_incident"}

    @extend_schema(summary="One incident", parameters=[REFERENCE], responses=responses(200, s.IncidentSerializer, 404))
    def get(self, request, reference):
        return Response(self.output(s.IncidentSerializer, _incident_detail(reference)))


class IncidentTransitionView(ApiView):
    required_permissions = {"POST": "incidents.change_incident"}

    @extend_schema(
        summary="Move an incident to its next phase",
        description="acknowledge, investigate, mitigate, resolve (needs a note), reopen (needs a note) or close; "
        "the incident's allowed_actions lists those its status allows.",
        parameters=[REFERENCE],
        request=s.TransitionSerializer,
        responses=responses(200, s.IncidentSerializer, 404),
    )
    def post(self, request, reference):
        incident = _incident(reference)
        data = self.validated_body(s.TransitionSerializer)
        incident_services.incident_transition(
            incident=incident, action=data["action"], actor=request.user, note=data["note"]
        )
        return Response(self.output(s.IncidentSerializer, _incident_detail(reference)))


class IncidentSeverityView(ApiView):
    required_permissions = {"POST": "incidents.change_incident"}

    @extend_schema(
        summary="Change an incident's severity",
        parameters=[REFERENCE],
        request=s.SeverityChangeSerializer,
        responses=responses(200, s.IncidentSerializer, 404),
    )
    def post(self, request, reference):
        incident = _incident(reference)
        data = self.validated_body(s.SeverityChangeSerializer)
        incident_services.incident_change_severity(
            incident=incident, severity=data["severity"], actor=request.user, reason=data["reason"]
        )
        return Response(self.output(s.IncidentSerializer, _incident_detail(reference)))


class IncidentTimelineView(ApiView):
    required_permissions = {"GET": "incidents.view_incident"}

    @extend_schema(
        summary="An incident's timeline, newest first",
        parameters=[REFERENCE, *PAGING],
        responses=responses(200, paged(s.TimelineEntrySerializer), 404),
    )
    def get(self, request, reference):
        incident = _incident(reference)
        page = cursor_page(request, selectors.timeline_queryset(incident), selectors.TIMELINE_ORDER)
        return paged_response(request, page, self.output(s.TimelineEntrySerializer, page.object_list, many=True))


class IncidentNoteView(ApiView):
    required_permissions = {"POST": "incidents.add_timelineentry"}

    @extend_schema(
        summary="Add a note to an incident's timeline",
        parameters=[REFERENCE],
        request=s.NoteSerializer,
        responses=responses(201, s.TimelineEntrySerializer, 404),
    )
    def post(self, request, reference):
        incident = _incident(reference)
        data = self.validated_body(s.NoteSerializer)
        entry = incident_services.timeline_add_note(
            incident=incident, actor=request.user, text=data["text"], occurred_at=data.get("occurred_at")
        )
        return Response(self.output(s.TimelineEntrySerializer, entry), status=status.HTTP_201_CREATED)


class IncidentUpdatesView(ApiView):
    required_permissions = {"GET": "incidents.view_incident", "POST": "incidents.add_statusupdate"}

    @extend_schema(
        summary="An incident's status updates, newest first",
        parameters=[REFERENCE, *PAGING],
        responses=responses(200, paged(s.StatusUpdateSerializer), 404),
    )
    def get(self, request, reference):
        incident = _incident(reference)
        page = cursor_page(request, selectors.status_updates_queryset(incident), selectors.UPDATES_ORDER)
        return paged_response(request, page, self.output(s.StatusUpdateSerializer, page.object_list, many=True))

    @extend_schema(
        summary="Post a status update",
        description="The next update falls due by the severity's cadence; a customers update goes to the status "
        "page as on the portal.",
        parameters=[REFERENCE],
        request=s.StatusUpdateInputSerializer,
        responses=responses(201, s.StatusUpdateSerializer, 404),
    )
    def post(self, request, reference):
        incident = _incident(reference)
        data = self.validated_body(s.StatusUpdateInputSerializer)
        update = incident_services.status_update_post(
            incident=incident, actor=request.user, audience=data["audience"], body=data["body"]
        )
        return Response(self.output(s.StatusUpdateSerializer, update), status=status.HTTP_201_CREATED)


# Post-mortems ---------------------------------------------------------------------------------------------------


class PostMortemListView(ApiView):
    required_permissions = {"GET": "postmortems.view_postmortem"}

    @extend_schema(
        summary="List post-mortems, newest first",
        operation_id="postmortems_list",
        parameters=[
            OpenApiParameter("overdue", bool, description="Only those with a milestone past its deadline."),
            OpenApiParameter("milestone", str, enum=Milestone.Kind.values, description="Still open milestone."),
            OpenApiParameter("owner", str, description="A username, or me."),
            *PAGING,
        ],
        responses=responses(200, paged(s.PostMortemListSerializer)),
    )
    def get(self, request):
        filterset = _filtered(PostMortemFilterSet, request, postmortem_selectors.postmortem_list_queryset())
        page = cursor_page(request, filterset.qs, filterset.ordering)
        return paged_response(request, page, self.output(s.PostMortemListSerializer, page.object_list, many=True))


class PostMortemDetailView(ApiView):
    required_permissions = {"GET": "postmortems.view_postmortem", "PATCH": "postmortems.change_postmortem"}

    def _detail(self, reference):
        try:
            return selectors.postmortem_detail(_text_key(reference))
        except PostMortem.DoesNotExist:
            raise NotFound("No post-mortem for this reference.") from None

    @extend_schema(
        summary="One post-mortem", parameters=[REFERENCE], responses=responses(200, s.PostMortemSerializer, 404)
    )
    def get(self, request, reference):
        return Response(self.output(s.PostMortemSerializer, self._detail(reference)))

    @extend_schema(
        summary="Edit a post-mortem's deliverables, owner and participants",
        description="Only the fields sent change.",
        parameters=[REFERENCE],
        request=s.PostMortemUpdateSerializer,
        responses=responses(200, s.PostMortemSerializer, 404),
    )
    def patch(self, request, reference):
        postmortem = _postmortem(reference)
        data = dict(self.validated_body(s.PostMortemUpdateSerializer))
        if data:
            postmortem_services.postmortem_update(
                postmortem=postmortem,
                actor=request.user,
                participants=data.pop("participants", None),
                contact_participants=data.pop("contact_participants", None),
                **data,
            )
        return Response(self.output(s.PostMortemSerializer, self._detail(reference)))


class MilestoneCompleteView(ApiView):
    required_permissions = {"POST": "postmortems.change_milestone"}

    @extend_schema(
        summary="Complete a milestone",
        description="meeting: when it was held and who attended (usernames); analysis: the root cause analysis "
        "filled in; preventive: every action item done or deferred.",
        parameters=[REFERENCE, OpenApiParameter("kind", str, OpenApiParameter.PATH, enum=Milestone.Kind.values)],
        request=s.MeetingCompleteSerializer,
        responses=responses(200, s.PostMortemSerializer, 404),
    )
    def post(self, request, reference, kind):
        postmortem = _postmortem(reference)
        milestone = postmortem.milestones.filter(kind=kind).first() if kind in Milestone.Kind.values else None
        if milestone is None:
            raise NotFound(f"No milestone “{kind[:40]}”: meeting, analysis or preventive.")
        form = s.MeetingCompleteSerializer if kind == Milestone.Kind.MEETING else s.MilestoneCompleteSerializer
        data = self.validated_body(form)
        postmortem_services.postmortem_complete_milestone(milestone=milestone, actor=request.user, **data)
        return Response(self.output(s.PostMortemSerializer, selectors.postmortem_detail(reference)))


class ActionItemCreateView(ApiView):
    required_permissions = {"POST": "postmortems.add_actionitem"}

    @extend_schema(
        summary="Add an action item to a post-mortem",
        description="Without a category it is a long-term improvement; a preventive measure needs a "
        "success_metric and a verify_by time (not before due_at).",
        parameters=[REFERENCE],
        request=s.ActionItemInputSerializer,
        responses=responses(201, s.ActionItemSerializer, 404),
    )
    def post(self, request, reference):
        postmortem = _postmortem(reference)
        data = self.validated_body(s.ActionItemInputSerializer)
        item = postmortem_services.action_item_create(postmortem=postmortem, actor=request.user, **data)
        body = self.output(s.ActionItemSerializer, selectors.action_item_detail(item.pk))
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": body["url"]})


# Action items ---------------------------------------------------------------------------------------------------


ITEM_ID = OpenApiParameter("id", int, OpenApiParameter.PATH)


class ActionItemListView(ApiView):
    required_permissions = {"GET": "postmortems.view_actionitem"}

    @extend_schema(
        summary="List action items, soonest due first",
        operation_id="action_items_list",
        parameters=[
            OpenApiParameter(
                "view",
                str,
                enum=[value for value, _ in ActionItemFilterSet.VIEWS],
                description="mine: yours and still open; to_verify: awaiting verification; mine_to_verify: "
                "awaiting verification on post-mortems you own, neither yours nor marked done by you.",
            ),
            *PAGING,
        ],
        responses=responses(200, paged(s.ActionItemListSerializer)),
    )
    def get(self, request):
        filterset = _filtered(ActionItemFilterSet, request, postmortem_selectors.action_item_list_queryset())
        page = cursor_page(request, filterset.qs, filterset.ordering)
        return paged_response(request, page, self.output(s.ActionItemListSerializer, page.object_list, many=True))


class ActionItemDetailView(ApiView):
    required_permissions = {"GET": "postmortems.view_actionitem", "PATCH": "postmortems.change_actionitem"}

    @extend_schema(
        summary="One action item", parameters=[ITEM_ID], responses=responses(200, s.ActionItemSerializer, 404)
    )
    def get(self, request, pk):
        try:
            item = selectors.action_item_detail(pk) if pk <= MAX_ID else None
        except ActionItem.DoesNotExist:
            item = None
        if item is None:
            raise NotFound("No action item with this id.")
        return Response(self.output(s.ActionItemSerializer, item))

    @extend_schema(
        summary="Edit an action item",
        description="Only the fields sent change; a new due time moves its reminders that have not gone out.",
        parameters=[ITEM_ID],
        request=s.ActionItemInputSerializer(partial=True),
        responses=responses(200, s.ActionItemSerializer, 404),
    )
    def patch(self, request, pk):
        item = _action_item(pk)
        data = self.validated_body(s.ActionItemInputSerializer, partial=True)
        if data:
            postmortem_services.action_item_update(item=item, actor=request.user, **data)
        return Response(self.output(s.ActionItemSerializer, selectors.action_item_detail(pk)))


class ActionItemStatusView(ApiView):
    required_permissions = {"POST": "postmortems.change_actionitem"}

    @extend_schema(
        summary="Set an action item's status",
        description="done or deferred (with a reason) stops its reminders. done on a preventive measure needs "
        "evidence (sent here, or kept from before it was sent back) and leaves it to_verify: someone else then "
        "verifies it or sends it back.",
        parameters=[ITEM_ID],
        request=s.ActionItemStatusSerializer,
        responses=responses(200, s.ActionItemSerializer, 404),
    )
    def post(self, request, pk):
        item = _action_item(pk)
        data = self.validated_body(s.ActionItemStatusSerializer)
        postmortem_services.action_item_set_status(item=item, actor=request.user, **data)
        return Response(self.output(s.ActionItemSerializer, selectors.action_item_detail(pk)))


class ActionItemVerificationView(ApiView):
    """A step of a preventive measure's verification, by someone other than its owner and whoever
    marked it done (as the page: the right to change post-mortems)."""

    required_permissions = {"POST": "postmortems.change_postmortem"}

    def verification_step(self, request, pk, serializer_class, service):
        item = _action_item(pk)
        if item.is_awaiting_verification and request.user.pk in (item.owner_id, item.closed_by_id):
            # As the page: the person may not, whatever the body says (403, before the body is read).
            did = "own" if request.user.pk == item.owner_id else "marked"
            done = " done" if did == "marked" else ""
            raise PermissionDenied(f"You {did} “{item.title}”{done}: someone else must check the evidence.")
        data = self.validated_body(serializer_class)
        service(item=item, actor=request.user, **data)
        return Response(self.output(s.ActionItemSerializer, selectors.action_item_detail(pk)))


VERIFICATION_ERRORS = "Refused (400) unless it awaits verification; 403 for its owner and whoever marked it done."


class ActionItemVerifyView(ActionItemVerificationView):
    @extend_schema(
        summary="Verify a preventive measure awaiting verification",
        description="Its evidence was checked against its success metric: it becomes done, with who verified "
        "it, when and the note. " + VERIFICATION_ERRORS,
        parameters=[ITEM_ID],
        request=s.ActionItemVerifySerializer,
        responses=responses(200, s.ActionItemSerializer, 404),
    )
    def post(self, request, pk):
        return self.verification_step(request, pk, s.ActionItemVerifySerializer, postmortem_services.action_item_verify)


class ActionItemSendBackView(ActionItemVerificationView):
    @extend_schema(
        summary="Send a preventive measure awaiting verification back to its owner",
        description="It goes back to in_progress with the reason (as verification_note); its evidence is kept. "
        + VERIFICATION_ERRORS,
        parameters=[ITEM_ID],
        request=s.ActionItemSendBackSerializer,
        responses=responses(200, s.ActionItemSerializer, 404),
    )
    def post(self, request, pk):
        return self.verification_step(
            request, pk, s.ActionItemSendBackSerializer, postmortem_services.action_item_send_back
        )


# Contacts -------------------------------------------------------------------------------------------------------


class ContactListView(ApiView):
    required_permissions = {"GET": "incidents.view_contact"}

    @extend_schema(
        summary="The active contacts, in escalation order",
        operation_id="contacts_list",
        description="All of them on one page (the list is short); next and previous are always null.",
        parameters=[OpenApiParameter("q", str, description="Text in the name, phone, email, notes or role.")],
        responses=responses(200, paged(s.ContactSerializer)),
    )
    def get(self, request):
        search = request.query_params.get("q", "").strip()
        if len(search) > 100 or "\x00" in search:
            raise ValidationError({"q": ["At most 100 characters, without NUL."]})
        contacts = incident_selectors.contacts_in_escalation_order(search=search)
        return Response(
            {"results": self.output(s.ContactSerializer, contacts, many=True), "next": None, "previous": None}
        )


# The schema and the rest ----------------------------------------------------------------------------------------


class SchemaView(SpectacularAPIView):
    """The OpenAPI 3 schema: JSON by default, YAML with ?format=yaml (or by Accept). A token is needed, as
    everywhere under /api/v1/; errors are JSON whatever was asked for."""

    permission_classes = [TokenScopePermission]
    renderer_classes = [*SpectacularAPIView.renderer_classes[2:], *SpectacularAPIView.renderer_classes[:2]]

    @extend_schema(exclude=True)
    def get(self, request, *args, **kwargs):
        return self._get_schema_response(request)

    def handle_exception(self, exc):
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)


class NotFoundView(ApiView):
    """Any other address under /api/v1/: a JSON 404 (after the token check, like every endpoint)."""

    schema = None

    def _missing(self, request, *args, **kwargs):
        message = "No such endpoint: see /api/v1/schema/."
        if not request.path.endswith("/"):
            try:
                match = resolve(request.path + "/")
            except Resolver404:
                match = None
            if match is not None and getattr(match.func, "view_class", None) is not NotFoundView:
                message = f"No such endpoint: did you mean {request.path}/ (with the slash)?"
        raise Http404(message)

    get = post = put = patch = delete = options = _missing
