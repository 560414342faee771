from django.core.management.base import BaseCommand

from notifications.services import outbox_sweep
from postmortems.services import deadlines_sweep


class Command(BaseCommand):
    help = (
        "Run the post-mortem deadline sweep once: queue every due reminder, overdue notice and escalation "
        "(the same sweep Celery beat runs every minute). Safe to run alongside beat."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--deliver",
            action="store_true",
            help="Also deliver the due outbox messages from this process (for cron without a Celery worker).",
        )

    def handle(self, *args, deliver=False, **options):
        counts = deadlines_sweep()
        self.stdout.write(f"Reminders: {counts or 'none due'}")
        if deliver:
            delivered: dict[str, int] = {}
            while True:
                batch = outbox_sweep()
                for outcome, count in batch.items():
                    delivered[outcome] = delivered.get(outcome, 0) + count
                # Stop when nothing more was sent: what is left is retrying later or held by another process.
                if not batch.get("sent"):
                    break
            self.stdout.write(f"Outbox: {delivered or 'nothing due'}")
