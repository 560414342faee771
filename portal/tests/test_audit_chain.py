"""The audit chain: every history row sealed at commit, and `verify_audit` finding the first row changed,
deleted or slipped in with SQL. Transactional tests throughout: the rows are sealed when their
transaction commits, which a test inside the usual rolled-back transaction never does."""

import logging
import os
import re
import subprocess
import sys
import threading
from datetime import timedelta
from io import StringIO

import psycopg
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from audit import chain, tasks
from audit.actors import acting_as
from audit.apps import every_history_is_chained
from audit.models import ChainCheckpoint, ChainHead, ChainTable
from incidents import services
from incidents.models import Contact, Incident, IncidentType, Role, Service, Severity, TimelineEntry
from portal.testing import wait_until
from statuspage import services as statuspage_services

pytestmark = pytest.mark.django_db(transaction=True)

TIMELINE = "incidents_historicaltimelineentry"
CLIENTS = 20


@pytest.fixture(autouse=True)
def _postgresql():
    if connection.vendor != "postgresql":
        pytest.fail("The audit chain needs PostgreSQL (make test sets DATABASE_URL).")


def verify(*args) -> tuple[int, str]:
    """verify_audit's exit status and what it printed."""
    out, err = StringIO(), StringIO()
    try:
        call_command("verify_audit", *args, stdout=out, stderr=err)
    except CommandError as exc:
        return exc.returncode, str(exc)
    return 0, out.getvalue() + err.getvalue()


def sql(statement: str, params=None):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else None


def history_rows() -> int:
    return sum(model.objects.count() for model in chain.chained_models())


def sealed_places() -> list[int]:
    return sorted(seq for model in chain.chained_models() for seq in model.objects.values_list("audit_seq", flat=True))


def declare(actor, title="Executor failing to land trades") -> Incident:
    return services.incident_declare(
        actor=actor,
        title=title,
        severity=Severity.objects.get(level=2),
        incident_type=IncidentType.objects.get(slug="trade-execution-failure"),
        detection_source=Incident.DetectionSource.ALERT,
        services=Service.objects.filter(slug="executor"),
    )


def copy_history_row(table: str, history_id: int, *, replica: bool, **overrides) -> int:
    """Insert a copy of a history row with SQL (as someone at the database would), returning its history_id."""
    columns = [
        name
        for (name,) in sql(
            "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
            [table],
        )
        if name not in ("history_id", "audit_seq", "audit_hash", *overrides)
    ]
    names = ", ".join(connection.ops.quote_name(c) for c in [*columns, *overrides])
    values = ", ".join([connection.ops.quote_name(c) for c in columns] + ["%s"] * len(overrides))
    with transaction.atomic(), connection.cursor() as cursor:
        if replica:
            cursor.execute("SET LOCAL session_replication_role = replica")  # triggers off, as pg_restore does
        cursor.execute(
            f"INSERT INTO {table} ({names}) SELECT {values} FROM {table} WHERE history_id = %s RETURNING history_id",  # noqa: S608
            [*overrides.values(), history_id],
        )
        return cursor.fetchone()[0]


def test_service_writes_across_models_leave_an_intact_gapless_chain(runbook, responder, other_responder):
    incident = declare(responder)
    services.incident_transition(incident=incident, action="acknowledge", actor=responder)
    services.timeline_add_note(incident=incident, actor=responder, text="Executor queue backed up")
    services.role_assign(
        incident=incident, role=Role.objects.get(slug="technical-lead"), user=other_responder, actor=responder
    )
    services.incident_transition(incident=incident, action="resolve", actor=responder, note="Trades land again")

    rows = history_rows()
    code, out = verify()

    assert code == 0, out
    assert re.fullmatch(rf"{rows} rows in \d+ tables verified, head seq {rows}\n", out)
    # Every history row of every kind has a place, 1..n without a gap, and the head is at the last.
    assert sealed_places() == list(range(1, rows + 1))
    assert ChainHead.objects.get().seq == rows
    tables = set(ChainTable.objects.values_list("table_name", flat=True))
    assert {
        TIMELINE,
        "incidents_historicalincident",
        "incidents_historicalincident_services",
        "incidents_historicalchecklistitem",
        "postmortems_historicalpostmortem",
        "notifications_historicaloutboxmessage",
        "people_historicaluser",
        "audit_historicalgroup_permissions",
    } <= tables


def test_a_history_row_changed_with_sql_is_named(runbook, responder):
    incident = declare(responder)
    entry = TimelineEntry.history.get(incident_id=incident.pk)

    sql(f"UPDATE {TIMELINE} SET text = 'Nothing happened' WHERE history_id = %s", [entry.history_id])  # noqa: S608
    code, message = verify()

    assert code == 1
    assert (
        f"changed: {TIMELINE} history_id={entry.history_id}, seq {entry.audit_seq}: its hash does not match" in message
    )


def test_a_row_deleted_from_the_middle_leaves_a_gap_that_is_reported(runbook, responder):
    incident = declare(responder)
    record = Incident.history.get(id=incident.pk)
    following = [
        (model._meta.db_table, row.pk)
        for model in chain.chained_models()
        for row in model.objects.filter(audit_seq=record.audit_seq + 1)
    ]

    sql("DELETE FROM incidents_historicalincident WHERE history_id = %s", [record.history_id])
    code, message = verify()

    assert code == 1
    [(table, pk)] = following
    assert f"deleted: {table} " in message and f"={pk}, seq {record.audit_seq + 1}:" in message
    assert f"the rows at seq {record.audit_seq}, before this row, are missing" in message


def test_a_row_inserted_with_the_trigger_off_is_reported_as_out_of_band(runbook, responder):
    incident = declare(responder)
    entry = TimelineEntry.history.get(incident_id=incident.pk)

    forged = copy_history_row(TIMELINE, entry.history_id, replica=True, text="Rollback approved by the CTO")
    code, message = verify()

    assert code == 1
    assert f"out of band: {TIMELINE} history_id={forged}: it has no place in the chain" in message

    # Known to be genuine (a database from before the chain, a bench load), such rows can be taken in.
    out = StringIO()
    call_command("seal_unchained_history", stdout=out)
    assert f"{TIMELINE}: 1 rows sealed" in out.getvalue()
    assert verify()[0] == 0


def test_rows_inserted_with_a_forged_place_do_not_verify(runbook, responder):
    incident = declare(responder)
    entry = TimelineEntry.history.get(incident_id=incident.pk)
    head = ChainHead.objects.get()

    past_head = copy_history_row(TIMELINE, entry.history_id, replica=True, audit_seq=head.seq + 1, audit_hash="0" * 64)
    code, message = verify()
    assert code == 1
    assert (
        f"out of band: {TIMELINE} history_id={past_head}, seq {head.seq + 1}: its place is past the chain's head"
        in (message)
    )

    sql(f"DELETE FROM {TIMELINE} WHERE history_id = %s", [past_head])  # noqa: S608
    record = Incident.history.get(id=incident.pk)
    # The incident's first row's place again, on a copy in another table.
    copy_history_row(TIMELINE, entry.history_id, replica=True, audit_seq=record.audit_seq, audit_hash=record.audit_hash)
    code, message = verify()
    assert code == 1
    assert "duplicate: " in message and f"seq {record.audit_seq}: more than one row has this place" in message
    assert f"incidents_historicalincident history_id={record.history_id}" in message


def test_a_session_without_the_key_cannot_write_history(runbook):
    settings_dict = connection.settings_dict
    before = history_rows()
    columns = ", ".join(
        f.column for f in Severity.history.model._meta.concrete_fields if f.column not in ("history_id", "audit_seq")
    )
    with (
        psycopg.connect(
            dbname=settings_dict["NAME"],
            user=settings_dict["USER"],
            host=settings_dict["HOST"],
            port=settings_dict["PORT"] or 5432,
            autocommit=True,
        ) as outsider,
        pytest.raises(psycopg.errors.InsufficientPrivilege, match="written through the portal only"),
    ):
        outsider.execute(
            f"INSERT INTO incidents_historicalseverity ({columns}) "  # noqa: S608
            f"SELECT {columns} FROM incidents_historicalseverity LIMIT 1"
        )
    assert history_rows() == before
    assert verify()[0] == 0


def test_the_key_reaches_each_session_as_a_bound_parameter(transactional_db):
    opened, checked = threading.Event(), threading.Event()
    seen = {}

    def new_connection():
        try:
            connection.ensure_connection()  # this thread's own connection: connection_created runs now
            seen["pid"] = connection.connection.info.backend_pid
            opened.set()
            checked.wait(20)
        finally:
            connection.close()

    thread = threading.Thread(target=new_connection)
    thread.start()
    assert opened.wait(20)
    try:
        [(query,)] = sql("SELECT query FROM pg_stat_activity WHERE pid = %s", [seen["pid"]])
    finally:
        checked.set()
        thread.join()

    assert query == "SELECT set_config('portal.audit_key', $1, false)"
    assert chain.chain_key() not in query
    assert sql("SELECT current_setting('portal.audit_key')") == [(chain.chain_key(),)]


def test_a_cut_tail_with_the_head_rewound_is_found_through_the_checkpoint(runbook, responder, caplog):
    declare(responder)
    with caplog.at_level(logging.INFO, logger="audit.chain"):
        assert tasks.record_checkpoint() == ChainHead.objects.get().seq
    head = ChainHead.objects.get()
    # A copy outside the database: the log line.
    assert f"audit chain checkpoint seq={head.seq} hash={head.hash}" in caplog.text

    cut = head.seq - 3
    for model in chain.chained_models():
        model.objects.filter(audit_seq__gt=cut).delete()  # as raw a DELETE as any: history rows have no signals
    code, message = verify()
    assert code == 1
    assert f"deleted: seq {cut + 1}: the chain ends at seq {cut}, but its head is at seq {head.seq}" in message

    # Whoever cut the tail sets the head back too: the chain is consistent again, but shorter than the checkpoint.
    [hash_at_cut] = [row.audit_hash for m in chain.chained_models() for row in m.objects.filter(audit_seq=cut)]
    sql("UPDATE audit_chainhead SET seq = %s, hash = %s", [cut, hash_at_cut])
    code, message = verify()
    assert code == 1
    assert f"truncated: seq {head.seq}: the chain ends at seq {cut}, but a checkpoint (recorded " in message
    assert f"has its head at seq {head.seq}" in message

    # With the checkpoint row deleted as well, the copy kept elsewhere still finds it.
    ChainCheckpoint.objects.all().delete()
    assert verify()[0] == 0
    code, message = verify("--checkpoint", f"{head.seq}:{head.hash}")
    assert code == 1 and "truncated:" in message and "given on the command line" in message


def test_a_chain_rewritten_with_the_key_is_found_through_the_checkpoint(runbook, responder):
    incident = declare(responder)
    tasks.record_checkpoint()
    head = ChainHead.objects.get()
    entry = TimelineEntry.history.get(incident_id=incident.pk)
    [before] = [row for m in chain.chained_models() for row in m.objects.filter(audit_seq=entry.audit_seq - 1)]

    # Someone holding the key changes a row and seals it and every later row again, the head set back first.
    sql(f"UPDATE {TIMELINE} SET text = 'Nothing happened' WHERE history_id = %s", [entry.history_id])  # noqa: S608
    for model in chain.chained_models():
        model.objects.filter(audit_seq__gte=entry.audit_seq).update(audit_seq=None, audit_hash="")
    sql("UPDATE audit_chainhead SET seq = %s, hash = %s", [before.audit_seq, before.audit_hash])
    assert sum(chain.seal_unchained().values()) == head.seq - entry.audit_seq + 1

    code, message = verify()
    assert code == 1
    assert "rewritten: " in message and f"seq {head.seq}: a checkpoint (recorded " in message
    assert f"recorded hash {head.hash} for this place" in message


def test_recording_the_checkpoint_twice_at_once_records_it_once(runbook):
    barrier = threading.Barrier(2)
    results, errors = [], []

    def record():
        try:
            barrier.wait()
            results.append(tasks.record_checkpoint())
        except Exception as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=record) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    head = ChainHead.objects.get()
    assert results == [head.seq, head.seq]
    assert list(ChainCheckpoint.objects.values_list("seq", "hash")) == [(head.seq, head.hash)]


@pytest.mark.worker
def test_the_daily_checkpoint_runs_on_a_real_worker(celery_worker, runbook, responder):
    declare(responder)
    head = ChainHead.objects.get()
    assert settings.CELERY_BEAT_SCHEDULE["record-audit-checkpoint"] == {
        "task": tasks.record_checkpoint.name,
        "schedule": timedelta(days=1),
    }

    tasks.record_checkpoint.delay()

    checkpoint = wait_until(lambda: ChainCheckpoint.objects.filter(seq=head.seq).first())
    assert checkpoint.hash == head.hash


def _race(work) -> list:
    barrier = threading.Barrier(CLIENTS)
    errors = []

    def run(n):
        try:
            barrier.wait()
            work(n)
        except Exception as exc:  # noqa: BLE001 - asserted by the caller
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_twenty_writers_at_once_all_commit_and_the_chain_holds(runbook):
    actors = [get_user_model().objects.create_user(f"writer{n}") for n in range(CLIENTS)]
    shared = declare(actors[0], "Shared incident")

    def work(n):
        declare(actors[n], f"Incident {n}")
        services.timeline_add_note(incident=shared, actor=actors[n], text=f"Note {n}")

    errors = _race(work)

    assert errors == []
    assert Incident.objects.count() == CLIENTS + 1
    assert TimelineEntry.objects.filter(incident=shared, kind=TimelineEntry.Kind.NOTE).count() == CLIENTS
    rows = history_rows()
    assert sealed_places() == list(range(1, rows + 1))
    code, out = verify()
    assert code == 0, out


def test_a_commit_waiting_for_a_row_lock_does_not_hold_the_chain(runbook, responder):
    """The chain's lock is taken after the commit's foreign-key checks: sealing first would deadlock here,
    a commit holding the head while its check waits for an incident another transaction has locked
    FOR UPDATE, and that transaction's commit waiting for the head."""
    incident = declare(responder)
    contact = Contact.objects.get(name="CTO")
    locked, writer_committing = threading.Event(), threading.Event()
    writer_pid, errors = {}, []

    def holder():
        try:
            with transaction.atomic():
                Incident.objects.select_for_update().get(pk=incident.pk)
                services.timeline_add_note(incident=incident, actor=responder, text="Holding the incident")
                locked.set()
                assert writer_committing.wait(20)
        except Exception as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)
        finally:
            connection.close()

    def writer():
        try:
            assert locked.wait(20)
            with transaction.atomic(), acting_as(responder, "Test"):
                contact.notes = "Call first"
                contact.save()  # a history row, queued before the entry's foreign-key check
                TimelineEntry.objects.create(incident_id=incident.pk, kind="note", text="Meanwhile", author=responder)
                writer_pid["pid"] = connection.connection.info.backend_pid
            # Committed: its foreign-key check waited for the holder's lock, then it sealed.
        except Exception as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=holder), threading.Thread(target=writer)]
    for thread in threads:
        thread.start()
    try:
        # The writer's commit is waiting on the incident's row lock (its deferred foreign-key check).
        wait_until(
            lambda: (
                writer_pid
                and sql("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [writer_pid["pid"]])
                == [("Lock",)]
            )
        )
    finally:
        writer_committing.set()
        for thread in threads:
            thread.join()

    assert errors == []
    assert TimelineEntry.objects.filter(incident=incident, text__in=["Holding the incident", "Meanwhile"]).count() == 2
    assert verify()[0] == 0


def test_erasing_an_unsubscribed_address_from_history_keeps_the_chain_intact(runbook):
    subscriber = statuspage_services.subscriber_subscribe(email="reader@example.com")
    statuspage_services.subscriber_confirm(subscriber=subscriber)

    statuspage_services.subscriber_unsubscribe(subscriber=subscriber)

    assert not subscriber.history.filter(email__isnull=False).exists()
    code, out = verify()
    assert code == 0, out


@pytest.fixture
def scratch_history():
    """A history table of its own with the chain's trigger, free to be altered (the portal's are not)."""
    sql(
        "CREATE TABLE audit_test_history (history_id serial PRIMARY KEY, audit_seq bigint UNIQUE,"
        " audit_hash varchar(64) NOT NULL DEFAULT '', note text NOT NULL, amount integer)"
    )
    sql(
        "CREATE CONSTRAINT TRIGGER audit_chain_collect AFTER INSERT ON audit_test_history"
        " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_chain_collect('history_id')"
    )
    yield
    sql("DROP TABLE IF EXISTS audit_test_history, audit_test_history_renamed")


def _write(table, note, **columns):
    names = ", ".join(["note", *columns])
    with transaction.atomic():
        sql(
            f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * (1 + len(columns)))})",  # noqa: S608
            [note, *columns.values()],
        )


def test_rows_are_checked_on_the_columns_they_were_sealed_with_as_the_table_changes(scratch_history):
    _write("audit_test_history", "first", amount=1)
    _write("audit_test_history", "second", amount=2)
    assert verify()[0] == 0

    # A migration adds a column with a default: older rows now show it, but their hashes never covered it.
    sql("ALTER TABLE audit_test_history ADD COLUMN extra integer NOT NULL DEFAULT 7")
    _write("audit_test_history", "third", amount=3, extra=8)
    assert verify()[0] == 0
    sql("UPDATE audit_test_history SET extra = 9 WHERE note = 'third'")
    code, message = verify()
    assert code == 1 and "changed: audit_test_history history_id=3" in message
    sql("UPDATE audit_test_history SET extra = 8 WHERE note = 'third'")

    # Renamed (a model moving between apps): its rows keep verifying under the name they were sealed with.
    sql("ALTER TABLE audit_test_history RENAME TO audit_test_history_renamed")
    _write("audit_test_history_renamed", "fourth", amount=4)
    assert verify()[0] == 0
    sql("UPDATE audit_test_history_renamed SET note = 'forged' WHERE note = 'first'")
    code, message = verify()
    assert code == 1 and "changed: audit_test_history_renamed history_id=1" in message
    sql("UPDATE audit_test_history_renamed SET note = 'first' WHERE note = 'forged'")

    # A dropped column takes part of the older rows' content with it: they can no longer be checked.
    sql("ALTER TABLE audit_test_history_renamed DROP COLUMN amount")
    _write("audit_test_history_renamed", "fifth")
    code, message = verify()
    assert code == 1
    assert "unverifiable: audit_test_history_renamed history_id=1" in message and "column(s) amount" in message
    code, out = verify("--allow-dropped-columns")
    assert code == 0, out
    assert "Warning: rows sealed with since-dropped columns (audit_test_history_renamed.amount)" in out


def test_every_history_model_is_chained():
    assert every_history_is_chained() == []


def test_verify_audit_exits_non_zero_from_the_command_line(runbook, responder):
    incident = declare(responder)
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {**os.environ, "DATABASE_URL": url}
    command = [sys.executable, "manage.py", "verify_audit"]

    intact = subprocess.run(command, cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=120)
    assert intact.returncode == 0, intact.stderr
    assert intact.stdout.strip().endswith(f"head seq {ChainHead.objects.get().seq}")

    entry = TimelineEntry.history.get(incident_id=incident.pk)
    sql(f"UPDATE {TIMELINE} SET text = 'Nothing happened' WHERE history_id = %s", [entry.history_id])  # noqa: S608
    broken = subprocess.run(command, cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=120)
    assert broken.returncode == 1
    assert f"Audit chain broken: changed: {TIMELINE} history_id={entry.history_id}" in broken.stderr
