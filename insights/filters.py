"""The Insights page's filters: the incident list's own FilterSet, narrowed to what
makes sense for figures over a period (severity, type, service). The period itself
is `insights.forms.PeriodForm`."""

from incidents.filters import IncidentFilterSet
from incidents.models import Incident


class InsightsFilterSet(IncidentFilterSet):
    """Severity, type and service exactly as the incident list filters them (same fields,
    same querysets, same query-string names, so a filter carries over between the two pages).

    The search, status and sort filters are left out (None removes an inherited filter), and
    so are the list's date filters: the period form bounds the figures instead."""

    q = None
    status = None
    sort = None
    detected_from = None
    detected_to = None

    def __init__(self, data=None, queryset=None, **kwargs):
        # Only the columns the figures read; the list's prefetches and .only() are not wanted here.
        super().__init__(data, Incident.objects.all() if queryset is None else queryset, **kwargs)

    @property
    def incidents(self):
        """The filtered incidents, unordered (an order would join the GROUP BYs of the figures)."""
        return self.qs.order_by()
