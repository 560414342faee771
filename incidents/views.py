from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.views.generic import DetailView, ListView

from .models import Incident, IncidentType


class DashboardView(LoginRequiredMixin, PermissionRequiredMixin, ListView):
    permission_required = "incidents.view_incident"
    template_name = "incidents/dashboard.html"
    context_object_name = "incidents"

    def get_queryset(self):
        return (
            Incident.objects.open()
            .select_related("severity", "incident_type")
            .order_by("severity__level", "detected_at")
        )


class IncidentDetailView(LoginRequiredMixin, PermissionRequiredMixin, DetailView):
    permission_required = "incidents.view_incident"
    slug_field = slug_url_kwarg = "reference"
    template_name = "incidents/incident_detail.html"
    queryset = Incident.objects.select_related("severity", "incident_type")


class RunbookDetailView(LoginRequiredMixin, PermissionRequiredMixin, DetailView):
    permission_required = "incidents.view_incidenttype"
    model = IncidentType
    template_name = "incidents/runbook_detail.html"
