"""The Insights page: response figures over a period, filtered like the incident list."""

from django.utils import timezone
from django.views.generic import TemplateView

from incidents.models import Severity
from incidents.views import ReadMixin
from ledger import selectors as ledger_selectors

from . import charts, selectors
from .filters import InsightsFilterSet
from .forms import PeriodForm


class InsightsView(ReadMixin, TemplateView):
    """Everyone who may read the incident list may read its figures. A period or filter that
    does not validate is shown on the form with what was typed, with a 400 and no figures."""

    permission_required = "incidents.view_incident"
    template_name = "insights/index.html"

    def get(self, request, *args, **kwargs):
        context = self.get_context_data(**kwargs)
        return self.render_to_response(context, status=400 if context["invalid"] else 200)

    def get_context_data(self, **kwargs):
        period_form = PeriodForm(self.request.GET)
        filterset = InsightsFilterSet(self.request.GET, request=self.request)
        valid = period_form.is_valid() & filterset.is_valid()  # both, so both show their errors
        context = super().get_context_data(
            period_form=period_form, filterset=filterset, invalid=not valid, filtered=bool(self.request.GET), **kwargs
        )
        if not valid:
            return context
        now = timezone.now()
        severities = list(Severity.objects.order_by("level"))
        figures = selectors.insights(
            filterset.incidents,
            period=period_form.get_period(now),
            severities=severities,
            now=now,
            zone=timezone.get_current_timezone(),
        )
        if self.request.user.has_perm("ledger.view_impactentry"):
            # Money lost: per currency, never converted (the ledger's own totals).
            context["impact"] = ledger_selectors.totals_over(
                filterset.incidents.filter(detected_at__gte=figures.period.start, detected_at__lt=figures.period.end)
            )
        context.update(
            figures=figures,
            severities=severities,
            severity_chart=charts.severity_chart(figures.weeks, severities),
            trend_chart=charts.trend_chart(figures.weeks),
            rates_chart=charts.rates_chart(figures.targets),
            now=now,
        )
        return context


index = InsightsView.as_view()
