from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = "Incidents"

    def ready(self):
        from notifications.events import message_settled

        from . import cadence, outreach, panels

        panels.incident_panels.connect(cadence.cadence_panel, dispatch_uid="incidents.cadence_panel")
        message_settled.connect(outreach.page_settled, dispatch_uid="incidents.page_settled")
