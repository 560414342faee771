"""`manage.py verify_audit`: check the audit chain (see audit.verify). Exit 0 when intact, 1 with the
first problem found, 2 when the chain cannot be checked here (not PostgreSQL, not installed)."""

import re

from django.core.management.base import BaseCommand, CommandError

from audit.verify import CHUNK, ChainUnavailable, verify


def _checkpoint(value: str) -> tuple[int, str]:
    match = re.fullmatch(r"(\d+):([0-9a-f]{64})", value.strip())
    if not match:
        raise CommandError(f"--checkpoint {value!r} is not SEQ:HASH (a place and 64 hex digits).", returncode=2)
    return int(match[1]), match[2]


class Command(BaseCommand):
    help = "Check the audit chain of every history table; exit 1 naming the first row changed, inserted or deleted."

    def add_arguments(self, parser):
        parser.add_argument("--quiet", action="store_true", help="Print nothing when the chain is intact.")
        parser.add_argument(
            "--checkpoint",
            action="append",
            default=[],
            metavar="SEQ:HASH",
            help="A checkpoint kept outside the database (from the 'audit chain checkpoint' log lines); repeatable.",
        )
        parser.add_argument(
            "--allow-dropped-columns",
            action="store_true",
            help="Accept rows sealed with columns since dropped from their table (only their links are checked).",
        )
        parser.add_argument("--chunk", type=int, default=CHUNK, help="Places checked per query.")
        parser.add_argument("--database", default="default")

    def handle(self, *args, quiet, checkpoint, allow_dropped_columns, chunk, database, **options):
        if chunk < 1:
            raise CommandError("--chunk must be at least 1.", returncode=2)
        checkpoints = [_checkpoint(value) for value in checkpoint]
        try:
            result = verify(database, chunk=chunk, checkpoints=checkpoints, allow_dropped_columns=allow_dropped_columns)
        except ChainUnavailable as exc:
            raise CommandError(str(exc), returncode=2) from exc
        for warning in result.warnings:
            self.stderr.write(f"Warning: {warning}")
        if result.problem:
            raise CommandError(f"Audit chain broken: {result.problem}", returncode=1)
        if not quiet:
            self.stdout.write(result.summary())
