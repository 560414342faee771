from django.apps import AppConfig


class RegulatoryConfig(AppConfig):
    name = "regulatory"
    verbose_name = "Regulatory reporting"

    def ready(self):
        from incidents import events
        from incidents import panels as incident_pages
        from incidents.models import Incident

        from . import panels, services

        events.incident_declared.connect(services.start_on_declare, sender=Incident, dispatch_uid="regulatory.declare")
        events.incident_severity_changed.connect(
            services.start_on_severity_change, sender=Incident, dispatch_uid="regulatory.severity"
        )
        events.incident_resolved.connect(services.start_on_resolve, sender=Incident, dispatch_uid="regulatory.resolve")
        incident_pages.incident_panels.connect(panels.incident_panel, dispatch_uid="regulatory.incident_panel")
