"""`bench.load.populate` fills a database with a firm's data at any scale: here a tiny one, on the test
database, as tests that want realistic plan statistics will call it. The database checks every row as it
goes in (unique and check constraints) or when the foreign keys are put back, so a load that breaks a
rule fails here."""

import re

import pytest
from django.apps import apps
from django.db import connection

from bench.load import STAFF, Counts, populate
from incidents import services
from incidents.models import Incident, IncidentType, ReferenceCounter, Severity, TimelineEntry
from notifications.models import OutboxMessage
from postmortems.models import ActionItem, Milestone, PostMortem, Reminder

SCALE = 0.002  # 200 incidents, 2,000 timeline entries


def _schema() -> tuple[set, set]:
    """The indexes (name, table, definition without its WHERE: PostgreSQL prints a partial index's
    predicate differently once it has parsed it again) and the constraints, in full."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, tablename, split_part(indexdef, ' WHERE ', 1), indexdef LIKE '% WHERE %'"
            " FROM pg_indexes WHERE schemaname = 'public'"
        )
        indexes = set(cursor.fetchall())
        cursor.execute("SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint")
        constraints = set(cursor.fetchall())
    return indexes, constraints


def _history_rows() -> int:
    return sum(model.objects.count() for model in apps.get_models() if "_historical" in model._meta.db_table)


@pytest.mark.django_db
def test_populate_fills_every_table_in_proportion_and_leaves_the_schema_as_it_was(runbook, django_user_model):
    users_before, schema_before, history_before = django_user_model.objects.count(), _schema(), _history_rows()

    facts = populate(connection, SCALE, progress=lambda line: None)

    counts = Counts.at(SCALE)
    assert counts.incidents == 200
    assert Incident.objects.count() == counts.incidents
    assert Incident.objects.open().count() == counts.open
    assert Incident.objects.filter(status=Incident.Status.CLOSED).count() > counts.incidents * 0.8
    assert TimelineEntry.objects.count() == counts.timeline
    assert Incident.objects.get(reference=facts["big_incident"]).timeline.count() >= counts.big_timeline
    assert PostMortem.objects.count() == counts.incidents
    assert Milestone.objects.count() == 3 * counts.incidents
    assert ActionItem.objects.count() == counts.action_items
    assert Reminder.objects.count() == 3 * (Milestone.objects.count() + ActionItem.objects.count())
    # A queued reminder's email is in the outbox under the key the sweep gives it; nothing waits to be sent.
    queued = Reminder.objects.filter(status=Reminder.Status.QUEUED).select_related("outbox_message")
    assert queued.exists()
    assert all(reminder.outbox_message.key == reminder.outbox_key for reminder in queued)
    assert not OutboxMessage.objects.filter(status=OutboxMessage.Status.PENDING).exists()
    assert django_user_model.objects.count() == users_before + STAFF
    # Twelve million history rows at scale 1 (every checklist carries the runbook's general steps).
    assert 0.8 * 12_000_000 * SCALE < _history_rows() - history_before < 1.25 * 12_000_000 * SCALE
    # "gateway" is in a fifth of the titles: a search that matches many rows, not all.
    assert 0.1 < Incident.objects.filter(title__icontains="gateway").count() / counts.incidents < 0.35
    # The indexes and foreign keys taken off for the load are back, and the foreign keys held when added.
    assert _schema() == schema_before


@pytest.mark.django_db
def test_references_follow_the_year_counters_and_declarations_continue_them(runbook, responder):
    populate(connection, SCALE, history=False, progress=lambda line: None)
    for counter in ReferenceCounter.objects.all():
        references = Incident.objects.filter(reference__startswith=f"INC-{counter.year}-")
        numbers = [int(r.rsplit("-", 1)[1]) for r in references.values_list("reference", flat=True)]
        assert counter.last_number == max(numbers) == len(numbers)
    assert all(re.fullmatch(r"INC-\d{4}-\d{4,}", r) for r in Incident.objects.values_list("reference", flat=True))

    incident = services.incident_declare(
        actor=responder,
        title="After the load",
        severity=Severity.objects.get(level=3),
        incident_type=IncidentType.objects.get(slug="other"),
        detection_source=Incident.DetectionSource.USER_REPORT,
    )

    counter = ReferenceCounter.objects.get(year=incident.detected_at.year)
    assert incident.reference == f"INC-{counter.year}-{counter.last_number:04d}"
    assert Incident.objects.filter(reference__startswith=f"INC-{counter.year}-").count() == counter.last_number

    # A second load appends: its references carry on after the first load's and the declaration's.
    populate(connection, SCALE, history=False, progress=lambda line: None)
    assert Incident.objects.count() == 2 * Counts.at(SCALE).incidents + 1
    assert Incident.objects.values("reference").distinct().count() == Incident.objects.count()
