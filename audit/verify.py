"""Checking the audit chain (`manage.py verify_audit`): every history row's hash recomputed from its
content and the previous row's stored hash, in the order of their places, by the database.

The rows of all history tables are merged by place (`audit_seq`) a range of places at a time; each range
is one query that returns at most the first row that does not fit, so millions of rows are checked
without any of them leaving the database. Then the head, rows outside the chain, and the checkpoints.

The first problem found is reported:

- a row changed, or forged with a place: its hash does not match its content and the previous hash;
- rows deleted: a gap in the places (or the chain ending before its head);
- a row inserted out of band: no place at all (written with the trigger off), or a place past the head;
- a duplicate place;
- the chain cut or rewritten: shorter than a checkpoint, or another hash at a checkpoint's place.

Each row is checked on the columns its hash covered when it was sealed (`ChainTable.columns`): a column
added later is left out of older rows. A column dropped since its rows were sealed leaves them
unverifiable (their content is gone); that is a problem unless `allow_dropped_columns` accepts it, and
then only their links are checked.
"""

import json
from dataclasses import dataclass, field

from django.db import DEFAULT_DB_ALIAS, connections, transaction

from .chain import CONTENT_SETTINGS, KEY_SETTING, chained_models

CHUNK = 50_000


class ChainUnavailable(Exception):
    """The chain cannot be checked here (not PostgreSQL, not installed, no key)."""


@dataclass
class Problem:
    kind: str  # "changed", "deleted", "out of band", "duplicate", "truncated", "rewritten", "unverifiable"
    message: str
    table: str = ""
    pk_column: str = ""
    pk: int | None = None
    seq: int | None = None

    def __str__(self):
        where = [f"{self.table} {self.pk_column}={self.pk}"] if self.table else []
        where += [f"seq {self.seq}"] if self.seq is not None else []
        return f"{self.kind}: {', '.join(where)}: {self.message}" if where else f"{self.kind}: {self.message}"


@dataclass
class Result:
    rows: int = 0
    tables: int = 0
    head_seq: int = 0
    problem: Problem | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return self.problem is None

    def summary(self) -> str:
        return f"{self.rows} rows in {self.tables} tables verified, head seq {self.head_seq}"


@dataclass
class _Table:
    name: str
    pk: str
    columns: list[str]
    label: str | None = None  # None: not in the registry (no row sealed yet)
    ranges: dict = field(default_factory=dict)  # column -> [[from, until or None], …]


def _covered(ranges, seq: str = "t.audit_seq") -> str:
    """SQL: whether the row at `seq` lies in one of `ranges` (integers from the registry, written in as such)."""
    parts = [
        f"{seq} >= {int(start)}" if end is None else f"({seq} >= {int(start)} AND {seq} < {int(end)})"
        for start, end in ranges
    ]
    return "(" + " OR ".join(parts) + ")" if parts else "false"


def _quote(connection, name: str) -> str:
    return connection.ops.quote_name(name)


def _tables(connection) -> list[_Table]:
    """Every table that holds chained rows: the chained models' tables and those the registry knows,
    under their current names (a renamed table is found by its oid)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.oid, c.relname,
                   array_agg(a.attname::text ORDER BY a.attnum),
                   (SELECT pa.attname FROM pg_index i
                    JOIN pg_attribute pa ON pa.attrelid = i.indrelid AND pa.attnum = i.indkey[0]
                    WHERE i.indrelid = c.oid AND i.indisprimary)
            FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
            WHERE c.relkind = 'r' AND pg_table_is_visible(c.oid)
              AND EXISTS (SELECT 1 FROM pg_attribute s
                          WHERE s.attrelid = c.oid AND s.attname = 'audit_seq' AND NOT s.attisdropped)
            GROUP BY c.oid, c.relname
            """
        )
        found = {oid: (name, columns, pk) for oid, name, columns, pk in cursor.fetchall()}
        cursor.execute("SELECT relid, table_name, label, columns FROM audit_chaintable")
        registry = cursor.fetchall()
    by_name = {name: oid for oid, (name, _, _) in found.items()}
    tables: dict[int, _Table] = {}
    for relid, table_name, label, ranges in registry:
        oid = relid if relid in found else by_name.get(table_name)
        if oid is None:
            continue  # the table is gone: its rows show as a gap
        name, columns, pk = found[oid]
        ranges = json.loads(ranges) if isinstance(ranges, str) else ranges
        tables[oid] = _Table(name, pk, columns, label, ranges or {})
    chained = {m._meta.db_table for m in chained_models()}
    for oid, (name, columns, pk) in found.items():
        if oid not in tables and name in chained:
            tables[oid] = _Table(name, pk, columns)
    return sorted(tables.values(), key=lambda t: t.name)


def _row_select(connection, table: _Table) -> tuple[str, list]:
    """SELECT of `table`'s rows in a range of places with what checking them needs: the content its
    hash covered, and whether a column it covered is gone (two %s for the range, after the returned params)."""
    first = min((start for ranges in table.ranges.values() for start, _ in ranges), default=None)
    always, sometimes, dropped = [], [], []
    for column, ranges in table.ranges.items():
        if column not in table.columns:
            dropped.append(ranges)
        elif len(ranges) == 1 and ranges[0][1] is None and ranges[0][0] <= first:
            always.append(column)
        else:
            sometimes.append((column, ranges))
    never = [column for column in table.columns if column not in table.ranges]
    params: list = [table.label or table.name, table.name, never]
    content = "to_jsonb(t) - %s::text[]"
    if sometimes:
        cases = ", ".join(f"CASE WHEN NOT {_covered(ranges)} THEN %s END" for _, ranges in sometimes)
        content += f" - array_remove(ARRAY[{cases}]::text[], NULL)"
        params += [column for column, _ in sometimes]
    unverifiable = " OR ".join(_covered(ranges) for ranges in dropped) or "false"
    pk = _quote(connection, table.pk)
    sql = (
        f"SELECT t.audit_seq AS seq, %s::text AS label, %s::text AS tbl, t.{pk}::bigint AS pk, t.audit_hash AS hash,"  # noqa: S608 - names from the catalog
        f" ({content})::text AS content, ({unverifiable}) AS unverifiable"
        f" FROM {_quote(connection, table.name)} t WHERE t.audit_seq BETWEEN %s AND %s"
    )
    return sql, params


def _set_content_settings(cursor) -> None:
    # As when the rows were sealed; and room to sort a range's rows by place in memory.
    settings = {**CONTENT_SETTINGS, "work_mem": "128MB"}
    cursor.execute(
        "SELECT " + ", ".join("set_config(%s, %s, true)" for _ in settings),
        [value for item in settings.items() for value in item],
    )


def _first_misfit(connection, tables, lo, hi, carry_seq, carry_hash, allow_dropped):
    """The first row in places lo..hi that does not fit the chain, or None; and the range's last (seq, hash)."""
    selects, params = [], []
    for table in tables:
        sql, table_params = _row_select(connection, table)
        selects.append(sql)
        params += [*table_params, lo, hi]
    union = " UNION ALL ".join(selects)
    sql = f"""
        SELECT seq, tbl, pk, prev_seq, next_seq, unverifiable
        FROM (
            SELECT seq, tbl, pk, hash, prev_seq, next_seq, unverifiable,
                   audit_chain_digest(coalesce(prev_hash, %s), seq, label, content, current_setting(%s)) AS expected
            FROM (
                SELECT u.*, lag(u.seq) OVER w AS prev_seq, lag(u.hash) OVER w AS prev_hash,
                       lead(u.seq) OVER w AS next_seq
                FROM ({union}) u
                WINDOW w AS (ORDER BY u.seq)
            ) v
        ) x
        WHERE coalesce(prev_seq, %s) <> seq - 1
           OR next_seq = seq
           OR (unverifiable AND NOT %s)
           OR (NOT unverifiable AND hash IS DISTINCT FROM expected)
        ORDER BY seq
        LIMIT 1
    """  # noqa: S608 - table and column names from the catalog, values as parameters
    last_sql = " UNION ALL ".join(
        f"(SELECT audit_seq, audit_hash FROM {_quote(connection, t.name)}"  # noqa: S608
        " WHERE audit_seq BETWEEN %s AND %s ORDER BY audit_seq DESC LIMIT 1)"
        for t in tables
    )
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        _set_content_settings(cursor)
        cursor.execute(sql, [carry_hash, KEY_SETTING, *params, carry_seq, allow_dropped])
        misfit = cursor.fetchone()
        cursor.execute(
            f"SELECT audit_seq, audit_hash FROM ({last_sql}) l ORDER BY audit_seq DESC LIMIT 1",  # noqa: S608
            [bound for _ in tables for bound in (lo, hi)],
        )
        last = cursor.fetchone()
    return misfit, last


def _rows_at(connection, tables, seq: int) -> list[tuple[str, str, int]]:
    """(table, primary key column, primary key) of every row at place `seq`."""
    found = []
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(
                f"SELECT {_quote(connection, table.pk)} FROM {_quote(connection, table.name)} WHERE audit_seq = %s",  # noqa: S608
                [seq],
            )
            found += [(table.name, table.pk, pk) for (pk,) in cursor.fetchall()]
    return found


def _walk(connection, tables, head_seq, chunk, allow_dropped, result) -> tuple[int, str]:
    """Check places 1..head_seq; returns the last (seq, hash) reached. Sets result.problem on the first misfit."""
    by_name = {t.name: t for t in tables}
    carry_seq, carry_hash = 0, ""
    for lo in range(1, head_seq + 1, chunk):
        hi = min(head_seq, lo + chunk - 1)
        misfit, last = _first_misfit(connection, tables, lo, hi, carry_seq, carry_hash, allow_dropped)
        if misfit:
            seq, table_name, pk, prev_seq, next_seq, unverifiable = misfit
            pk_column = by_name[table_name].pk
            prev_seq = carry_seq if prev_seq is None else prev_seq
            where = {"table": table_name, "pk_column": pk_column, "pk": pk, "seq": seq}
            if seq in (prev_seq, next_seq):
                others = ", ".join(f"{t} {c}={p}" for t, c, p in _rows_at(connection, tables, seq))
                result.problem = Problem("duplicate", f"more than one row has this place ({others})", **where)
            elif prev_seq != seq - 1:
                missing = f"seq {prev_seq + 1}" if prev_seq + 1 == seq - 1 else f"seqs {prev_seq + 1}..{seq - 1}"
                result.problem = Problem(
                    "deleted", f"the rows at {missing}, before this row, are missing: deleted out of band", **where
                )
            elif unverifiable:
                dropped = sorted(c for c in by_name[table_name].ranges if c not in by_name[table_name].columns)
                result.problem = Problem(
                    "unverifiable",
                    f"its hash covered column(s) {', '.join(dropped)}, since dropped from the table, so its content "
                    "cannot be checked (verify_audit --allow-dropped-columns checks the rest)",
                    **where,
                )
            else:
                result.problem = Problem(
                    "changed",
                    "its hash does not match its content and the previous row's hash: changed out of band "
                    "(or inserted with a forged place)",
                    **where,
                )
            return carry_seq, carry_hash
        if last:
            carry_seq, carry_hash = last
        result.rows = carry_seq
    return carry_seq, carry_hash


def _check_head(connection, tables, result) -> None:
    """The head against the rows, in one snapshot: no row past it, and the row at it has its hash."""
    max_parts = " UNION ALL ".join(f"SELECT max(audit_seq) FROM {_quote(connection, t.name)}" for t in tables)  # noqa: S608
    at_parts = " UNION ALL ".join(
        f"SELECT audit_hash FROM {_quote(connection, t.name)} WHERE audit_seq = h.seq"  # noqa: S608
        for t in tables
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT h.seq, h.hash, (SELECT max(m) FROM ({max_parts}) x(m)), (SELECT a FROM ({at_parts}) y(a) LIMIT 1)"  # noqa: S608
            " FROM (SELECT coalesce((SELECT seq FROM audit_chainhead WHERE id = 1), 0) AS seq,"
            " coalesce((SELECT hash FROM audit_chainhead WHERE id = 1), '') AS hash) h"
        )
        head_seq, head_hash, max_seq, hash_at_head = cursor.fetchone()
    if max_seq is not None and max_seq > head_seq:
        table, pk_column, pk = _rows_at(connection, tables, max_seq)[0]
        result.problem = Problem(
            "out of band",
            f"its place is past the chain's head (seq {head_seq}): inserted with a forged place, or the head was"
            " rewound",
            table,
            pk_column,
            pk,
            max_seq,
        )
    elif head_seq and hash_at_head is None:
        result.problem = Problem(
            "deleted", f"the chain's head is at seq {head_seq}, but no row has that place: the last rows were deleted"
        )
    elif head_seq and hash_at_head != head_hash:
        table, pk_column, pk = _rows_at(connection, tables, head_seq)[0]
        result.problem = Problem(
            "changed", "the chain's head records another hash for this row: rewritten", table, pk_column, pk, head_seq
        )


def _check_unsealed(connection, tables, result) -> None:
    total, first = 0, None
    with connection.cursor() as cursor:
        for table in tables:
            pk = _quote(connection, table.pk)
            cursor.execute(
                f"SELECT count(*), min({pk}) FROM {_quote(connection, table.name)} WHERE audit_seq IS NULL"  # noqa: S608
            )
            count, smallest = cursor.fetchone()
            if count:
                total += count
                first = first or (table, smallest)
    if first:
        table, pk = first
        result.problem = Problem(
            "out of band",
            f"it has no place in the chain: written with the chain's trigger off (session_replication_role = "
            f"replica, a bench load) or before the chain was installed; {total} such row(s) in all "
            "(manage.py seal_unchained_history adopts them, if they are known to be genuine)",
            table.name,
            table.pk,
            pk,
        )


def _check_checkpoints(connection, tables, checkpoints, chain_end, result) -> None:
    """Each checkpoint's place must be in the chain, with the hash recorded for it."""
    from .models import ChainCheckpoint

    recorded = [
        (c.seq, c.hash, f"recorded {c.recorded_at:%Y-%m-%d %H:%M:%S %Z}")
        for c in ChainCheckpoint.objects.using(connection.alias).order_by("seq")
    ]
    given = [(seq, hash_, "given on the command line") for seq, hash_ in checkpoints]
    for seq, expected, source in sorted(recorded + given):
        if seq > chain_end:
            result.problem = Problem(
                "truncated",
                f"the chain ends at seq {chain_end}, but a checkpoint ({source}) has its head at seq {seq}: "
                f"the rows after {chain_end} were deleted and the head rewound",
                seq=seq,
            )
            return
        rows = _rows_at(connection, tables, seq)
        if not rows:
            result.problem = Problem("deleted", f"no row has the place of a checkpoint ({source})", seq=seq)
            return
        table, pk_column, pk = rows[0]
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT audit_hash FROM {_quote(connection, table)} WHERE audit_seq = %s",  # noqa: S608
                [seq],
            )
            actual = cursor.fetchone()[0]
        if actual != expected:
            result.problem = Problem(
                "rewritten",
                f"a checkpoint ({source}) recorded hash {expected} for this place, the row now has {actual}: "
                "the chain was rewritten from here or earlier",
                table,
                pk_column,
                pk,
                seq,
            )
            return


def verify(
    using: str = DEFAULT_DB_ALIAS, *, chunk: int = CHUNK, checkpoints=(), allow_dropped_columns: bool = False
) -> Result:
    """Check the chain; `checkpoints` adds (seq, hash) pairs kept elsewhere (the checkpoint log lines)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        raise ChainUnavailable(f"The audit chain needs PostgreSQL; this database is {connection.display_name}.")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT to_regprocedure('audit_chain_digest(text,bigint,text,text,text)') IS NOT NULL,"
            " to_regclass('audit_chaintable') IS NOT NULL, coalesce(current_setting(%s, true), '') <> ''",
            [KEY_SETTING],
        )
        functions, registry, key = cursor.fetchone()
    if not (functions and registry):
        raise ChainUnavailable("The audit chain is not installed in this database: run manage.py migrate.")
    if not key:
        raise ChainUnavailable("This database session has no audit key (it is set when the portal connects).")

    result = Result()
    tables = _tables(connection)
    result.tables = len(tables)
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce((SELECT seq FROM audit_chainhead WHERE id = 1), 0)")
        head_seq = cursor.fetchone()[0]
    for table in tables:
        if table.label is None:
            pk_column, name = _quote(connection, table.pk), _quote(connection, table.name)
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT min({pk_column}) FROM {name} WHERE audit_seq IS NOT NULL")  # noqa: S608
                pk = cursor.fetchone()[0]
            if pk is not None:
                message = "the table has chained rows, but the chain's registry has no entry for it"
                result.problem = Problem("changed", message, table.name, table.pk, pk)
                return result
    if tables:
        chain_end, _ = _walk(connection, tables, head_seq, chunk, allow_dropped_columns, result)
        if result.problem:
            return result
        if chain_end < head_seq:
            result.problem = Problem(
                "deleted",
                f"the chain ends at seq {chain_end}, but its head is at seq {head_seq}: the last rows were deleted",
                seq=chain_end + 1,
            )
            return result
        _check_head(connection, tables, result)
        if result.problem:
            return result
        _check_unsealed(connection, tables, result)
        if result.problem:
            return result
    else:
        chain_end = 0
    result.head_seq = chain_end
    _check_checkpoints(connection, tables, checkpoints, chain_end, result)
    if allow_dropped_columns:
        dropped = sorted(f"{t.name}.{c}" for t in tables for c in t.ranges if c not in t.columns)
        if dropped:
            result.warnings.append(
                f"rows sealed with since-dropped columns ({', '.join(dropped)}) were checked by their links only"
            )
    return result
