"""The responders' pages. Reads go through `selectors`, writes through
`services`; a refused write shows why and changes nothing."""

import django_filters
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.core.exceptions import ValidationError
from django.db.models import F, Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe
from django.views.generic import DetailView, ListView, TemplateView

from portal.display import person_name
from portal.pagination import keyset_page

from . import drafts, exports, history, panels, selectors, services, stalls
from .filters import IncidentFilterSet
from .forms import (
    BridgeForm,
    ContactSearchForm,
    IncidentDeclareForm,
    NoteForm,
    RoleAssignForm,
    SeverityChangeForm,
    StatusUpdateForm,
    TransitionForm,
)
from .models import (
    ChecklistItem,
    CommunicationChannel,
    Contact,
    Incident,
    IncidentType,
    Role,
    RoleAssignment,
    RunbookStep,
    Service,
    Severity,
    StatusUpdate,
)

PAGE_SIZE = 25

# Transitions that need a note, and what the note is called on the page.
TRANSITION_NOTES = {"resolve": "How was the resolution verified?", "reopen": "Why reopen it?"}


def _errors(exc: ValidationError) -> list[str]:
    return list(exc.messages)


class ReadMixin(LoginRequiredMixin, PermissionRequiredMixin):
    """Signed-in users with the view permission; anonymous visitors go to the login page."""


class DashboardView(ReadMixin, TemplateView):
    permission_required = "incidents.view_incident"
    template_name = "incidents/dashboard.html"

    def get_context_data(self, **kwargs):
        now = timezone.now()
        groups = selectors.dashboard_open_groups()
        shown = [incident for group in groups for incident in group.incidents]
        badges = panels.collect_badges(panels.incident_list_badges, Incident, request=self.request, incidents=shown)
        for incident in shown:
            incident.badges = badges.get(incident.pk, [])
        update_overdue, update_overdue_count = selectors.update_overdue(now)
        return super().get_context_data(
            now=now,
            open_count=sum(group.count for group in groups),
            groups=groups,
            update_overdue=update_overdue,
            update_overdue_count=update_overdue_count,
            my_assignments=selectors.user_active_assignments(self.request.user),
            panels=panels.collect(panels.dashboard_panels, request=self.request),
            **kwargs,
        )


class FilteredListView(ListView):
    """A list page filtered by `filterset_class` from the query string and paged by
    cursor (`portal.pagination`) in the FilterSet's `ordering`. A bad value is
    shown on the page and left out, and a stale cursor shows the first page: a
    bookmark never gives an error page."""

    filterset_class: type[django_filters.FilterSet]
    paginate_by = PAGE_SIZE

    def get_queryset(self):
        self.filterset = self.filterset_class(self.request.GET, queryset=super().get_queryset(), request=self.request)
        return self.filterset.qs

    def get_partitions(self, ordering):
        """[(value, Q)] when the order leads with another table's column (see keyset_page)."""
        return None

    def paginate_queryset(self, queryset, page_size):
        ordering = self.filterset.ordering
        page = keyset_page(
            queryset, ordering, self.request.GET, per_page=page_size, partitions=self.get_partitions(ordering)
        )
        return None, page, page.object_list, page.has_other_pages

    def get_context_data(self, **kwargs):
        context = super().get_context_data(filterset=self.filterset, **kwargs)
        context["page"] = context["page_obj"]
        return context


class IncidentListView(ReadMixin, FilteredListView):
    permission_required = "incidents.view_incident"
    template_name = "incidents/incident_list.html"
    context_object_name = "incidents"
    filterset_class = IncidentFilterSet
    queryset = selectors.incident_list_queryset()

    def get_partitions(self, ordering):
        if ordering[0] != "severity__level":
            return None
        levels = Severity.objects.order_by("level").values_list("pk", "level")
        return [(level, Q(severity_id=pk)) for pk, level in levels]

    def get(self, request, *args, **kwargs):
        if request.GET.get("format") == "csv":
            return exports.incident_list_csv(request, self.get_queryset(), self.filterset)
        return super().get(request, *args, **kwargs)


@login_required
@permission_required("incidents.add_incident", raise_exception=True)
def incident_declare(request):
    # Bound on any POST, even an empty one, so that a blank submission is told what is missing.
    form = IncidentDeclareForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            incident = services.incident_declare(
                actor=request.user,
                title=data["title"],
                severity=data["severity"],
                incident_type=data["incident_type"],
                detection_source=data["detection_source"],
                description=data["description"],
                user_impact=data["user_impact"],
                services=data["services"],
                detected_at=data["detected_at"],
            )
        except ValidationError as exc:
            for message in _errors(exc):
                form.add_error(None, message)
        else:
            messages.success(request, f"{incident.reference} declared. You are its initial responder.")
            return redirect(incident)
    return render(
        request,
        "incidents/incident_form.html",
        {"form": form, "severities": Severity.objects.order_by("level")},
        status=400 if form.errors else 200,
    )


def _incident_or_404(reference: str) -> Incident:
    try:
        return selectors.incident_for_page(reference)
    except Incident.DoesNotExist:
        raise Http404("No incident with this reference.") from None


def _detail_context(request, incident: Incident, **forms) -> dict:
    now = timezone.now()
    assignments = list(incident.role_assignments.all())
    active = [a for a in assignments if a.is_active]
    holders = {a.role_id: a for a in active}
    roles = list(Role.objects.all())
    checklist = list(incident.checklist.all())
    sections = []
    for value, label in ChecklistItem.Section.choices:
        items = [i for i in checklist if i.section == value]
        if items:
            sections.append({"label": label, "items": items, "done": sum(i.is_done for i in items)})
    actions = [
        {
            "name": action,
            "label": services.TRANSITION_LABELS[action],
            "note_label": TRANSITION_NOTES.get(action),
            "form": forms.get(f"transition_{action}") or TransitionForm(),
        }
        for action in services.allowed_transitions(incident)
    ]
    contacts = selectors.contacts_in_escalation_order()
    for contact in contacts:
        contact.current_holder = holders.get(contact.role_id) if contact.role_id else None
    timeline = selectors.timeline_page(incident, request.GET)
    timeline.object_list.reverse()  # oldest first on the page
    status_updates = selectors.latest_status_updates(incident)
    deadline = incident.phase_deadline()
    resolved = incident.status == Incident.Status.RESOLVED
    return {
        "incident": incident,
        "now": now,
        "phase_started_at": incident.phase_started_at(),
        "phase_deadline": deadline,
        "phase_overdue": incident.is_phase_overdue(now),
        "update_overdue": incident.is_update_overdue(now),
        "actions": actions,
        "close_blockers": services.incident_close_blockers(incident) if resolved else [],
        "roles": [{"role": r, "holder": holders.get(r.pk)} for r in roles],
        "past_assignments": [a for a in assignments if not a.is_active],
        "checklist_sections": sections,
        "portal_username": settings.PORTAL_SYSTEM_USERNAME,
        "stalls": stalls.incident_stalls(incident, stalls.last_activity(incident), now) if incident.is_open else [],
        "timeline": timeline.object_list,
        "timeline_page": timeline,
        "status_updates": status_updates,
        "updates_capped": len(status_updates) == selectors.UPDATES_SHOWN,
        "contact_groups": selectors.group_contacts(contacts),
        "severity_form": forms.get("severity_form") or SeverityChangeForm(initial={"severity": incident.severity}),
        "role_form": forms.get("role_form") or RoleAssignForm(),
        "note_form": forms.get("note_form") or NoteForm(),
        "update_form": forms.get("update_form") or StatusUpdateForm(),
        "draft_note": forms.get("draft_note", ""),
        "draft_audiences": StatusUpdate.Audience.choices,
        "bridge_form": forms.get("bridge_form") or BridgeForm(initial={"bridge_url": incident.bridge_url}),
        "bridge_link": web_link(incident.bridge_url),
        "service_links": [{"name": s.name, "url": web_link(s.dashboard_url)} for s in incident.services.all()],
        "alert_links": _alert_links(incident),
        "can_change": request.user.has_perm("incidents.change_incident"),
        "panels": panels.collect(panels.incident_panels, sender=Incident, request=request, incident=incident),
    }


# Alerts whose Prometheus source the incident page links to, at most.
ALERT_LINKS = 10


def web_link(url: str) -> str:
    """`url` if it is an http(s) link, else empty: the page never renders a javascript: or data: link."""
    url = (url or "").strip()
    return url if url.lower().startswith(("https://", "http://")) else ""


def _alert_links(incident: Incident) -> list[dict]:
    """The latest alerts' sources (Prometheus generatorURL), one query, without repeats."""
    rows = incident.alerts.exclude(generator_url="").order_by("-starts_at", "-id").values("labels", "generator_url")
    links, seen = [], set()
    for row in rows[:ALERT_LINKS]:
        url = web_link(row["generator_url"])
        if url and url not in seen:
            seen.add(url)
            links.append({"name": (row["labels"] or {}).get("alertname") or "Alert", "url": url})
    return links


def _draft_form(incident: Incident, audience: str, typed: str) -> tuple[StatusUpdateForm, str, bool]:
    """The update form started from `audience`'s template: (form, note for the user, whether the audience is known).
    Text already typed is kept, never replaced by the template."""
    if audience not in StatusUpdate.Audience.values:
        return (
            StatusUpdateForm(initial={"body": typed}),
            f"Unknown audience “{audience[:40]}”: choose one below.",
            False,
        )
    label = StatusUpdate.Audience(audience).label
    if typed.strip():
        return (
            StatusUpdateForm(initial={"audience": audience, "body": typed}),
            f"Your text is kept. To start from the {label} template, empty the box first.",
            True,
        )
    draft = drafts.update_draft(incident, audience)
    if draft is None:
        note = f"No {label} template for this phase yet (staff add them in the admin, under Update templates)."
        return StatusUpdateForm(initial={"audience": audience}), note, True
    return (
        StatusUpdateForm(initial={"audience": audience, "body": draft}),
        f"Started from the {label} template: check every line before posting.",
        True,
    )


def _render_detail(request, incident, status=200, **forms):
    return render(request, "incidents/incident_detail.html", _detail_context(request, incident, **forms), status=status)


@login_required
@permission_required("incidents.view_incident", raise_exception=True)
@require_safe
def incident_detail(request, reference):
    incident = _incident_or_404(reference)
    if "draft" in request.GET and request.user.has_perm("incidents.add_statusupdate"):
        form, note, known = _draft_form(incident, request.GET["draft"], "")
        return _render_detail(request, incident, status=200 if known else 400, update_form=form, draft_note=note)
    return _render_detail(request, incident)


def _write_view(permission):
    """A POST-only action on one incident by a user holding `permission`."""

    def decorate(view):
        view = require_POST(view)
        view = permission_required(permission, raise_exception=True)(view)
        return login_required(view)

    return decorate


@_write_view("incidents.change_incident")
def incident_transition(request, reference, action):
    incident = get_object_or_404(Incident, reference=reference)
    form = TransitionForm(request.POST)
    if not form.is_valid():
        return _render_detail(request, _incident_or_404(reference), status=400, **{f"transition_{action}": form})
    try:
        incident = services.incident_transition(
            incident=incident, action=action, actor=request.user, note=form.cleaned_data["note"]
        )
    except ValidationError as exc:
        for message in _errors(exc):
            messages.error(request, message)
    else:
        messages.success(request, f"{incident.reference} is now {incident.get_status_display().lower()}.")
    return redirect("incidents:detail", reference)


def _submit(request, reference, form_class, form_name, perform, success, anchor=""):
    """The shape of every form on the incident page: validate, call the service,
    flash and go back to the incident; or show the page again (400) with what was
    typed and what is wrong, the service's refusals included."""
    incident = get_object_or_404(Incident, reference=reference)
    form = form_class(request.POST)
    if form.is_valid():
        try:
            result = perform(incident, form.cleaned_data)
        except ValidationError as exc:
            for message in _errors(exc):
                form.add_error(None, message)
        else:
            messages.success(request, success(result))
            return redirect(incident.get_absolute_url() + anchor)
    return _render_detail(request, _incident_or_404(reference), status=400, **{form_name: form})


@_write_view("incidents.change_incident")
def incident_change_severity(request, reference):
    return _submit(
        request,
        reference,
        SeverityChangeForm,
        "severity_form",
        lambda incident, data: services.incident_change_severity(
            incident=incident, severity=data["severity"], actor=request.user, reason=data["reason"]
        ),
        lambda incident: f"Severity changed to {incident.severity.code}.",
    )


@_write_view("incidents.add_roleassignment")
def role_assign(request, reference):
    return _submit(
        request,
        reference,
        RoleAssignForm,
        "role_form",
        lambda incident, data: services.role_assign(
            incident=incident, role=data["role"], user=data["user"], actor=request.user, note=data["note"]
        ),
        lambda assignment: f"{person_name(assignment.user)} is now {assignment.role}.",
    )


@_write_view("incidents.change_roleassignment")
def role_release(request, reference, assignment_id):
    assignment = get_object_or_404(RoleAssignment, pk=assignment_id, incident__reference=reference)
    try:
        services.role_release(assignment=assignment, actor=request.user)
    except ValidationError as exc:
        for message in _errors(exc):
            messages.error(request, message)
    else:
        messages.success(request, f"{assignment.role} released.")
    return redirect("incidents:detail", reference)


@_write_view("incidents.change_checklistitem")
def checklist_toggle(request, reference, item_id):
    item = get_object_or_404(ChecklistItem, pk=item_id, incident__reference=reference)
    done = request.POST.get("done") == "1"
    services.checklist_item_set_done(item=item, actor=request.user, done=done)
    messages.success(request, f"{'Ticked' if done else 'Unticked'}: {item.text}")
    return redirect(f"{item.incident.get_absolute_url()}#checklist")


@_write_view("incidents.change_incident")
def incident_bridge(request, reference):
    return _submit(
        request,
        reference,
        BridgeForm,
        "bridge_form",
        lambda incident, data: services.incident_update_details(
            incident=incident, actor=request.user, bridge_url=data["bridge_url"]
        ),
        lambda incident: "Conference bridge saved." if incident.bridge_url else "Conference bridge removed.",
    )


@_write_view("incidents.add_timelineentry")
def timeline_note(request, reference):
    return _submit(
        request,
        reference,
        NoteForm,
        "note_form",
        lambda incident, data: services.timeline_add_note(
            incident=incident, actor=request.user, text=data["text"], occurred_at=data["occurred_at"]
        ),
        lambda entry: "Note added to the timeline.",
        anchor="#timeline",
    )


@_write_view("incidents.add_statusupdate")
def status_update(request, reference):
    if "draft" in request.POST:  # "Start from the template" pressed: show the draft, post nothing
        incident = _incident_or_404(reference)
        form, note, known = _draft_form(incident, request.POST["draft"], request.POST.get("body", ""))
        return _render_detail(request, incident, status=200 if known else 400, update_form=form, draft_note=note)
    return _submit(
        request,
        reference,
        StatusUpdateForm,
        "update_form",
        lambda incident, data: services.status_update_post(
            incident=incident, actor=request.user, audience=data["audience"], body=data["body"]
        ),
        lambda update: f"{update.get_audience_display()} update posted.",
        anchor="#updates",
    )


@login_required
@permission_required("incidents.view_incident", raise_exception=True)
@require_safe
def incident_history(request, reference):
    incident = get_object_or_404(Incident.objects.select_related("severity"), reference=reference)
    page = history.incident_history(incident, request.GET)
    return render(
        request,
        "incidents/incident_history.html",
        {"incident": incident, "page": page, "entries": page.object_list},
    )


# Objects with a history page of their own (the incident's parts are on its page).
HISTORY_MODELS = {
    m._meta.model_name: m for m in (Contact, Role, Severity, IncidentType, RunbookStep, Service, CommunicationChannel)
}


class ContactListView(ReadMixin, TemplateView):
    permission_required = "incidents.view_contact"
    template_name = "incidents/contact_list.html"

    def get_template_names(self):
        if self.request.GET.get("print") == "1":
            return ["incidents/contact_print.html"]
        return [self.template_name]

    def get_context_data(self, **kwargs):
        form = ContactSearchForm(self.request.GET or None)
        search = form.cleaned_data["q"] if form.is_valid() else ""
        contacts = selectors.contacts_in_escalation_order(search=search)
        return super().get_context_data(
            form=form,
            search=search,
            contact_groups=selectors.group_contacts(contacts),
            channels=CommunicationChannel.objects.order_by("-audience", "position"),  # internal first
            now=timezone.now(),
            **kwargs,
        )


class RunbookListView(ReadMixin, ListView):
    permission_required = "incidents.view_incidenttype"
    template_name = "incidents/runbook_list.html"
    context_object_name = "incident_types"
    queryset = IncidentType.objects.all()

    def get_context_data(self, **kwargs):
        general = RunbookStep.objects.filter(incident_type__isnull=True).order_by("kind", "position")
        return super().get_context_data(
            severities=Severity.objects.order_by("level"),
            roles=Role.objects.all(),
            general_sections=_runbook_sections(list(general)),
            **kwargs,
        )


def _runbook_sections(steps) -> list[tuple[str, list]]:
    """`steps` by runbook section, in the runbook's order, empty sections left out."""
    return [
        (label, [s for s in steps if s.kind == value])
        for value, label in ChecklistItem.Section.choices
        if any(s.kind == value for s in steps)
    ]


class RunbookDetailView(ReadMixin, DetailView):
    permission_required = "incidents.view_incidenttype"
    model = IncidentType
    template_name = "incidents/runbook_detail.html"
    context_object_name = "incident_type"

    def get_context_data(self, **kwargs):
        """Each section as an incident's checklist has it: the general steps, then the type's own."""
        steps = list(
            RunbookStep.objects.filter(Q(incident_type__isnull=True) | Q(incident_type=self.object)).order_by(
                "kind", F("incident_type").asc(nulls_first=True), "position"
            )
        )
        return super().get_context_data(sections=_runbook_sections(steps), **kwargs)
