"""`manage.py seal_unchained_history`: take history rows that are outside the audit chain into it.

For rows known to be genuine: history written before the chain existed (a database upgraded to it),
or a bench load. Rows slipped in out of band would be taken in just the same, so run `verify_audit`
first and read what it reports."""

from django.core.management.base import BaseCommand, CommandError

from audit.chain import seal_unchained


class Command(BaseCommand):
    help = "Seal the history rows that have no place in the audit chain (written before it, or with it off)."

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, default=5000, help="Rows sealed per transaction.")
        parser.add_argument("--database", default="default")

    def handle(self, *args, batch, database, **options):
        if batch < 1:
            raise CommandError("--batch must be at least 1.")
        try:
            sealed = seal_unchained(database, batch=batch)
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
        for table, count in sealed.items():
            self.stdout.write(f"{table}: {count} rows sealed")
        self.stdout.write(f"{sum(sealed.values())} rows sealed in {len(sealed)} tables")
