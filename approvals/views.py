"""The approvals' pages: what waits for your approval, one request, asking for
one. Reads go through `selectors`, writes through `services`; a refused write
shows the form again (400) with what was typed and why, and changes nothing.
Every view needs a login and a permission: Viewers read, Responders and Admins
ask and decide."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST, require_safe
from django.views.generic import TemplateView

from incidents.models import Incident

from . import selectors, services
from .forms import DecisionForm, RequestForm, WithdrawForm
from .models import ApprovalRequest
from .panels import approval_box

A = ApprovalRequest.Action
PAGE_SIZE = 25


def _next(request, fallback: str) -> str:
    """Where to go after a write: the page the form was on (`next`), if it is this site's, else `fallback`."""
    target = request.POST.get("next", "")
    try:
        safe = url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    except ValueError:  # an unparsable address (e.g. "http://[")
        safe = False
    plain = target.isprintable()  # no NUL, newline or other control character (a header cannot hold them)
    return target if safe and plain and target.startswith("/") else fallback


def _approval_or_404(pk) -> ApprovalRequest:
    try:
        return selectors.approval_for_page(pk)
    except ApprovalRequest.DoesNotExist:
        raise Http404("No approval request with this number.") from None


def may_approve_something(view):
    """403 unless the user holds at least one approve permission (before anything is looked up)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not ApprovalRequest.actions_approvable_by(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


class ApprovalListView(LoginRequiredMixin, PermissionRequiredMixin, TemplateView):
    """The requests waiting for the signed-in user's approval, newest first, paged by cursor;
    and their own requests waiting for someone else."""

    permission_required = "approvals.view_approvalrequest"
    template_name = "approvals/approval_list.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        page = selectors.decidable_page(user, self.request.GET, PAGE_SIZE)
        return super().get_context_data(
            page=page,
            approvals=page.object_list,
            own=selectors.own_waiting(user),
            may_approve=bool(ApprovalRequest.actions_approvable_by(user)),
            now=timezone.now(),
            **kwargs,
        )


def _render_detail(request, approval: ApprovalRequest, status: int = 200, failed=None):
    """The request's page; after a refused decision or withdrawal, with that form again on top (`failed`):
    what was typed and why it was refused."""
    next_url = _next(request, approval.get_absolute_url()) if request.method == "POST" else None
    box = approval_box(
        request=request, incident=approval.incident, action=approval.action, requests=[approval], next_url=next_url
    )
    context = {"approval": approval, "box": box, "failed": failed}
    if failed is not None:
        context["failed_url"] = request.path
        context["failed_is_decision"] = isinstance(failed, DecisionForm)
    return render(request, "approvals/approval_detail.html", context, status=status)


@login_required
@permission_required("approvals.view_approvalrequest", raise_exception=True)
@require_safe
def approval_detail(request, pk):
    return _render_detail(request, _approval_or_404(pk))


@login_required
@permission_required("approvals.add_approvalrequest", raise_exception=True)
def approval_new(request, reference, action):
    """Ask for a second person's approval of `action` on the incident (the form alone on GET)."""
    if action not in A.values:
        raise Http404("No such action needs an approval.")
    incident = get_object_or_404(Incident.objects.select_related("severity"), reference=reference)
    # Bound on any POST, even an empty one, so that a blank submission is told what is missing.
    form = RequestForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            approval = services.approval_request(
                incident=incident, action=action, actor=request.user, comment=form.cleaned_data["comment"]
            )
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error(None, message)
        else:
            messages.success(request, "Approval requested: someone else who may approve it can now decide.")
            return redirect(_next(request, approval.get_absolute_url()))
    context = {
        "incident": incident,
        "action": action,
        "action_label": A(action).label,
        "form": form,
        "next_url": _next(request, "") if request.method == "POST" else request.GET.get("next", ""),
    }
    return render(request, "approvals/approval_form.html", context, status=400 if form.errors else 200)


@login_required
@may_approve_something
@require_POST
def approval_decide(request, pk):
    """Approve (the button `decision=approve`) or reject a waiting request, with a comment."""
    approval = _approval_or_404(pk)
    if not request.user.has_perm(approval.permission):
        raise PermissionDenied
    form = DecisionForm(request.POST)
    if form.is_valid():
        approve = form.cleaned_data["decision"] == DecisionForm.APPROVE
        try:
            approval = services.approval_decide(
                approval=approval, actor=request.user, approve=approve, comment=form.cleaned_data["comment"]
            )
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error(None, message)
        else:
            if not approve:
                messages.success(request, "Request rejected.")
            elif approval.action == A.CLOSE_INCIDENT:
                messages.success(request, f"Approved: {approval.incident.reference} is now closed.")
            else:
                messages.success(request, "Approved: the detailed analysis can now be marked complete.")
            return redirect(_next(request, approval.get_absolute_url()))
    return _render_detail(request, _approval_or_404(pk), status=400, failed=form)


@login_required
@permission_required("approvals.add_approvalrequest", raise_exception=True)
@require_POST
def approval_withdraw(request, pk):
    approval = _approval_or_404(pk)
    form = WithdrawForm(request.POST)
    if form.is_valid():
        try:
            services.approval_withdraw(approval=approval, actor=request.user, comment=form.cleaned_data["comment"])
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error(None, message)
        else:
            messages.success(request, "Request withdrawn.")
            return redirect(_next(request, approval.get_absolute_url()))
    return _render_detail(request, _approval_or_404(pk), status=400, failed=form)
