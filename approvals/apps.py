from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "approvals"
    verbose_name = "Approvals"

    def ready(self):
        from incidents import events
        from incidents import panels as incident_pages
        from incidents.models import Incident

        from . import panels, services

        events.incident_closing.connect(
            services.closure_objections, sender=Incident, dispatch_uid="approvals.closure_objections"
        )
        incident_pages.dashboard_panels.connect(panels.dashboard_panel, dispatch_uid="approvals.dashboard_panel")
        incident_pages.incident_panels.connect(panels.incident_panel, dispatch_uid="approvals.incident_panel")
