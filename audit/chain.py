"""The audit chain: every history row sealed, in the database, with its place and a keyed hash.

Each history row gets a place in one sequence across all history tables (`audit_seq`, gapless) and
`audit_hash` = HMAC-SHA256(key, previous row's hash : place : table : row's content). Changing a row,
deleting one or slipping one in breaks the chain from there on, and only someone holding the key can
compute hashes that fit (`manage.py verify_audit` recomputes them; see `audit.verify`).

The sealing is done by PostgreSQL when the transaction that wrote the rows commits, so it covers every
write path (services, the admin, bulk SQL in `audit.bulk`) and serialises only commits that wrote
history, on one row, `audit_chainhead`:

- `audit_chain_collect`, a deferred constraint trigger on every history table, notes each new row in a
  transaction-local setting when the commit begins. It takes no lock.
- The first one also inserts a row into `audit_chainflush`, whose own deferred trigger
  (`audit_chain_flush`) PostgreSQL fires after every trigger already queued, foreign-key checks
  included. It locks the head and seals the transaction's rows (`audit_chain_seal_rows`).

So the head's lock is always the last lock a committing transaction takes, and it cannot be part of a
deadlock: a commit that sealed first and then waited for a row lock (a deferred foreign-key check on a
row another transaction holds FOR UPDATE) could deadlock with that transaction's own commit.

The key reaches each database session in `portal.audit_key`, set when Django opens the connection, with
the value sent as a bound parameter (not in the statement's text). A session without it cannot write
history rows: the trigger refuses them.

PostgreSQL only. On SQLite the columns stay empty and `verify_audit` says the chain needs PostgreSQL.
"""

import hashlib
import hmac
import logging

from django.apps import apps
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from simple_history.models import HistoricalChanges

logger = logging.getLogger(__name__)

KEY_SETTING = "portal.audit_key"
PENDING_SETTING = "portal.audit_pending"
RUN_SETTING = "portal.audit_pending_run"
COLLECT_TRIGGER = "audit_chain_collect"
FLUSH_TRIGGER = "audit_chain_flush"
# Settings that change how to_jsonb() writes a value (a time zone, an interval, a float, bytes): fixed
# while sealing and verifying, so a row's content reads the same whatever the session had set.
CONTENT_SETTINGS = {"TimeZone": "UTC", "IntervalStyle": "postgres", "extra_float_digits": "1", "bytea_output": "hex"}

_SET_CLAUSES = "\n".join(f"SET {name} = '{value}'" for name, value in CONTENT_SETTINGS.items())

FUNCTIONS_SQL = f"""
CREATE OR REPLACE FUNCTION audit_chain_digest(prev text, seq bigint, label text, content text, key text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT encode(hmac(prev || ':' || seq::text || ':' || label || ':' || content, key, 'sha256'), 'hex')
$fn$;

CREATE OR REPLACE FUNCTION audit_chain_collect() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    v_run text := coalesce(current_setting('{RUN_SETTING}', true), '');
    v_pk bigint;
    v_parts text[];
BEGIN
    IF coalesce(current_setting('{KEY_SETTING}', true), '') = '' THEN
        RAISE EXCEPTION 'history row refused: % is written through the portal only', TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'This session has no audit key ({KEY_SETTING}), so the row cannot be chained.';
    END IF;
    v_pk := (to_jsonb(NEW) ->> TG_ARGV[0])::bigint;
    -- The transaction's rows as runs of consecutive ids, "table:first:last": a bulk insert stays one run.
    IF v_run = '' THEN
        PERFORM set_config('{RUN_SETTING}', TG_RELID::text || ':' || v_pk || ':' || v_pk, true);
        -- Its trigger runs after every trigger queued before it: after this commit's foreign-key checks.
        INSERT INTO audit_chainflush DEFAULT VALUES;
    ELSE
        v_parts := string_to_array(v_run, ':');
        IF v_parts[1]::oid = TG_RELID AND v_parts[3]::bigint + 1 = v_pk THEN
            PERFORM set_config('{RUN_SETTING}', v_parts[1] || ':' || v_parts[2] || ':' || v_pk, true);
        ELSE
            PERFORM set_config('{PENDING_SETTING}',
                               coalesce(current_setting('{PENDING_SETTING}', true), '') || v_run || ',', true);
            PERFORM set_config('{RUN_SETTING}', TG_RELID::text || ':' || v_pk || ':' || v_pk, true);
        END IF;
    END IF;
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION audit_chain_flush() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    v_runs text := coalesce(current_setting('{PENDING_SETTING}', true), '')
                   || coalesce(current_setting('{RUN_SETTING}', true), '');
    v_entry record;
    v_rel oid;
    v_ids bigint[] := '{{}}';
BEGIN
    PERFORM set_config('{PENDING_SETTING}', '', true);
    PERFORM set_config('{RUN_SETTING}', '', true);
    DELETE FROM audit_chainflush WHERE id = NEW.id;
    FOR v_entry IN
        SELECT split_part(e, ':', 1)::oid AS rel, split_part(e, ':', 2)::bigint AS lo,
               split_part(e, ':', 3)::bigint AS hi
        FROM unnest(string_to_array(rtrim(v_runs, ','), ',')) WITH ORDINALITY AS u(e, n)
        ORDER BY n
    LOOP
        IF v_rel IS DISTINCT FROM v_entry.rel THEN
            IF v_rel IS NOT NULL THEN
                PERFORM audit_chain_seal_rows(v_rel, v_ids);
            END IF;
            v_rel := v_entry.rel;
            v_ids := '{{}}';
        END IF;
        v_ids := v_ids || ARRAY(SELECT generate_series(v_entry.lo, v_entry.hi));
    END LOOP;
    IF v_rel IS NOT NULL THEN
        PERFORM audit_chain_seal_rows(v_rel, v_ids);
    END IF;
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION audit_chain_seal_rows(p_rel oid, p_ids bigint[]) RETURNS integer LANGUAGE plpgsql
{_SET_CLAUSES}
AS $fn$
DECLARE
    v_key text := current_setting('{KEY_SETTING}', true);
    v_schema text;
    v_table text;
    v_args text[];
    v_pk text;
    v_skip text[];
    v_head record;
    v_tbl record;
    v_doc jsonb;
    v_pkval bigint;
    v_keys text[];
    v_active text[];
    v_cols jsonb;
    v_k text;
    v_seq bigint;
    v_hash text;
    v_pks bigint[] := '{{}}';
    v_seqs bigint[] := '{{}}';
    v_hashes text[] := '{{}}';
BEGIN
    IF coalesce(v_key, '') = '' THEN
        RAISE EXCEPTION 'history rows cannot be sealed: this session has no audit key ({KEY_SETTING})'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT n.nspname, c.relname INTO v_schema, v_table
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = p_rel;
    IF v_table IS NULL OR NOT EXISTS (
        SELECT 1 FROM pg_attribute WHERE attrelid = p_rel AND attname = 'audit_seq' AND NOT attisdropped
    ) THEN
        RETURN 0;  -- dropped since, or migrated back to a schema without the chain's columns
    END IF;
    SELECT array_remove(string_to_array(encode(t.tgargs, 'escape'), '\\000'), '') INTO v_args
    FROM pg_trigger t WHERE t.tgrelid = p_rel AND t.tgname = '{COLLECT_TRIGGER}';
    IF v_args IS NULL THEN
        RAISE EXCEPTION 'audit chain: table % has no {COLLECT_TRIGGER} trigger', v_table;
    END IF;
    v_pk := v_args[1];
    v_skip := ARRAY['audit_seq', 'audit_hash'] || v_args[2:];

    SELECT h.seq, h.hash INTO v_head FROM audit_chainhead h WHERE h.id = 1 FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO audit_chainhead (id, seq, hash, updated_at) VALUES (1, 0, '', now()) ON CONFLICT (id) DO NOTHING;
        SELECT h.seq, h.hash INTO v_head FROM audit_chainhead h WHERE h.id = 1 FOR UPDATE;
    END IF;
    v_seq := v_head.seq;
    v_hash := v_head.hash;

    SELECT * INTO v_tbl FROM audit_chaintable WHERE relid = p_rel;
    IF NOT FOUND THEN
        SELECT * INTO v_tbl FROM audit_chaintable WHERE table_name = v_table;
        IF FOUND THEN  -- a restored dump: the table has a new oid
            UPDATE audit_chaintable SET relid = p_rel WHERE id = v_tbl.id;
        ELSE
            INSERT INTO audit_chaintable (relid, table_name, label, active, columns)
            VALUES (p_rel, v_table, v_table, '[]', '{{}}') RETURNING * INTO v_tbl;
        END IF;
    ELSIF v_tbl.table_name <> v_table THEN  -- renamed: its rows keep the name they were sealed under
        UPDATE audit_chaintable SET table_name = v_table WHERE id = v_tbl.id;
    END IF;

    v_active := ARRAY(SELECT jsonb_array_elements_text(v_tbl.active));
    FOR v_doc IN EXECUTE format(
        'SELECT to_jsonb(t) FROM %I.%I t WHERE t.%I = ANY($1) ORDER BY t.%I', v_schema, v_table, v_pk, v_pk
    ) USING p_ids
    LOOP
        CONTINUE WHEN v_doc ->> 'audit_seq' IS NOT NULL;
        v_pkval := (v_doc ->> v_pk)::bigint;
        v_doc := v_doc - v_skip;
        v_seq := v_seq + 1;
        IF NOT (v_doc ?& v_active AND v_doc - v_active = '{{}}'::jsonb) THEN
            v_keys := ARRAY(SELECT jsonb_object_keys(v_doc) ORDER BY 1);
            -- Columns added or dropped since the table's last sealed row: note from which place on.
            v_cols := v_tbl.columns;
            FOR v_k IN SELECT unnest(v_keys) EXCEPT SELECT jsonb_array_elements_text(v_tbl.active) LOOP
                v_cols := jsonb_set(v_cols, ARRAY[v_k],
                                    coalesce(v_cols -> v_k, '[]') || jsonb_build_array(jsonb_build_array(v_seq, NULL)));
            END LOOP;
            FOR v_k IN SELECT jsonb_array_elements_text(v_tbl.active) EXCEPT SELECT unnest(v_keys) LOOP
                v_cols := jsonb_set(v_cols, ARRAY[v_k, (jsonb_array_length(v_cols -> v_k) - 1)::text, '1'],
                                    to_jsonb(v_seq));
            END LOOP;
            UPDATE audit_chaintable SET active = to_jsonb(v_keys), columns = v_cols WHERE id = v_tbl.id;
            v_tbl.active := to_jsonb(v_keys);
            v_tbl.columns := v_cols;
            v_active := v_keys;
        END IF;
        v_hash := audit_chain_digest(v_hash, v_seq, v_tbl.label, v_doc::text, v_key);
        v_pks := v_pks || v_pkval;
        v_seqs := v_seqs || v_seq;
        v_hashes := v_hashes || v_hash;
    END LOOP;
    IF cardinality(v_pks) = 0 THEN
        RETURN 0;
    END IF;
    EXECUTE format(
        'UPDATE %I.%I t SET audit_seq = u.seq, audit_hash = u.hash'
        ' FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS u(pk, seq, hash) WHERE t.%I = u.pk',
        v_schema, v_table, v_pk
    ) USING v_pks, v_seqs, v_hashes;
    UPDATE audit_chainhead SET seq = v_seq, hash = v_hash, updated_at = now() WHERE id = 1;
    RETURN cardinality(v_pks);
END
$fn$;
"""  # noqa: S608 - the module's own constants, no input

FUNCTIONS_VERSION = hashlib.sha256(FUNCTIONS_SQL.encode()).hexdigest()[:16]
_VERSION_MARK = f"portal audit chain {FUNCTIONS_VERSION}"


def chain_key() -> str:
    """AUDIT_CHAIN_KEY, or a key derived from SECRET_KEY when it is not set."""
    if settings.AUDIT_CHAIN_KEY:
        return settings.AUDIT_CHAIN_KEY
    return hmac.new(settings.SECRET_KEY.encode(), b"portal.audit-chain.v1", hashlib.sha256).hexdigest()


def deliver_key(sender, connection, **kwargs) -> None:
    """`connection_created`: give the new PostgreSQL session the chain's key. The value goes as a bound
    parameter (server-side binding), so pg_stat_activity shows `$1`, not the key."""
    if connection.vendor != "postgresql":
        return
    import psycopg

    with psycopg.Cursor(connection.connection) as cursor:  # not Django's client-side binding cursor
        cursor.execute(f"SELECT set_config('{KEY_SETTING}', %s, false)", [chain_key()])


def chained_models() -> list:
    """The history models (and their many-to-many tables) that carry the chain's columns."""
    from .models import ChainedHistory

    return [m for m in apps.get_models() if issubclass(m, ChainedHistory) and not m._meta.abstract]


def unchained_history_models() -> list:
    """History models without the chain's columns: made with simple-history directly, not `audit.models.history()`."""
    from .models import ChainedHistory

    return [m for m in apps.get_models() if issubclass(m, HistoricalChanges) and not issubclass(m, ChainedHistory)]


def trigger_args(model) -> list[str]:
    """The collect trigger's arguments for `model`'s table: its primary key column, then the columns
    left out of the hashes."""
    return [model._meta.pk.column, *getattr(model, "audit_unchained", ())]


def install(using: str = DEFAULT_DB_ALIAS, **kwargs) -> None:
    """`post_migrate`: the chain's functions and a collect trigger on every chained table that has the
    chain's columns (dropped from one that lost them). Idempotent, and a few catalog reads when nothing
    changed (transactional tests run it after every flush)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    with transaction.atomic(using=using), connection.cursor() as cursor:
        cursor.execute(
            "SELECT to_regclass('audit_chainhead') IS NOT NULL AND to_regclass('audit_chainflush') IS NOT NULL"
        )
        if not cursor.fetchone()[0]:
            return  # audit is migrated back (or not yet)
        cursor.execute("SELECT obj_description(to_regprocedure('audit_chain_seal_rows(oid,bigint[])'), 'pg_proc')")
        if cursor.fetchone()[0] != _VERSION_MARK:
            cursor.execute(FUNCTIONS_SQL)
            cursor.execute(f"COMMENT ON FUNCTION audit_chain_seal_rows(oid, bigint[]) IS '{_VERSION_MARK}'")
        cursor.execute(
            """
            SELECT c.relname, t.tgname, encode(t.tgargs, 'escape')
            FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
            WHERE t.tgname IN (%s, %s) AND pg_table_is_visible(c.oid)
            """,
            [COLLECT_TRIGGER, FLUSH_TRIGGER],
        )
        existing = {}
        for table, name, args in cursor.fetchall():
            existing[table, name] = [a for a in args.split("\\000") if a]
        if ("audit_chainflush", FLUSH_TRIGGER) not in existing:
            cursor.execute(
                f"CREATE CONSTRAINT TRIGGER {FLUSH_TRIGGER} AFTER INSERT ON audit_chainflush "
                f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_chain_flush()"
            )
        cursor.execute(
            """
            SELECT c.relname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
            WHERE a.attname = 'audit_seq' AND NOT a.attisdropped AND c.relkind = 'r' AND pg_table_is_visible(c.oid)
            """
        )
        with_columns = {table for (table,) in cursor.fetchall()}
        wanted = {}
        for model in chained_models():
            if model._meta.db_table in with_columns:
                wanted[model._meta.db_table] = trigger_args(model)
        quote = connection.ops.quote_name
        for (table, name), args in existing.items():
            if name == COLLECT_TRIGGER and wanted.get(table) != args:
                cursor.execute(f"DROP TRIGGER {COLLECT_TRIGGER} ON {quote(table)}")
        for table, args in wanted.items():
            if existing.get((table, COLLECT_TRIGGER)) != args:
                literals = ", ".join(_literal(a) for a in args)
                cursor.execute(
                    f"CREATE CONSTRAINT TRIGGER {COLLECT_TRIGGER} AFTER INSERT ON {quote(table)} "
                    f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_chain_collect({literals})"
                )


def _literal(value: str) -> str:
    """A trigger argument: a column name, as a quoted SQL string literal (trigger arguments take no parameters)."""
    return "'" + value.replace("'", "''") + "'"


def record_checkpoint(using: str = DEFAULT_DB_ALIAS):
    """Record the chain's head as a checkpoint and log it (the copy kept outside the database). Safe to
    run twice at once: a head already recorded is recorded once. Returns the checkpoint, or None when
    there is no chain to record (an empty chain, or not PostgreSQL)."""
    from .models import ChainCheckpoint, ChainHead

    if connections[using].vendor != "postgresql":
        logger.warning("audit chain checkpoint skipped: the audit chain needs PostgreSQL")
        return None
    head = ChainHead.objects.using(using).filter(pk=1).first()
    if head is None or head.seq == 0:
        logger.info("audit chain checkpoint: the chain is empty, nothing to record")
        return None
    checkpoint, created = ChainCheckpoint.objects.using(using).get_or_create(seq=head.seq, defaults={"hash": head.hash})
    logger.info(
        "audit chain checkpoint seq=%s hash=%s recorded_at=%s%s",
        checkpoint.seq,
        checkpoint.hash,
        checkpoint.recorded_at.isoformat(),
        "" if created else " (already recorded)",
    )
    return checkpoint


def seal_unchained(using: str = DEFAULT_DB_ALIAS, *, batch: int = 5000, progress=None) -> dict[str, int]:
    """Seal history rows that are outside the chain (written before the chain existed, or with its
    trigger off, such as a bench load), appending them table by table in primary-key order, a batch per
    transaction. Returns rows sealed per table."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        raise RuntimeError("The audit chain needs PostgreSQL.")
    quote = connection.ops.quote_name
    sealed = {}
    for model in sorted(chained_models(), key=lambda m: m._meta.db_table):
        table, pk = model._meta.db_table, model._meta.pk.column
        total = 0
        while True:
            with transaction.atomic(using=using), connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT {quote(pk)} FROM {quote(table)} WHERE audit_seq IS NULL ORDER BY {quote(pk)} LIMIT %s",  # noqa: S608 - names from the model
                    [batch],
                )
                ids = [row[0] for row in cursor.fetchall()]
                if not ids:
                    break
                cursor.execute("SELECT audit_chain_seal_rows(%s::regclass, %s::bigint[])", [table, ids])
                total += cursor.fetchone()[0]
            if progress:
                progress(f"{table}: {total} rows sealed")
        if total:
            sealed[table] = total
    return sealed
