from django.apps import AppConfig


class PostmortemsConfig(AppConfig):
    name = "postmortems"
    verbose_name = "Post-mortems"

    def ready(self):
        from incidents import panels
        from incidents.events import closure_checks, incident_resolved
        from incidents.models import Incident

        from . import services, views

        incident_resolved.connect(services.open_on_resolve, sender=Incident, dispatch_uid="postmortems.open_on_resolve")
        if services.closure_blockers not in closure_checks:
            closure_checks.append(services.closure_blockers)
        panels.register(
            panels.dashboard_panels,
            panels.Panel(
                name="postmortems-overdue",
                template="postmortems/panels/dashboard.html",
                context=views.dashboard_panel_context,
                order=50,
            ),
        )
        panels.register(
            panels.incident_panels,
            panels.Panel(
                name="postmortems-incident",
                template="postmortems/panels/incident.html",
                context=views.incident_panel_context,
                order=50,
            ),
        )
