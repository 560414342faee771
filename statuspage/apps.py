from django.apps import AppConfig


class StatuspageConfig(AppConfig):
    name = "statuspage"
    verbose_name = "Status page"

    def ready(self):
        from incidents.events import status_update_posted

        from . import services

        status_update_posted.connect(services.broadcast_start, dispatch_uid="statuspage.broadcast_start")
