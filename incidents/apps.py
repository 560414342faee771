from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = "Incidents"

    def ready(self):
        from . import cadence, panels

        panels.incident_panels.connect(cadence.cadence_panel, dispatch_uid="incidents.cadence_panel")
