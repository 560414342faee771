"""Declaring an incident: a fixed, small number of statements however long the runbook,
one history row per row written (with actor and reason), and distinct references when
many people declare at the same moment, on the real PostgreSQL."""

import re
import threading
from collections import Counter

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.actors import system_user
from incidents import services
from incidents.models import (
    ChecklistItem,
    Incident,
    IncidentType,
    ReferenceCounter,
    RunbookStep,
    Service,
    Severity,
    TimelineEntry,
)
from incidents.runbook_data import GENERAL_STEPS
from notifications.models import OutboxMessage
from portal.testing import report_figures

CLIENTS = 20


def declare(actor, incident_type, **extra):
    """Declared through the service with the executor as affected service, unless told otherwise."""
    if "services" not in extra:
        extra["services"] = [Service.objects.get(slug="executor")]
    if "severity" not in extra:
        extra["severity"] = Severity.objects.get(level=1)
    return services.incident_declare(
        actor=actor,
        title=extra.pop("title", "Trades failing"),
        incident_type=incident_type,
        detection_source=Incident.DetectionSource.USER_REPORT,
        **extra,
    )


def statements(captured) -> Counter:
    """Statements by kind and table ("INSERT incidents_checklistitem"), transaction control left out."""
    kinds = Counter()
    for query in captured:
        sql = query["sql"]
        while re.search(r"\([^()]*\)", sql):  # by its outer FROM: a subquery in the select list is not the table
            sql = re.sub(r"\([^()]*\)", "", sql)
        match = re.match(r'\s*(INSERT INTO|UPDATE|DELETE FROM|SELECT .*? FROM) "(\w+)"', sql, re.S)
        if match:
            kinds[f"{match.group(1).split()[0]} {match.group(2)}"] += 1
    return kinds


@pytest.fixture
def long_runbook(runbook):
    """An incident type whose runbook is four times the longest seeded one (test data, no history needed)."""
    kind = IncidentType.objects.create(slug="long-runbook", name="Long runbook")
    RunbookStep.objects.bulk_create(
        RunbookStep(incident_type=kind, kind=step_kind, position=n, text=f"Step {n}")
        for step_kind in RunbookStep.Kind.values
        for n in range(1, 21)
    )
    return kind


def test_declaring_runs_the_same_few_queries_whatever_the_runbook_length(responder, long_runbook, settings):
    settings.INCIDENT_EMAIL_LISTS = {1: ["sev1@example.com"], 2: [], 3: [], 4: []}
    short = IncidentType.objects.get(slug="other")
    declare(responder, short)  # the year's counter exists from here on, as it does all year long

    # As the form hands them over: already read.
    chosen = {"services": [Service.objects.get(slug="executor")], "severity": Severity.objects.get(level=1)}

    counts = {}
    for kind in (short, long_runbook):
        with CaptureQueriesContext(connection) as captured:
            incident = declare(responder, kind, **chosen)
        counts[kind.slug] = (len(captured), incident)

    (short_count, short_incident), (long_count, long_incident) = counts.values()
    report_figures("declare queries", steps_8=short_count, steps_60=long_count)
    assert short_incident.checklist.count() == len(GENERAL_STEPS) + 8
    assert long_incident.checklist.count() == len(GENERAL_STEPS) + 20 * len(RunbookStep.Kind.values)
    assert short_count == long_count
    # The runbook; the number (savepoint, lock, update, history); the declaration's savepoint, the incident and
    # its history, its service link and that link's history, the checklist and its history, the first timeline
    # entry and its history; the notice (the outbox's get_or_create: read, savepoint, insert, history, release);
    # releases; the report obligations that apply (regulatory). Inside a test's transaction the two transactions
    # are savepoints, counted here.
    assert short_count == 22


def test_declaring_writes_each_table_once_and_reads_nothing_back(responder, long_runbook, settings):
    settings.INCIDENT_EMAIL_LISTS = {1: ["sev1@example.com"], 2: [], 3: [], 4: []}
    declare(responder, long_runbook)

    chosen = {"services": [Service.objects.get(slug="executor")], "severity": Severity.objects.get(level=1)}

    with CaptureQueriesContext(connection) as captured:
        declare(responder, long_runbook, **chosen)

    kinds = statements(captured)
    writes = {kind: n for kind, n in kinds.items() if not kind.startswith("SELECT")}
    assert writes == {
        "UPDATE incidents_referencecounter": 1,
        "INSERT incidents_historicalreferencecounter": 1,
        "INSERT incidents_incident": 1,
        "INSERT incidents_historicalincident": 1,
        "INSERT incidents_incident_services": 1,
        "INSERT incidents_historicalincident_services": 1,
        "INSERT incidents_checklistitem": 1,
        "INSERT incidents_historicalchecklistitem": 1,
        "INSERT incidents_timelineentry": 1,
        "INSERT incidents_historicaltimelineentry": 1,
        "INSERT notifications_outboxmessage": 1,
        "INSERT notifications_historicaloutboxmessage": 1,
    }
    reads = {kind: n for kind, n in kinds.items() if kind.startswith("SELECT")}
    # The runbook, the counter row (locked), and the outbox's check for an earlier copy of the notice.
    assert reads == {
        "SELECT incidents_runbookstep": 1,
        "SELECT incidents_referencecounter": 1,
        "SELECT notifications_outboxmessage": 1,
        # The report obligations that apply (regulatory, through the incident_declared event).
        "SELECT regulatory_reportobligation": 1,
    }


def test_every_row_of_a_declaration_has_one_history_row_with_actor_and_reason(responder):
    executor = Service.objects.get(slug="executor")

    incident = declare(responder, IncidentType.objects.get(slug="trade-execution-failure"), services=[executor])

    [created] = incident.history.all()
    assert (created.history_type, created.history_user, created.history_change_reason) == (
        "+",
        responder,
        "Incident declared",
    )
    assert created.reference == incident.reference
    assert [link.service for link in created.services.all()] == [executor]  # its services, on that one row
    assert list(incident.services.all()) == [executor]
    items = ChecklistItem.history.filter(incident_id=incident.pk)
    assert items.count() == incident.checklist.count() == len(GENERAL_STEPS) + 13
    # The steps the portal performed while declaring start ticked by it, their one row saying so.
    portal = system_user().pk
    assert set(items.values_list("history_type", "history_user", "history_change_reason")) == {
        ("+", responder.pk, "Incident declared"),
        ("+", portal, "Incident declared; done by the portal: The incident ticket is created"),
        ("+", portal, "Incident declared; done by the portal: A responder is assigned"),
    }
    entry = TimelineEntry.history.get(incident_id=incident.pk)
    assert (entry.history_user, entry.history_change_reason) == (responder, "Incident declared")
    counter = ReferenceCounter.objects.get(year=incident.detected_at.year)
    latest = counter.history.first()
    assert (latest.last_number, latest.history_user, latest.history_change_reason) == (
        int(incident.reference.rsplit("-", 1)[1]),
        responder,
        "Incident declared",
    )


def _race(clients: int, work) -> tuple[list, list]:
    """Run `work()` in `clients` threads released together; each thread has its own connection."""
    barrier = threading.Barrier(clients)
    results, errors = [], []

    def run():
        try:
            barrier.wait()
            results.append(work())
        except Exception as exc:  # noqa: BLE001 - collected and asserted by the caller
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("counter_exists", [False, True], ids=["first-of-the-year", "counter-row-exists"])
def test_concurrent_declarations_get_distinct_references(runbook, counter_exists):
    """The counter row's lock serialises the numbers: no duplicate, no error, and no gap when nothing fails.
    Without a counter row yet, the declarations also race to create it."""
    if connection.vendor != "postgresql":
        pytest.fail("Concurrency needs PostgreSQL (make test sets DATABASE_URL).")
    year = timezone.now().year
    if counter_exists:
        ReferenceCounter.objects.create(year=year, last_number=41)
    first = 42 if counter_exists else 1
    actor = get_user_model().objects.create_user("racer")
    kind = IncidentType.objects.get(slug="trade-execution-failure")

    references, errors = _race(CLIENTS, lambda: declare(actor, kind).reference)

    assert errors == []
    assert sorted(references) == [f"INC-{year}-{n:04d}" for n in range(first, first + CLIENTS)]
    assert ReferenceCounter.objects.get(year=year).last_number == first + CLIENTS - 1
    assert ChecklistItem.objects.count() == ChecklistItem.history.count() == (len(GENERAL_STEPS) + 13) * CLIENTS


@pytest.mark.django_db(transaction=True)
def test_twenty_people_declaring_through_the_form_at_once_all_succeed(runbook, settings):
    settings.INCIDENT_EMAIL_LISTS = {2: ["sev2@example.com"]}
    if connection.vendor != "postgresql":
        pytest.fail("Concurrency needs PostgreSQL (make test sets DATABASE_URL).")
    from django.contrib.auth.models import Group

    responders = Group.objects.get(name="Responders")
    users = []
    for n in range(CLIENTS):
        user = get_user_model().objects.create_user(f"responder{n}")
        user.groups.add(responders)
        users.append(user)
    form = {
        "title": "Executor failing",
        "severity": Severity.objects.get(level=2).pk,
        "incident_type": IncidentType.objects.get(slug="trade-execution-failure").pk,
        "detection_source": Incident.DetectionSource.USER_REPORT,
        "services": [Service.objects.get(slug="executor").pk],
    }
    browsers = []
    for user in users:
        browser = Client()
        browser.force_login(user)
        browsers.append(browser)
    pending = list(browsers)

    def post():
        response = pending.pop().post("/incidents/new/", form)
        return response.status_code, response.headers.get("Location", "")

    outcomes, errors = _race(CLIENTS, post)

    assert errors == []
    assert [status for status, _ in outcomes] == [302] * CLIENTS
    assert len({location for _, location in outcomes}) == CLIENTS
    assert Incident.objects.count() == CLIENTS
    assert set(Incident.objects.values_list("initial_responder", flat=True)) == {user.pk for user in users}
    assert set(OutboxMessage.objects.values_list("key", flat=True)) == {
        f"incident-declared:{pk}:email" for pk in Incident.objects.values_list("pk", flat=True)
    }
