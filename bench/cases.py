"""The benchmark cases. Each prints its own figures."""

import statistics
import time
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import connection, reset_queries
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents import services
from incidents.models import Incident, IncidentType, Severity
from notifications import services as outbox
from notifications.models import OutboxMessage


def _timed(fn, repeat):
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def _report(label, samples, unit="ms"):
    samples = sorted(samples)
    p95 = samples[max(0, int(len(samples) * 0.95) - 1)]
    print(f"  {label:<44} median {statistics.median(samples):7.2f} {unit}   p95 {p95:7.2f} {unit}   n={len(samples)}")


def _actor():
    user, _ = get_user_model().objects.get_or_create(username="bench", defaults={"first_name": "Bench"})
    return user


def bench_declare():
    """How long declaring an incident takes (reference, checklist of 22 items, history)."""
    print("declare an incident (service, PostgreSQL round trips included)")
    actor = _actor()
    sev = Severity.objects.get(level=1)
    kind = IncidentType.objects.get(slug="trade-execution-failure")

    def declare():
        services.incident_declare(
            actor=actor, title="Bench", severity=sev, incident_type=kind, detection_source="alert"
        )

    reset_queries()
    with CaptureQueriesContext(connection) as queries:
        declare()
    print(f"  queries per declaration: {len(queries)}")
    _report("incident_declare", _timed(declare, 50))


def bench_outbox():
    """Outbox sweep throughput into a real SMTP server."""
    from aiosmtpd.controller import Controller
    from django.conf import settings

    from conftest import _Mailbox, free_port

    print("outbox sweep: 1,000 due emails delivered to a local aiosmtpd")
    mailbox, port = _Mailbox(), free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    try:
        for n in range(1000):
            OutboxMessage.objects.create(
                key=f"bench:{n}", channel="email", subject=f"Bench {n}", body_text="x", recipients=["a@example.com"]
            )
        reset_queries()
        with CaptureQueriesContext(connection) as queries:
            due = outbox.outbox_due_ids(timezone.now(), limit=500)
        print(f"  finding due rows: {len(queries)} query, {len(due)} ids")
        started = time.perf_counter()
        sent = 0
        while True:
            counts = outbox.outbox_sweep()
            if not counts:
                break
            sent += counts.get("sent", 0)
        elapsed = time.perf_counter() - started
        received = len(mailbox.wait_for(1000, timeout=30))
        print(f"  sent {sent}, received {received}, {elapsed:.2f}s, {sent / elapsed:.0f} emails/s (one worker)")
    finally:
        controller.stop()


def bench_sweep_queries():
    """The sweeps' due-row queries use their indexes (PostgreSQL EXPLAIN)."""
    print("sweep queries on 5,000 incidents / outbox rows (query plans)")
    actor = _actor()
    sev = Severity.objects.get(level=2)
    kind = IncidentType.objects.get(slug="other")
    now = timezone.now()
    # Bulk rows for the planner only; history is irrelevant to a benchmark database.
    Incident.objects.bulk_create(
        Incident(
            reference=f"INC-1999-{n:05d}",
            title="b",
            severity=sev,
            incident_type=kind,
            detection_source="alert",
            status="closed" if n % 10 else "investigating",
            detected_at=now - timedelta(days=n % 300),
            next_update_due_at=None if n % 10 else now + timedelta(minutes=n % 120),
            declared_by=actor,
        )
        for n in range(5000)
    )
    OutboxMessage.objects.bulk_create(
        OutboxMessage(
            key=f"bench-plan:{n}",
            channel="email",
            body_text="x",
            status="sent" if n % 50 else "pending",
            next_attempt_at=now - timedelta(minutes=n % 90),
        )
        for n in range(5000)
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    for label, queryset in [
        ("incidents with an overdue update", Incident.objects.update_overdue(now)),
        ("unacknowledged incidents", Incident.objects.unacknowledged_since(now - timedelta(minutes=15))),
        ("due outbox rows", OutboxMessage.objects.filter(status="pending", next_attempt_at__lte=now)),
    ]:
        plan = queryset.explain()
        lines = [
            line.lstrip(" ->|`") for line in plan.splitlines() if any(w in line for w in ("Scan", "SCAN", "SEARCH"))
        ]
        scan = next((line for line in lines if "Index" in line or "INDEX" in line), lines[0] if lines else plan)
        print(f"  {label:<36} {scan[:100]}")


def bench_pages():
    """Server time and queries per page, with 100 busy incidents behind them."""
    from django.contrib.auth.models import Group
    from django.test import Client

    from incidents.models import Role

    print("pages: 100 incidents, each with a role, updates, notes and ticks (Django test client, no network)")
    actor = _actor()
    actor.groups.add(*Group.objects.filter(name__in=["Responders"]))
    sev = list(Severity.objects.order_by("level"))
    kind = IncidentType.objects.get(slug="trade-execution-failure")
    commander = Role.objects.get(slug="incident-commander")
    for n in range(100):
        incident = services.incident_declare(
            actor=actor, title=f"Bench {n}", severity=sev[n % 4], incident_type=kind, detection_source="alert"
        )
        services.role_assign(incident=incident, role=commander, user=actor, actor=actor)
        for i in range(5):
            services.status_update_post(incident=incident, actor=actor, audience="customers", body=f"Update {i}")
            services.timeline_add_note(incident=incident, actor=actor, text=f"Note {i}")
        services.checklist_item_set_done(item=incident.checklist.first(), actor=actor, done=True)
        if n % 3 == 0:
            services.incident_transition(incident=incident, action="acknowledge", actor=actor)
    client = Client()
    client.force_login(actor)
    for label, url in [
        ("dashboard", "/"),
        ("incident list", "/incidents/"),
        ("incident list, filtered and searched", "/incidents/?status=open&sort=severity&q=Bench"),
        ("incident page", incident.get_absolute_url()),
        ("incident history", incident.get_absolute_url() + "history/"),
        ("contacts", "/contacts/"),
        ("post-mortems", "/postmortems/"),
        ("public status page", "/status/"),
    ]:
        reset_queries()  # the log is a bounded deque; a full one would count nothing
        with CaptureQueriesContext(connection) as queries:
            status = client.get(url).status_code
        samples = _timed(lambda url=url: client.get(url), 20)
        _report(f"{label} ({status}, {len(queries)} queries)", samples)


ALL = [bench_declare, bench_outbox, bench_sweep_queries, bench_pages]
