from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "search"
    verbose_name = "Search"

    def ready(self):
        from incidents import panels as incident_pages

        from . import panels

        incident_pages.incident_panels.connect(
            panels.similar_incidents_panel, dispatch_uid="search.similar_incidents_panel"
        )
