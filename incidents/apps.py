from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = "Incidents"

    def ready(self):
        from . import audit  # noqa: F401  (connects the change-reason hook)
        from .cadence import PANEL as cadence_panel
        from .panels import incident_panels, register

        register(incident_panels, cadence_panel)
