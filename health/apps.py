from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "health"
    verbose_name = "Health"

    def ready(self):
        from celery.signals import task_success

        from . import checks, receivers  # noqa: F401 - checks registers the system check

        task_success.connect(receivers.record_heartbeat, weak=False, dispatch_uid="health.record_heartbeat")
