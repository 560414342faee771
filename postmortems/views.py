"""Pages for post-mortems and action items. Reads are generic views; every write
is a small POST view that calls a service. Every view needs a login and a
permission: Viewers read, Responders write."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe
from django.views.generic import DetailView

from incidents.models import Incident
from incidents.views import FilteredListView

from . import selectors, services
from .filters import ActionItemFilterSet, PostMortemFilterSet
from .forms import ActionItemForm, ActionItemStatusForm, MeetingForm, MilestoneForm, PostMortemForm
from .models import ActionItem, Milestone, PostMortem


def _errors(request, exc: ValidationError) -> None:
    for message in exc.messages:
        messages.error(request, message)


def _postmortem_or_404(reference):
    return get_object_or_404(PostMortem.objects.select_related("incident"), incident__reference=reference)


class PostMortemListView(LoginRequiredMixin, PermissionRequiredMixin, FilteredListView):
    """Post-mortems, newest first, filtered by `PostMortemFilterSet` and paged by cursor."""

    permission_required = "postmortems.view_postmortem"
    template_name = "postmortems/postmortem_list.html"
    context_object_name = "postmortems"
    paginate_by = 50
    filterset_class = PostMortemFilterSet
    queryset = selectors.postmortem_list_queryset()

    def get_context_data(self, **kwargs):
        return super().get_context_data(now=timezone.now(), milestone_kinds=Milestone.Kind.choices, **kwargs)


class PostMortemDetailView(LoginRequiredMixin, PermissionRequiredMixin, DetailView):
    permission_required = "postmortems.view_postmortem"
    template_name = "postmortems/postmortem_detail.html"
    context_object_name = "postmortem"

    def get_object(self, queryset=None):
        return get_object_or_404(selectors.postmortem_detail_queryset(), incident__reference=self.kwargs["reference"])

    def get_context_data(self, **kwargs):
        postmortem = self.object
        user = self.request.user
        for milestone in postmortem.milestones.all():  # prefetched: the template loops over these same objects
            form_class = MeetingForm if milestone.kind == Milestone.Kind.MEETING else MilestoneForm
            milestone.complete_form = form_class(auto_id=f"id_{milestone.kind}_%s")
        return super().get_context_data(
            now=timezone.now(),
            reminders=selectors.handled_reminders(postmortem),
            action_form=ActionItemForm(auto_id="id_action_%s"),
            can_change=user.has_perm("postmortems.change_postmortem"),
            can_complete=user.has_perm("postmortems.change_milestone"),
            can_add_action=user.has_perm("postmortems.add_actionitem"),
            can_change_action=user.has_perm("postmortems.change_actionitem"),
            **kwargs,
        )


@login_required
@permission_required("postmortems.change_postmortem", raise_exception=True)
def postmortem_edit(request, reference):
    postmortem = _postmortem_or_404(reference)
    form = PostMortemForm(request.POST or None, instance=postmortem)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        services.postmortem_update(
            postmortem=postmortem,
            actor=request.user,
            participants=data.pop("participants"),
            contact_participants=data.pop("contact_participants"),
            **data,
        )
        messages.success(request, "Post-mortem saved.")
        return redirect(postmortem)
    return render(request, "postmortems/postmortem_form.html", {"postmortem": postmortem, "form": form})


@require_POST
@login_required
@permission_required("postmortems.add_postmortem", raise_exception=True)
def postmortem_open(request, reference):
    incident = get_object_or_404(Incident, reference=reference)
    postmortem, created = services.postmortem_open(incident=incident, actor=request.user)
    if created:
        messages.success(request, "Post-mortem opened.")
    return redirect(postmortem)


@require_POST
@login_required
@permission_required("postmortems.change_milestone", raise_exception=True)
def milestone_complete(request, reference, kind):
    milestone = get_object_or_404(Milestone, postmortem__incident__reference=reference, kind=kind)
    form = (MeetingForm if kind == Milestone.Kind.MEETING else MilestoneForm)(request.POST)
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, f"{field.replace('_', ' ').capitalize()}: {' '.join(errors)}")
        return redirect(milestone)
    try:
        services.postmortem_complete_milestone(milestone=milestone, actor=request.user, **form.cleaned_data)
    except ValidationError as exc:
        _errors(request, exc)
    else:
        messages.success(request, f"{milestone.get_kind_display()} completed.")
    return redirect(milestone)


@login_required
@permission_required("postmortems.add_actionitem", raise_exception=True)
def action_item_create(request, reference):
    postmortem = _postmortem_or_404(reference)
    form = ActionItemForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.action_item_create(postmortem=postmortem, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Action item added.")
            return redirect(postmortem.get_absolute_url() + "#action-items")
    return render(request, "postmortems/actionitem_form.html", {"postmortem": postmortem, "form": form})


@login_required
@permission_required("postmortems.change_actionitem", raise_exception=True)
def action_item_edit(request, pk):
    item = get_object_or_404(ActionItem.objects.select_related("postmortem__incident"), pk=pk)
    form = ActionItemForm(request.POST or None, instance=item)
    if request.method == "POST" and form.is_valid():
        services.action_item_update(item=item, actor=request.user, **form.cleaned_data)
        messages.success(request, "Action item saved.")
        return redirect(item.get_absolute_url())
    return render(
        request,
        "postmortems/actionitem_form.html",
        {"postmortem": item.postmortem, "item": item, "form": form, "status_form": ActionItemStatusForm()},
    )


@require_POST
@login_required
@permission_required("postmortems.change_actionitem", raise_exception=True)
def action_item_status(request, pk):
    item = get_object_or_404(ActionItem.objects.select_related("postmortem__incident"), pk=pk)
    form = ActionItemStatusForm(request.POST)
    if form.is_valid():
        try:
            services.action_item_set_status(item=item, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            _errors(request, exc)
        else:
            messages.success(request, f"“{item.title}” is now {form.cleaned_data['status'].replace('_', ' ')}.")
    else:
        messages.error(request, "Choose a valid status.")
    return redirect(item.get_absolute_url())


class ActionItemListView(LoginRequiredMixin, PermissionRequiredMixin, FilteredListView):
    """Action items, soonest due first, filtered by `ActionItemFilterSet` (all, mine, overdue), paged by cursor."""

    permission_required = "postmortems.view_actionitem"
    template_name = "postmortems/actionitem_list.html"
    context_object_name = "items"
    paginate_by = 50
    filterset_class = ActionItemFilterSet
    queryset = selectors.action_item_list_queryset()

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            now=timezone.now(),
            can_change=self.request.user.has_perm("postmortems.change_actionitem"),
            **kwargs,
        )


@login_required
@permission_required("postmortems.view_postmortem", raise_exception=True)
@require_safe
def postmortem_export(request, reference):
    """The post-mortem as one Markdown document."""
    postmortem = get_object_or_404(
        PostMortem.objects.select_related("incident__severity", "owner").prefetch_related(
            "participants", "contact_participants", "milestones", "action_items__owner"
        ),
        incident__reference=reference,
    )
    text = render_to_string("postmortems/postmortem_export.md", {"postmortem": postmortem}, request=request)
    response = HttpResponse(text, content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="postmortem-{postmortem.incident.reference}.md"'
    return response
