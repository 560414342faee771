"""Building incidents for page tests, through the services so that they look
like the real thing (reference, checklist, timeline, history)."""

from datetime import timedelta

from django.utils import timezone

from incidents import services
from incidents.models import Incident, IncidentType, Service, Severity


def declare(actor, *, title="Executor failing", level=1, type_slug="trade-execution-failure", minutes_ago=0, **extra):
    return services.incident_declare(
        actor=actor,
        title=title,
        severity=Severity.objects.get(level=level),
        incident_type=IncidentType.objects.get(slug=type_slug),
        detection_source=extra.pop("detection_source", Incident.DetectionSource.ALERT),
        services=extra.pop("services", Service.objects.filter(slug="executor")),
        detected_at=timezone.now() - timedelta(minutes=minutes_ago),
        **extra,
    )


def declare_many(actor, count, **kwargs):
    return [declare(actor, title=f"Incident number {i}", **kwargs) for i in range(count)]
