from django.apps import AppConfig
from django.core import checks
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit"

    def ready(self):
        from . import actors, chain  # noqa: F401  (actors connects the change-reason hook)

        # Every session gets the chain's key; every migrate (and test flush) installs the chain's triggers.
        connection_created.connect(chain.deliver_key, dispatch_uid="audit.chain.deliver_key")
        post_migrate.connect(chain.install, sender=self, dispatch_uid="audit.chain.install")
        checks.register(every_history_is_chained, checks.Tags.models)


def every_history_is_chained(app_configs=None, **kwargs):
    """A history model made with simple-history directly has no place in the audit chain."""
    from .chain import unchained_history_models

    return [
        checks.Error(
            f"{model._meta.label} keeps history outside the audit chain.",
            hint="Make it with audit.models.history(), or pass bases=[audit.models.ChainedHistory] and "
            "m2m_bases=[audit.models.ChainedHistory] to simple-history.",
            obj=model,
            id="audit.E001",
        )
        for model in unchained_history_models()
        if app_configs is None or model._meta.app_config in app_configs
    ]
