"""The incident list's filters, as one FilterSet that the page, a CSV export and
an API can share. Every value lives in the query string, so a filtered view is a
bookmark; a value that does not validate is reported on the form and left out,
and the other filters still apply."""

from datetime import UTC, datetime, time, timedelta

import django_filters
from django import forms
from django.db.models import Q
from django.utils import timezone

from portal.widgets import Select

from . import selectors
from .models import Incident, IncidentType, Service, Severity

# ?sort= value: (ordering, label). Each ordering ends in the id, so paging by
# cursor is stable, and each has an index that serves it (incidents.models).
INCIDENT_SORTS = {
    "newest": (["-detected_at", "-id"], "Newest first"),
    "oldest": (["detected_at", "id"], "Oldest first"),
    "severity": (["severity__level", "-detected_at", "-id"], "Most severe first"),
    "reference": (["reference"], "Reference"),
    "status": (["status", "-detected_at", "-id"], "Status"),
    "title": (["title", "id"], "Title"),
}
DEFAULT_SORT = "newest"


def _day_start(day, *, next_day=False):
    """The moment `day` (or the day after it) starts in the reader's time zone, or
    None where that lies past the calendar's ends (no bound is needed there)."""
    try:
        if next_day:
            day += timedelta(days=1)
        return timezone.make_aware(datetime.combine(day, time.min)).astimezone(UTC)
    except OverflowError:
        return None


class IncidentFilterForm(forms.Form):
    """The FilterSet's form: the checks that span fields."""

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("detected_from"), cleaned.get("detected_to")
        if start and end and start > end:
            self.add_error("detected_to", "The end date is before the start date.")
        return cleaned


class IncidentFilterSet(django_filters.FilterSet):
    """Filters only with the fields that validated: django-filter filters with the
    form's cleaned_data, from which Django drops every field that has an error."""

    q = django_filters.CharFilter(label="Search", max_length=200, method="search")
    status = django_filters.ChoiceFilter(
        choices=[("open", "Open (any phase)"), *Incident.Status.choices],
        empty_label="Any status",
        label="Status",
        widget=Select,
        method="filter_status",
    )
    severity = django_filters.ModelChoiceFilter(
        queryset=Severity.objects.order_by("level"), empty_label="Any", label="Severity", widget=Select
    )
    type = django_filters.ModelChoiceFilter(
        field_name="incident_type",
        queryset=IncidentType.objects.all(),
        empty_label="Any",
        label="Type",
        widget=Select,
    )
    # An incident has each service once, so this join cannot duplicate rows.
    service = django_filters.ModelChoiceFilter(
        field_name="services",
        queryset=Service.objects.order_by("name"),
        empty_label="Any",
        label="Service",
        widget=Select,
    )
    # Compared as moments, not as the column's date, so the index on detected_at serves them.
    detected_from = django_filters.DateFilter(
        method="detected_since",
        label="From",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    detected_to = django_filters.DateFilter(
        method="detected_until",
        label="To",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    sort = django_filters.ChoiceFilter(
        choices=[(key, label) for key, (_, label) in INCIDENT_SORTS.items()],
        empty_label=None,
        label="Sort",
        widget=Select,
        method="sort_by",
    )

    class Meta:
        model = Incident
        fields = []
        form = IncidentFilterForm

    def __init__(self, data=None, queryset=None, **kwargs):
        if queryset is None:
            queryset = selectors.incident_list_queryset()
        # Sorted before filtering, so the default order holds when ?sort= is absent or invalid.
        super().__init__(data, queryset.order_by(*INCIDENT_SORTS[DEFAULT_SORT][0]), **kwargs)

    @property
    def is_filtered(self) -> bool:
        """Whether any filter other than the order was asked for (valid or not)."""
        return any(self.data.get(name) for name in self.filters if name != "sort")

    @property
    def ordering(self) -> list[str]:
        """The order ?sort= asked for, or the default one when it is absent or invalid."""
        self.form.is_valid()  # cleaned_data keeps the fields that validated
        return INCIDENT_SORTS[getattr(self.form, "cleaned_data", {}).get("sort") or DEFAULT_SORT][0]

    def search(self, queryset, name, value):
        return queryset.filter(
            Q(reference__icontains=value) | Q(title__icontains=value) | Q(description__icontains=value)
        )

    def filter_status(self, queryset, name, value):
        return queryset.open() if value == "open" else queryset.filter(status=value)

    def detected_since(self, queryset, name, value):
        start = _day_start(value)
        return queryset if start is None else queryset.filter(detected_at__gte=start)

    def detected_until(self, queryset, name, value):
        end = _day_start(value, next_day=True)
        return queryset if end is None else queryset.filter(detected_at__lt=end)

    def sort_by(self, queryset, name, value):
        return queryset.order_by(*INCIDENT_SORTS[value][0])
