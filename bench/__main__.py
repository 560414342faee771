"""Run every benchmark against a throwaway database and print the figures.

make bench            # all
python -m bench outbox declare
"""

import logging
import os
import sys
import time
from contextlib import contextmanager

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from bench import cases  # noqa: E402


@contextmanager
def throwaway_database():
    settings.DATABASES["default"]["TEST"]["NAME"] = "portal_bench"
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def main(names):
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    chosen = [case for case in cases.ALL if not names or case.__name__.removeprefix("bench_") in names]
    print(f"database: {connection.vendor}   broker: {settings.CELERY_BROKER_URL.split('://')[0]}")
    with throwaway_database():
        from incidents.seeding import seed_runbook

        seed_runbook()
        for case in chosen:
            started = time.perf_counter()
            case()
            print(f"  ({case.__name__} took {time.perf_counter() - started:.1f}s in all)\n")


if __name__ == "__main__":
    main(sys.argv[1:])
