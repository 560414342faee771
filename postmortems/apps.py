from django.apps import AppConfig


class PostmortemsConfig(AppConfig):
    name = "postmortems"
    verbose_name = "Post-mortems"

    def ready(self):
        from incidents import events
        from incidents import panels as incident_pages
        from incidents.models import Incident
        from regulatory import events as regulatory_events
        from regulatory.models import ReportClock

        from . import panels, services

        events.incident_resolved.connect(
            services.open_on_resolve, sender=Incident, dispatch_uid="postmortems.open_on_resolve"
        )
        events.incident_closing.connect(
            services.closure_blockers, sender=Incident, dispatch_uid="postmortems.closure_blockers"
        )
        regulatory_events.report_clock_started.connect(
            services.report_clock_arm, sender=ReportClock, dispatch_uid="postmortems.report_clock_arm"
        )
        regulatory_events.report_clock_submitted.connect(
            services.report_clock_disarm, sender=ReportClock, dispatch_uid="postmortems.report_clock_disarm"
        )
        incident_pages.dashboard_panels.connect(panels.dashboard_panel, dispatch_uid="postmortems.dashboard_panel")
        incident_pages.incident_panels.connect(panels.incident_panel, dispatch_uid="postmortems.incident_panel")
