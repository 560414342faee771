"""Report obligations and clocks for the tests."""

from datetime import timedelta

from audit.actors import acting_as, system_user
from incidents.models import IncidentType, Role, Severity
from incidents.services import role_assign
from regulatory.models import ReportObligation


def obligation(
    name="Initial notification",
    *,
    levels=(1,),
    type_slugs=(),
    when_flagged=False,
    clock_from=ReportObligation.ClockFrom.CLASSIFIED,
    due_after=timedelta(hours=4),
    remind_before=timedelta(hours=1),
    escalate_after=timedelta(hours=1),
    **extra,
) -> ReportObligation:
    with acting_as(system_user(), "Test obligation"):
        found = ReportObligation.objects.create(
            name=name,
            addressee=extra.pop("addressee", "Financial regulator"),
            when_flagged=when_flagged,
            clock_from=clock_from,
            due_after=due_after,
            remind_before=remind_before,
            escalate_after=escalate_after,
            **extra,
        )
        found.severities.set(Severity.objects.filter(level__in=levels))
        found.incident_types.set(IncidentType.objects.filter(slug__in=type_slugs))
    return found


def assign(incident, role_slug, user, actor):
    return role_assign(incident=incident, role=Role.objects.get(slug=role_slug), user=user, actor=actor)
