from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "ledger"
    verbose_name = "Financial impact"

    def ready(self):
        from incidents import panels as incident_pages

        from . import panels

        incident_pages.incident_panels.connect(panels.incident_panel, dispatch_uid="ledger.incident_panel")
        incident_pages.dashboard_panels.connect(panels.dashboard_panel, dispatch_uid="ledger.dashboard_panel")
        incident_pages.incident_list_badges.connect(
            panels.incident_list_badges, dispatch_uid="ledger.incident_list_badges"
        )
