"""The ledger's pages: an incident's ledger (its totals, every entry a page at a time, the entry
form) and the entries awaiting your confirmation; and the POST actions behind the buttons, each
calling a service. A refused action shows the ledger again (400) with the reason and what was
typed; nothing is written."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from audit.history import HistorySource, history_page
from incidents.models import Incident

from . import selectors, services
from .forms import ImpactEntryForm, ReverseForm, attach_reverse_forms
from .models import ImpactEntry
from .panels import ADD, CHANGE, CONFIRM, VIEW, entry_actions


def _incident_or_404(reference: str) -> Incident:
    try:
        return Incident.objects.select_related("severity").get(reference=reference)
    except Incident.DoesNotExist:
        raise Http404("No incident with this reference.") from None


def _entry_or_404(reference: str, pk: int) -> ImpactEntry:
    return get_object_or_404(ImpactEntry.objects.select_related("incident"), pk=pk, incident__reference=reference)


def _read(view):
    return login_required(permission_required(VIEW, raise_exception=True)(require_safe(view)))


def _write(permission):
    def decorate(view):
        return login_required(permission_required(permission, raise_exception=True)(require_POST(view)))

    return decorate


def _render_ledger(request, incident, *, status=200, form=None, reverse_form=None):
    page = selectors.entries_page(incident, request.GET)
    attach_reverse_forms(page.object_list, bound=reverse_form)
    shown = reverse_form is not None and any(e.pk == reverse_form.entry.pk for e in page.object_list)
    return render(
        request,
        "ledger/impact_ledger.html",
        {
            "incident": incident,
            "totals": selectors.incident_totals(incident),
            "entries": page.object_list,
            "page": page,
            "form": form or ImpactEntryForm(),
            "can": entry_actions(request.user),
            "back": "ledger",
            # A refused reversal of an entry on another page: its form, with the errors, at the top.
            "reverse_form_alone": None if reverse_form is None or shown else reverse_form,
        },
        status=status,
    )


@_read
def incident_ledger(request, reference):
    return _render_ledger(request, _incident_or_404(reference))


def _back(request, incident, entry=None):
    """To the ledger page when the form was there, else to the incident page's panel."""
    if request.POST.get("back") == "ledger":
        url = reverse("ledger:incident", args=[incident.reference])
        return redirect(f"{url}#entry-{entry.pk}" if entry else url)
    return redirect(incident.get_absolute_url() + "#impact")


def _refused(request, incident, exc: ValidationError, **forms):
    for message in exc.messages:
        messages.error(request, message)
    return _render_ledger(request, incident, status=400, **forms)


@_write(ADD)
def entry_add(request, reference):
    incident = _incident_or_404(reference)
    form = ImpactEntryForm(request.POST)
    if not form.is_valid():
        return _render_ledger(request, incident, status=400, form=form)
    data = form.cleaned_data
    try:
        entry = services.impact_entry_add(
            incident=incident,
            actor=request.user,
            kind=data["kind"],
            amount=data["amount"],
            currency=data["currency"],
            quantity=data["quantity"],
            note=data["note"],
            request_confirmation=data["confirmation"] == "requested",
        )
    except ValidationError as exc:
        form.add_error(None, exc)
        return _render_ledger(request, incident, status=400, form=form)
    asked = " A second person's confirmation was requested." if entry.status == entry.Status.REQUESTED else ""
    messages.success(request, f"Entry #{entry.pk} added: {entry.get_kind_display()}, {entry.money}.{asked}")
    return _back(request, incident, entry)


@_write(CHANGE)
def entry_request_confirmation(request, reference, pk):
    entry = _entry_or_404(reference, pk)
    try:
        entry = services.impact_entry_request_confirmation(entry=entry, actor=request.user)
    except ValidationError as exc:
        return _refused(request, entry.incident, exc)
    messages.success(request, f"Confirmation of entry #{entry.pk} requested: a second person can now confirm it.")
    return _back(request, entry.incident, entry)


@_write(CONFIRM)
def entry_confirm(request, reference, pk):
    entry = _entry_or_404(reference, pk)
    try:
        entry = services.impact_entry_confirm(entry=entry, actor=request.user)
    except ValidationError as exc:
        return _refused(request, entry.incident, exc)
    messages.success(request, f"Entry #{entry.pk} confirmed: {entry.get_kind_display()}, {entry.money}.")
    return _back(request, entry.incident, entry)


@_write(ADD)
def entry_reverse(request, reference, pk):
    entry = _entry_or_404(reference, pk)
    form = ReverseForm(request.POST, entry=entry)
    if not form.is_valid():
        return _render_ledger(request, entry.incident, status=400, reverse_form=form)
    try:
        reversal, replacement = services.impact_entry_reverse(
            entry=entry,
            actor=request.user,
            reason=form.cleaned_data["reason"],
            corrected_amount=form.cleaned_data["corrected_amount"],
        )
    except ValidationError as exc:
        return _refused(request, entry.incident, exc)
    text = f"Entry #{entry.pk} reversed by #{reversal.pk}."
    if reversal.status == ImpactEntry.Status.REQUESTED:
        text += " The confirmed total changes once a second person confirms the reversal."
    if replacement:
        text += f" Corrected figure entered as #{replacement.pk}: {replacement.money}."
    messages.success(request, text)
    return _back(request, entry.incident, reversal)


@login_required
@permission_required(CONFIRM, raise_exception=True)
@require_safe
def awaiting(request):
    page = selectors.awaiting_page(request.user, request.GET)
    return render(request, "ledger/awaiting_list.html", {"entries": page.object_list, "page": page})


@_read
def ledger_history(request, reference):
    """Every change to the incident's ledger, with who and why (audit.history), newest first."""
    incident = _incident_or_404(reference)
    source = HistorySource(
        ImpactEntry,
        ImpactEntry.history.filter(incident_id=incident.pk),
        label=lambda record, _: f"#{record.id}",
        hidden_on_create=("incident",),
    )
    page = history_page([source], request.GET)
    context = {"incident": incident, "page": page, "entries": page.object_list}
    return render(request, "ledger/impact_history.html", context)
