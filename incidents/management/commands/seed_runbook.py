from django.core.management.base import BaseCommand

from incidents.seeding import seed_demo, seed_runbook


class Command(BaseCommand):
    help = "Load the incident-response runbook (idempotent). --demo adds a few demo incidents."

    def add_arguments(self, parser):
        parser.add_argument("--demo", action="store_true", help="Also create demo incidents in different phases.")

    def handle(self, *args, demo=False, **options):
        counts = seed_runbook()
        self.stdout.write(
            f"Runbook: {counts['created']} created, {counts['updated']} updated, {counts['unchanged']} unchanged."
        )
        if demo:
            self.stdout.write(f"Demo incidents created: {seed_demo()}")
