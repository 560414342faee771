"""The benchmark: `make bench`, or `python -m bench [load | pages | webhook | sweeps …]`.

1. The database `portal_bench` (BENCH_DATABASE_URL) at BENCH_SCALE (default 1.0): created, migrated and
   loaded by `bench.load`, or reused when the scale, the migrations and the loader are unchanged.
2. pages: gunicorn (3 workers, DEBUG=false, production settings) serving the portal plus /bench/floor/;
   every staff page, the status page and feed, and the declare form, each measured against the floor.
3. webhook: the Alertmanager webhook, one group repeated and a new group each time.
4. sweeps: the post-mortem deadline sweep with 10,000 due reminders and outbox delivery to SMTP.

Every run is undone afterwards (see bench.db). A full run writes bench/results.md and bench/results.json;
targets that are missed are printed, and the exit status is 0 all the same (a benchmark, not a test).
"""

import os
import secrets
import statistics
import sys
import time
from pathlib import Path

PHASES = ("pages", "webhook", "sweeps")
ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench"
DATABASE_URL = "postgres://postgres@127.0.0.1:5432/portal_bench"
BROKER_URL = "redis://127.0.0.1:6379/12"


def say(text: str) -> None:
    print(text, flush=True)


def environment(smtp_port: int) -> dict:
    """What production needs to start (portal/settings.py refuses DEBUG=false without it), pointed at the
    bench's database, broker and SMTP server. Nothing is switched off: the sign-in throttle (django-axes)
    stays on, since the bench signs in twice, successfully, and never trips it."""
    return {
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL") or DATABASE_URL,
        "CELERY_BROKER_URL": os.environ.get("BENCH_BROKER_URL") or BROKER_URL,
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
        "SITE_URL": "https://portal.example.com",
        # The bench's API token asks for far more than the default rate a person's token gets.
        "API_RATE": "1000000/min",
        "ALERTMANAGER_WEBHOOK_TOKEN": secrets.token_urlsafe(32),
        # A firm's distribution lists, so a declaration queues its email as in production.
        **{f"NOTIFY_EMAILS_SEV{level}": f"sev{level}-oncall@example.com" for level in (1, 2, 3, 4)},
        # The runner's own log; gunicorn logs at the production default (server.Gunicorn).
        "LOG_LEVEL": "WARNING",
    }


def sign_in_users():
    """A responder and a superuser of the loaded staff, with a fresh password each run."""
    from django.contrib.auth import get_user_model

    from incidents.seeding import GROUP_RESPONDERS

    User = get_user_model()
    active = User.objects.filter(is_active=True, groups__name=GROUP_RESPONDERS).order_by("pk")
    users = {
        "responder": active.filter(is_superuser=False, is_staff=False).first(),
        "admin": active.filter(is_superuser=True).first(),
    }
    passwords = {}
    for role, user in users.items():
        passwords[role] = secrets.token_urlsafe(24)
        user.set_password(passwords[role])
        user.save(update_fields=["password"])
    return users, passwords


def api_token(user) -> str:
    """A read-and-write API token of the responder's, for the API's pages."""
    from datetime import timedelta

    from django.utils import timezone

    from api.models import PersonalToken
    from api.services import token_create, token_revoke

    for old in PersonalToken.objects.filter(user=user, name__startswith="bench ").usable(timezone.now()):
        token_revoke(token=old, actor=user)  # a person holds at most 20 active tokens
    _, token = token_create(
        user=user,
        actor=user,
        name=f"bench {timezone.now():%Y%m%d%H%M%S}",
        scope="write",
        expires_at=timezone.now() + timedelta(days=1),
    )
    return token


def second_factor_key(user) -> str:
    """The superuser signs in as production asks of staff: password, then an authenticator code.
    A confirmed TOTP device with a key of the run's own; returns the key (hex)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, name="bench").first() or TOTPDevice(user=user, name="bench")
    device.key, device.confirmed = secrets.token_hex(20), True
    device.save()
    return device.key


def context(port: int, client, facts: dict, run: str, scale: float) -> dict:
    """The rows the pages are about: a typical recent incident (about ten timeline entries, closed, with
    its post-mortem), the one with thousands of entries, a deep list page, filter values, the declare form."""
    from django.db import connection

    from incidents.models import Incident, IncidentType, Service, Severity, TimelineEntry

    from . import db
    from .client import csrf_token, links
    from .pages import DEEP_PAGE, deep_list_path

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT i.reference FROM incidents_incident i
            JOIN LATERAL (SELECT count(*) AS n FROM incidents_timelineentry t WHERE t.incident_id = i.id) t ON true
            WHERE i.status = 'closed' AND i.id IN (SELECT id FROM incidents_incident ORDER BY detected_at DESC
                                                   LIMIT 2000)
            ORDER BY abs(t.n - 10), i.detected_at DESC LIMIT 1
            """
        )
        typical = cursor.fetchone()[0]
    big = facts["big_incident"]
    depth = max(2, round(DEEP_PAGE * scale))
    cached = db.read_meta("deep_list")
    deep = None
    if cached and cached["depth"] == depth:
        response = client.get(cached["path"])
        if response.status == 200 and any("prev" in rel.split() for _, rel, _ in links(response.text, cached["path"])):
            deep = cached["path"]
    if deep is None:
        started = time.perf_counter()
        deep, walked = deep_list_path(client, depth, say)
        say(f"  deep list page: {walked} next links followed in {time.perf_counter() - started:.0f} s")
        db.write_meta("deep_list", {"path": deep, "depth": depth})
    form = client.get("/incidents/new/")
    return {
        "run": run,
        "origin": f"https://127.0.0.1:{port}",
        "typical": typical,
        "big": big,
        "big_entries": TimelineEntry.objects.filter(incident__reference=big).count(),
        "deep_path": deep,
        "deep_depth": depth,
        "severity": Severity.objects.get(level=2).pk,
        "type": IncidentType.objects.get(slug="trade-execution-failure").pk,
        "runbook": "trade-execution-failure",
        "service": Service.objects.get(slug="rpc-gateway").pk,
        "token": os.environ["ALERTMANAGER_WEBHOOK_TOKEN"],
        "declare_form": {
            "csrfmiddlewaretoken": csrf_token(form.text),
            "severity": Severity.objects.get(level=3).pk,
            "incident_type": IncidentType.objects.get(slug="other").pk,
            "services": [Service.objects.get(slug="rpc-gateway").pk],
            "detection_source": Incident.DetectionSource.USER_REPORT,
            "detected_at": "",
            "user_impact": "Some traders see delayed fills.",
            "description": "Declared by the benchmark.",
        },
    }


def _median_burst(bursts: list[dict]) -> dict:
    """The floor's figures at 20 connections: the median of its bursts (one before each page's)."""
    keys = ("rps", "p50_ms", "p99_ms")
    return {
        **{k: statistics.median(b[k] for b in bursts) for k in keys},
        "errors": sum(b["errors"] for b in bursts),
        "requests": sum(b["requests"] for b in bursts),
        "client_cpu": max(b["client_cpu"] or 0 for b in bursts),
    }


def http_phases(phases, facts: dict, scale: float, run: str) -> dict:
    from django.core.management import call_command

    from .client import Client, sign_in
    from .pages import (
        CONCURRENT_SECONDS,
        FLOOR,
        FLOOR_BURST_SECONDS,
        Result,
        count_queries,
        declare_page,
        measure,
        staff_pages,
        webhook_pages,
    )
    from .server import Gunicorn, free_port

    call_command("collectstatic", interactive=False, verbosity=0)
    users, passwords = sign_in_users()
    server = Gunicorn(free_port(), VAR / "gunicorn.log")
    say(f"gunicorn on port {server.port} (log: var/bench/gunicorn.log)")
    server.start()
    try:
        keys = {"admin": second_factor_key(users["admin"])}
        cookies = {role: sign_in(server.port, users[role].username, passwords[role], keys.get(role)) for role in users}
        cookies["anonymous"] = {}
        client = Client(server.port, cookies["responder"])
        ctx = context(server.port, client, facts, run, scale)
        ctx["api_headers"] = {"Authorization": f"Bearer {api_token(users['responder'])}", "Accept": "application/json"}
        for _ in range(50):  # warm the workers before anything is timed
            client.get(FLOOR.path)
        client.close()
        pages = []
        if "pages" in phases:
            pages += staff_pages(ctx) + [declare_page(ctx)]
        if "webhook" in phases:
            pages += webhook_pages(ctx)
        results = measure(pages, server.port, cookies, users, server, say)
        bursts = [r.floor_concurrent for r in results]
        floor = Result(FLOOR, concurrent=_median_burst(bursts), floor_concurrent=_median_burst(bursts))
        floor.queries, floor.query_status = count_queries(FLOOR, users)
        floor.samples = floor.floor_samples = [s for r in results for s in r.floor_samples]
        memory = server.worker_memory()
    finally:
        server.stop()
    return {
        "results": [floor, *results],
        "floor_rps": [round(b["rps"], 1) for b in bursts],
        "concurrent_seconds": CONCURRENT_SECONDS,
        "floor_burst_seconds": FLOOR_BURST_SECONDS,
        "memory": memory,
        "server_errors": server.server_errors(),
        "context": {k: v for k, v in ctx.items() if k not in ("token", "declare_form", "origin")},
    }


def sweep_phase(scale: float) -> dict:
    from .server import SmtpServer
    from .sweeps import deadline_sweep, outbox_delivery

    port = int(os.environ["EMAIL_URL"].rsplit(":", 1)[1])
    deadlines = deadline_sweep(scale, say)
    outbox = outbox_delivery(SmtpServer(port, VAR / "smtp-received.txt"), say)
    return {"deadlines": deadlines, "outbox": outbox}


def main(argv: list[str]) -> int:
    unknown = [a for a in argv if a not in (*PHASES, "load")]
    if unknown:
        say(__doc__)
        return 2
    load_only = argv == ["load"]
    phases = [p for p in PHASES if p in argv] or list(PHASES)
    scale = float(os.environ.get("BENCH_SCALE") or 1.0)
    from bench.server import free_port

    os.environ.update(environment(free_port()))
    import django

    django.setup()
    import redis

    from bench import db, report

    facts = db.ensure(scale, say)
    if load_only:
        return 0
    run = secrets.token_hex(3)
    db.checkpoint()
    http, sweeps = {}, {}
    load_start = os.getloadavg()[0]
    try:
        if "pages" in phases or "webhook" in phases:
            say("Pages (HTTP, gunicorn)")
            http = http_phases(phases, facts, scale, run)
        if "sweeps" in phases:
            say("Sweeps (in-process)")
            sweeps = sweep_phase(scale)
    finally:
        load_end = os.getloadavg()[0]
        db.restore(say)
        # The bench's own broker database: the tasks the run published (nobody consumes them).
        redis.Redis.from_url(os.environ["CELERY_BROKER_URL"]).flushdb()
    info = report.machine(scale, facts)
    rows = report.page_rows(http["results"]) if http else []
    sweep_rows = report.sweep_rows(sweeps)
    extra = {k: v for k, v in http.items() if k != "results"}
    extra["load_average"] = [round(load_start, 1), round(load_end, 1)]
    extra.setdefault("concurrent_seconds", 0)
    full = set(phases) == set(PHASES)
    text = report.write(info, rows, sweep_rows, extra) if full else report.render(info, rows, sweep_rows, extra)
    say("")
    say(text)
    if full:
        say("Written to bench/results.md and bench/results.json")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
