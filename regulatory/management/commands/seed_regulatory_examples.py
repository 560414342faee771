"""Load example report obligations, marked as examples and not legal advice: a starting point for
whoever knows which regulators the organisation reports to. Run again, it adds only the missing ones
(an example someone edited is left as it is)."""

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db import transaction

from audit.actors import acting_as, system_user
from incidents.models import Severity
from regulatory.models import ReportObligation

C = ReportObligation.ClockFrom
NOTICE = "Example only, not legal advice: check the deadlines and addressee with your compliance team."

EXAMPLES = [
    # name, addressee, counted from, due after, guidance
    (
        "Initial notification (example)",
        "Your financial regulator's incident reporting portal (example)",
        C.CLASSIFIED,
        timedelta(hours=4),
        "What happened, when it was detected and classified, the services and clients affected so far.",
    ),
    (
        "Intermediate report (example)",
        "Your financial regulator's incident reporting portal (example)",
        C.CLASSIFIED,
        timedelta(hours=72),
        "The status of the incident, its impact as now known, and the measures taken.",
    ),
    (
        "Final report (example)",
        "Your financial regulator's incident reporting portal (example)",
        C.RESOLVED,
        timedelta(days=30),
        "The root cause, the full impact, and the preventive measures agreed in the post-mortem.",
    ),
]


class Command(BaseCommand):
    help = "Add example report obligations (marked as examples, not legal advice) for Sev1/Sev2 flagged incidents."

    def handle(self, *args, **options):
        severities = list(Severity.objects.filter(level__in=[1, 2]))
        created = 0
        with transaction.atomic(), acting_as(system_user(), "Example report obligations loaded"):
            for name, addressee, clock_from, due_after, guidance in EXAMPLES:
                if ReportObligation.objects.filter(name=name).exists():
                    continue
                obligation = ReportObligation.objects.create(
                    name=name,
                    addressee=addressee,
                    guidance=f"{guidance}\n\n{NOTICE}",
                    when_flagged=True,
                    clock_from=clock_from,
                    due_after=due_after,
                    is_example=True,
                    is_active=True,
                )
                obligation.severities.set(severities)
                created += 1
        self.stdout.write(f"Example report obligations: {created} added, {len(EXAMPLES) - created} already there.")
        self.stdout.write(NOTICE)
