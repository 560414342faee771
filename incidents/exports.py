"""The incident list as CSV (`?format=csv` on the list's URL): the list's filters and order,
every matching row rather than a page, streamed so that 100,000 rows never sit in memory."""

import csv
from datetime import UTC
from itertools import islice
from urllib.parse import quote

from django.contrib.auth import get_user_model
from django.http import HttpResponse, StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone

from portal.display import person_name

from .models import Incident, Role, RoleAssignment

# Rows are read CSV_CHUNK at a time.
CSV_CHUNK = 2000
CSV_HEADER = [
    "Reference",
    "Title",
    "Severity",
    "Type",
    "Status",
    "Services",
    "Detected (UTC)",
    "Acknowledged (UTC)",
    "Resolved (UTC)",
    "Incident Commander",
    "URL",
]
_CSV_COLUMNS = [
    "id",
    "reference",
    "title",
    "severity__level",
    "incident_type__name",
    "status",
    "detected_at",
    "acknowledged_at",
    "resolved_at",
]
# What a spreadsheet would take for the start of a formula (tab and CR: some skip them first).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> str:
    """A cell's text, never a formula: text starting with = + - @ gets a leading ' (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _csv_moment(value) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else ""


class _Echo:
    """A file for csv.writer that hands each line back instead of keeping it."""

    def write(self, value):
        return value


def incident_list_csv(request, queryset, filterset):
    if not filterset.form.is_valid():
        problems = [f"{name}: {' '.join(errors)}" for name, errors in filterset.form.errors.items()]
        return HttpResponse(
            "The filters do not validate, so nothing was exported:\n" + "\n".join(problems) + "\n",
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    rows = queryset.prefetch_related(None).values_list(*_CSV_COLUMNS).iterator(chunk_size=CSV_CHUNK)
    response = StreamingHttpResponse(_csv_lines(request, rows), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().astimezone(UTC).strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="incidents-{stamp}.csv"'
    return response


def _csv_lines(request, rows):
    """The header, then a line per incident; per chunk of rows, one query for their services
    and one for their Incident Commanders (narrow rows: whole objects cost seconds at 100,000)."""
    User = get_user_model()  # unsaved instances, only for person_name to name
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_HEADER)
    statuses = dict(Incident.Status.choices)
    url = request.build_absolute_uri(reverse("incidents:detail", args=["REFERENCE"]))
    while chunk := list(islice(rows, CSV_CHUNK)):
        ids = [row[0] for row in chunk]
        services = {}
        for incident_id, name in (
            Incident.services.through.objects.filter(incident_id__in=ids)
            .order_by("service__name")
            .values_list("incident_id", "service__name")
        ):
            services.setdefault(incident_id, []).append(name)
        commanders = {
            incident_id: person_name(User(first_name=first, last_name=last, username=username))
            for incident_id, first, last, username in RoleAssignment.objects.filter(
                incident_id__in=ids, role__slug=Role.INCIDENT_COMMANDER, ended_at__isnull=True
            ).values_list("incident_id", "user__first_name", "user__last_name", "user__username")
        }
        for pk, reference, title, level, type_name, status, detected, acknowledged, resolved in chunk:
            yield writer.writerow(
                [
                    csv_cell(reference),
                    csv_cell(title),
                    f"Sev{level}",
                    csv_cell(type_name),
                    statuses.get(status, status),
                    csv_cell(", ".join(services.get(pk, []))),
                    _csv_moment(detected),
                    _csv_moment(acknowledged),
                    _csv_moment(resolved),
                    csv_cell(commanders.get(pk, "")),
                    url.replace("REFERENCE", quote(reference)),
                ]
            )
