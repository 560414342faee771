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
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST, require_safe
from django.views.generic import DetailView

from approvals.panels import analysis_box
from incidents.models import Incident
from incidents.views import FilteredListView
from ledger.selectors import incident_totals
from regulatory.selectors import incident_clocks

from . import selectors, services
from .filters import ActionItemFilterSet, PostMortemFilterSet
from .forms import (
    ActionItemForm,
    ActionItemStatusForm,
    MeetingForm,
    MilestoneForm,
    PostMortemForm,
    SendBackForm,
    VerifyForm,
)
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
        _offer_verification(postmortem.action_items.all(), user)  # prefetched too
        return super().get_context_data(
            now=timezone.now(),
            reminders=selectors.handled_reminders(postmortem),
            action_form=ActionItemForm(auto_id="id_action_%s"),
            can_change=user.has_perm("postmortems.change_postmortem"),
            can_complete=user.has_perm("postmortems.change_milestone"),
            can_add_action=user.has_perm("postmortems.add_actionitem"),
            can_change_action=user.has_perm("postmortems.change_actionitem"),
            analysis_approval=analysis_box(self.request, postmortem.incident),  # four eyes (approvals)
            impact_totals=_impact_totals(user, postmortem.incident),
            report_clocks=_report_clocks(user, postmortem.incident),
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


def _offer_verification(items, user) -> None:
    """Give each item awaiting verification that `user` may verify its Verify and Send back forms."""
    for item in items:
        item.can_verify = item.may_verify(user)
        if item.can_verify:
            item.verify_form = VerifyForm(auto_id=f"id_verify_{item.pk}_%s")
            item.send_back_form = SendBackForm(auto_id=f"id_send_back_{item.pk}_%s")


def _action_item_or_404(pk):
    return get_object_or_404(ActionItem.objects.select_related("postmortem__incident", "owner", "closed_by"), pk=pk)


def _action_item_page(request, item, *, status=200, **forms):
    """The action item's page: its details form, its status form and, for whoever may verify it, the
    Verify and Send back forms. `forms` are bound ones that failed, shown with what was typed."""
    _offer_verification([item], request.user)
    if item.can_verify:
        item.verify_form = forms.pop("verify_form", item.verify_form)
        item.send_back_form = forms.pop("send_back_form", item.send_back_form)
    context = {
        "postmortem": item.postmortem,
        "item": item,
        "form": forms.pop("form", None) or ActionItemForm(instance=item),
        "status_form": forms.pop("status_form", None) or ActionItemStatusForm(initial={"evidence": item.evidence}),
        "now": timezone.now(),
    }
    return render(request, "postmortems/actionitem_form.html", context, status=status)


def _next_or(request, default: str) -> str:
    """Where to go after a verification: back to the list it was made from, else `default`."""
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return default


@login_required
@permission_required("postmortems.change_actionitem", raise_exception=True)
def action_item_edit(request, pk):
    item = _action_item_or_404(pk)
    form = ActionItemForm(request.POST or None, instance=item)
    if request.method == "POST" and form.is_valid():
        try:
            services.action_item_update(item=item, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Action item saved.")
            return redirect(item.get_absolute_url())
        item = _action_item_or_404(pk)  # the form wrote its input onto the instance: show the saved item
    return _action_item_page(request, item, form=form)


@require_POST
@login_required
@permission_required("postmortems.change_actionitem", raise_exception=True)
def action_item_status(request, pk):
    item = _action_item_or_404(pk)
    form = ActionItemStatusForm(request.POST)
    if form.is_valid():
        try:
            item = services.action_item_set_status(item=item, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"“{item.title}” is now {item.get_status_display().lower()}.")
            return redirect(item.get_absolute_url())
    return _action_item_page(request, item, status_form=form, status=400)


def _verification_step(request, pk, form_class, form_name, service, done_message):
    item = _action_item_or_404(pk)
    form = form_class(request.POST, auto_id=f"id_{form_name.removesuffix('_form')}_{item.pk}_%s")
    if item.is_awaiting_verification and not item.may_verify(request.user):
        # Its owner, or whoever marked it done: refused before anything is read or written. (No form is
        # shown to them, so the refusal is a message on the item's page.)
        who = "own" if request.user.pk == item.owner_id else "marked"
        messages.error(
            request,
            f"You {who} “{item.title}”{' done' if who == 'marked' else ''}: someone else must check the evidence.",
        )
        return _action_item_page(request, item, status=403)
    if form.is_valid():
        try:
            service(item=item, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            if not item.is_awaiting_verification:
                _errors(request, exc)  # no Verify form on the page to show it in
            form.add_error(None, exc)
        else:
            messages.success(request, done_message.format(title=item.title))
            return redirect(_next_or(request, item.get_absolute_url()))
    return _action_item_page(request, item, status=400, **{form_name: form})


@require_POST
@login_required
@permission_required("postmortems.change_postmortem", raise_exception=True)
def action_item_verify(request, pk):
    """Verify a preventive measure awaiting verification (not its owner, not whoever marked it done)."""
    return _verification_step(
        request, pk, VerifyForm, "verify_form", services.action_item_verify, "“{title}” is verified."
    )


@require_POST
@login_required
@permission_required("postmortems.change_postmortem", raise_exception=True)
def action_item_send_back(request, pk):
    """Send a preventive measure awaiting verification back to its owner, with the reason."""
    return _verification_step(
        request, pk, SendBackForm, "send_back_form", services.action_item_send_back, "“{title}” is sent back."
    )


class ActionItemListView(LoginRequiredMixin, PermissionRequiredMixin, FilteredListView):
    """Action items, soonest due first, filtered by `ActionItemFilterSet` (all, mine, overdue), paged by cursor."""

    permission_required = "postmortems.view_actionitem"
    template_name = "postmortems/actionitem_list.html"
    context_object_name = "items"
    paginate_by = 50
    filterset_class = ActionItemFilterSet
    queryset = selectors.action_item_list_queryset()

    def get_context_data(self, **kwargs):
        context = super().get_context_data(
            now=timezone.now(),
            can_change=self.request.user.has_perm("postmortems.change_actionitem"),
            **kwargs,
        )
        _offer_verification(context["items"], self.request.user)
        return context


@login_required
@permission_required("postmortems.view_postmortem", raise_exception=True)
@require_safe
def postmortem_export(request, reference):
    """The post-mortem as one Markdown document."""
    postmortem = get_object_or_404(
        PostMortem.objects.select_related("incident__severity", "owner").prefetch_related(
            "participants", "contact_participants", "milestones", "action_items__owner", "action_items__verified_by"
        ),
        incident__reference=reference,
    )
    text = render_to_string("postmortems/postmortem_export.md", {"postmortem": postmortem}, request=request)
    response = HttpResponse(text, content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="postmortem-{postmortem.incident.reference}.md"'
    return response


@login_required
@permission_required("postmortems.view_postmortem", raise_exception=True)
@require_safe
def postmortem_print(request, reference):
    """The whole post-mortem on one page laid out for paper (static/css/print.css): deliverables,
    milestones with their notes, and every action item in full."""
    postmortem = get_object_or_404(selectors.postmortem_detail_queryset(), incident__reference=reference)
    context = {
        "postmortem": postmortem,
        "now": timezone.now(),
        "impact_totals": _impact_totals(request.user, postmortem.incident),
    }
    return render(request, "postmortems/postmortem_print.html", context)


def _report_clocks(user, incident):
    """The incident's regulatory report clocks (met on time, late, not submitted), or None for someone
    who may not see them."""
    return incident_clocks(incident) if user.has_perm("regulatory.view_reportclock") else None


def _impact_totals(user, incident):
    """The incident's financial impact per currency (the ledger's totals) for the impact assessment,
    or None for someone who may not see the ledger."""
    return incident_totals(incident) if user.has_perm("ledger.view_impactentry") else None
