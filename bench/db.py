"""The bench's own PostgreSQL database: created, migrated and loaded once, reused while the scale, the
migrations and the loader are unchanged, and put back after every run.

`bench_meta` holds the marker (scale, a hash of the migrations on disk, a hash of bench/load.py) written
when a load completes, and, during a run, the checkpoint: the highest id of every table and copies of the
rows the run will change. `restore()` deletes what was added after the checkpoint and copies the rows
back, so the next run measures the same data. A run that dies leaves the checkpoint behind, and the next
run restores it before anything else.
"""

import hashlib
import json
import sys
import time
from pathlib import Path

import psycopg
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.db.migrations.loader import MigrationLoader
from psycopg import sql

from . import load

META = "bench_meta"
SNAPSHOT_PREFIX = "bench_snapshot_"


def _fingerprint(paths) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(f"{path.parent.parent.name}/{path.name}".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def marker(scale: float) -> dict:
    """What the loaded data depends on: a change to any of it means a fresh database."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    files = [Path(sys.modules[type(m).__module__].__file__) for m in loader.disk_migrations.values()]
    return {
        "scale": scale,
        "migrations": _fingerprint(files),
        "loader": _fingerprint([Path(load.__file__)]),
    }


def _maintenance(database_url_parts: dict) -> psycopg.Connection:
    return psycopg.connect(**{**database_url_parts, "dbname": "postgres"}, autocommit=True)


def _conninfo() -> dict:
    settings_dict = connection.settings_dict
    return {
        "host": settings_dict["HOST"] or None,
        "port": settings_dict["PORT"] or None,
        "user": settings_dict["USER"] or None,
        "password": settings_dict["PASSWORD"] or None,
        "dbname": settings_dict["NAME"],
    }


def read_meta(key: str):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT to_regclass('{META}') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return None
        cursor.execute(f"SELECT value FROM {META} WHERE key = %s", [key])  # noqa: S608 - a constant
        row = cursor.fetchone()
    return None if row is None else json.loads(row[0]) if isinstance(row[0], str) else row[0]


def write_meta(key: str, value) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {META} (key text PRIMARY KEY, value jsonb NOT NULL)")
        cursor.execute(
            f"INSERT INTO {META} (key, value) VALUES (%s, %s::jsonb)"  # noqa: S608 - a constant
            " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            [key, json.dumps(value)],
        )


def ensure(scale: float, progress=print) -> dict:
    """The bench database at `scale`, loaded (or reused). Returns the load's facts and how long it took."""
    info = _conninfo()
    name = info["dbname"]
    with _maintenance(info) as maintenance:
        exists = maintenance.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
    wanted = marker(scale)
    if exists and read_meta("marker") == wanted:
        restore(progress)
        facts = read_meta("facts")
        progress(f"Reusing database {name} (scale {scale}, loaded {facts['loaded_at']} in {facts['load_seconds']} s)")
        return {**facts, "reused": True}
    progress(
        f"Creating database {name} at scale {scale}" + (" (scale, migrations or loader changed)" if exists else "")
    )
    started = time.perf_counter()
    connections.close_all()
    with _maintenance(info) as maintenance:
        maintenance.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        maintenance.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    call_command("migrate", verbosity=0, interactive=False)
    migrated = time.perf_counter()
    progress(f"  migrate {migrated - started:.1f} s")
    facts = load.populate(connection, scale, progress=progress)
    vacuum_started = time.perf_counter()
    with connection.cursor() as cursor:
        # As autovacuum leaves a table in production (hint bits and visibility map set, so the first runs'
        # reads do not write, and index-only scans skip the heap). populate() has analysed it.
        cursor.execute("VACUUM")
    progress(f"  {'VACUUM':<52} {'':>15} {time.perf_counter() - vacuum_started:7.1f} s")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        size = cursor.fetchone()[0]
    facts.update(
        load_seconds=round(time.perf_counter() - started, 1),
        migrate_seconds=round(migrated - started, 1),
        loaded_at=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        size=size,
    )
    write_meta("facts", facts)
    write_meta("marker", wanted)
    progress(f"Loaded in {facts['load_seconds']} s: {facts['history_rows']:,} history rows, {size}")
    return {**facts, "reused": False}


# --- putting the data back after a run ---------------------------------------------------------------------


def _id_tables(cursor) -> dict[str, str]:
    """{table: primary-key column} for every table whose key is one integer column (new rows get higher ones)."""
    cursor.execute(
        """
        SELECT c.relname, a.attname
        FROM pg_index i
        JOIN pg_class c ON c.oid = i.indrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0]
        WHERE i.indisprimary AND i.indnatts = 1 AND a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype)
          AND c.relname NOT LIKE 'bench\\_%%'
        """
    )
    return dict(cursor.fetchall())


def checkpoint() -> None:
    """Remember the highest id of every table, so that restore() can delete whatever a run adds."""
    with connection.cursor() as cursor:
        tables = _id_tables(cursor)
        highest = {}
        for table, column in tables.items():
            cursor.execute(
                sql.SQL("SELECT COALESCE(max({}), 0) FROM {}").format(sql.Identifier(column), sql.Identifier(table))
            )
            highest[table] = [column, cursor.fetchone()[0]]
    write_meta("checkpoint", {"tables": highest, "snapshots": []})


def snapshot(table: str, where: str, params=()) -> int:
    """Keep a copy of the rows of `table` matching `where` (SQL) before a run changes them in place."""
    state = read_meta("checkpoint")
    copy = SNAPSHOT_PREFIX + table
    with connection.cursor() as cursor:
        if table not in state["snapshots"]:
            cursor.execute(
                sql.SQL("CREATE TABLE {} AS SELECT * FROM {} WITH NO DATA").format(
                    sql.Identifier(copy), sql.Identifier(table)
                )
            )
            state["snapshots"].append(table)
            write_meta("checkpoint", state)
        cursor.execute(
            sql.SQL(
                "INSERT INTO {copy} SELECT * FROM {table} t WHERE ({where}) AND t.id NOT IN (SELECT id FROM {copy})"
            ).format(copy=sql.Identifier(copy), table=sql.Identifier(table), where=sql.SQL(where)),
            params,
        )
        return cursor.rowcount


def restore(progress=print) -> None:
    """Undo a run: delete rows added since the checkpoint and copy the changed rows back, in one transaction."""
    state = read_meta("checkpoint")
    if state is None:
        return
    started = time.perf_counter()
    deleted = 0
    with transaction.atomic(), connection.cursor() as cursor:
        for table, (column, highest) in state["tables"].items():
            cursor.execute(
                sql.SQL("DELETE FROM {} WHERE {} > %s").format(sql.Identifier(table), sql.Identifier(column)),
                [highest],
            )
            deleted += cursor.rowcount
        for table in state["snapshots"]:
            copy = SNAPSHOT_PREFIX + table
            cursor.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped"
                " AND attname <> 'id' ORDER BY attnum",
                [table],
            )
            columns = [sql.Identifier(row[0]) for row in cursor.fetchall()]
            cursor.execute(
                sql.SQL("UPDATE {table} t SET ({columns}) = ({values}) FROM {copy} s WHERE t.id = s.id").format(
                    table=sql.Identifier(table),
                    copy=sql.Identifier(copy),
                    columns=sql.SQL(", ").join(columns),
                    values=sql.SQL(", ").join(sql.SQL("s.") + c for c in columns),
                )
            )
            cursor.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(copy)))
        cursor.execute("DELETE FROM django_session")  # the run's sign-ins
        cursor.execute(f"DELETE FROM {META} WHERE key = 'checkpoint'")  # noqa: S608 - a constant
    progress(
        f"Restored the database: {deleted:,} rows added by the run removed ({time.perf_counter() - started:.1f} s)"
    )
