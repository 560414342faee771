"""Regulatory reporting's pages: the open report clocks across incidents, one clock with its
submission form, the file a submission sent; and the POST actions behind the incident page's
panel, each calling a service. A refused action shows its form again (400) with the reason and
what was typed; nothing is written."""

import mimetypes

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from incidents.models import Incident

from . import selectors, services
from .forms import ReportableFlagForm, ReportSubmitForm, submit_initial
from .models import ReportClock
from .panels import FLAG, SUBMIT, VIEW


def _clock_or_404(pk: int) -> ReportClock:
    return get_object_or_404(
        ReportClock.objects.select_related("incident__severity", "obligation", "submitted_by"), pk=pk
    )


@login_required
@permission_required(VIEW, raise_exception=True)
@require_safe
def clock_list(request):
    """Every open report clock across incidents, overdue ones first (`?overdue=1`: only those)."""
    now = timezone.now()
    overdue_only = request.GET.get("overdue") == "1"
    page = selectors.open_clocks_page(request.GET, now=now, overdue_only=overdue_only)
    context = {"clocks": page.object_list, "page": page, "now": now, "overdue_only": overdue_only}
    return render(request, "regulatory/reportclock_list.html", context)


def _render_clock(request, clock, *, form=None, status=200):
    if form is None and clock.submitted_at is None and request.user.has_perm(SUBMIT):
        form = ReportSubmitForm(clock=clock, initial=submit_initial(selectors.regulator_updates_text(clock.incident)))
    context = {"clock": clock, "incident": clock.incident, "form": form, "now": timezone.now()}
    return render(request, "regulatory/reportclock_detail.html", context, status=status)


@login_required
@permission_required(VIEW, raise_exception=True)
@require_http_methods(["GET", "HEAD", "POST"])
def clock_detail(request, pk):
    """One clock; its POST records the report as submitted (needs `regulatory.change_reportclock`)."""
    if request.method == "POST" and not request.user.has_perm(SUBMIT):
        raise PermissionDenied("You may not record regulatory reports.")
    clock = _clock_or_404(pk)
    if request.method != "POST":
        return _render_clock(request, clock)
    form = ReportSubmitForm(request.POST, request.FILES, clock=clock)
    if not form.is_valid():
        return _render_clock(request, clock, form=form, status=400)
    data = form.cleaned_data
    try:
        clock = services.report_submit(
            clock=clock,
            actor=request.user,
            submitted_at=data["submitted_at"],
            regulator_reference=data["regulator_reference"],
            text=data["text"],
            file=data["file"],
        )
    except ValidationError as exc:
        form.add_error(None, exc)
        return _render_clock(request, _clock_or_404(pk), form=form, status=400)
    on_time = "on time" if clock.met_on_time else "late"
    messages.success(request, f"“{clock.obligation.name}” recorded as submitted ({on_time}).")
    return redirect(clock.get_absolute_url())


@login_required
@permission_required(VIEW, raise_exception=True)
@require_safe
def clock_file(request, pk):
    """The file a submission sent, to signed-in readers only (MEDIA_ROOT is never served directly)."""
    clock = _clock_or_404(pk)
    if not clock.file:
        raise Http404("No file was recorded with this report.")
    try:
        handle = clock.file.open("rb")
    except FileNotFoundError:
        raise Http404("The file is missing from the server's storage.") from None
    name = clock.file.name.rsplit("/", 1)[-1]
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return FileResponse(handle, as_attachment=True, filename=name, content_type=content_type)


@login_required
@permission_required(FLAG, raise_exception=True)
@require_POST
def flag_set(request, reference):
    incident = get_object_or_404(Incident, reference=reference)
    form = ReportableFlagForm(request.POST)
    if form.is_valid():
        try:
            services.reportable_flag_set(
                incident=incident,
                actor=request.user,
                reportable=form.cleaned_data["reportable"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
    if form.errors:
        context = {"incident": incident, "form": form}
        return render(request, "regulatory/reportableflag_form.html", context, status=400)
    if form.cleaned_data["reportable"]:
        messages.success(request, "Flagged as reportable to regulators.")
    else:
        messages.success(request, "Reportable flag cleared.")
    return redirect(incident.get_absolute_url() + "#regulatory")
