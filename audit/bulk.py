"""Writing many rows of a history-tracked model at once, with a history row each that names who and why.

For a sweep that writes a hundred rows at a time, simple-history's bulk helpers cost more
than everything else it does: `bulk_update_with_history` calls Django's `bulk_update`,
which builds and resolves a `Case(When(pk=…))` expression per row and field (about 3 ms
a row for seven fields), and `bulk_history_create` builds a historical model instance per
row and has Django prepare every value of it again (0.2 ms a row). Here the UPDATE is
written as the SQL those expressions compile to, and the history rows are copied by the
database from the rows just written (`INSERT INTO … SELECT … FROM …`): one UPDATE or
INSERT, and one INSERT of history rows per 500 rows, holding exactly what was saved.
"""

from django.db import connections, router, transaction
from django.utils import timezone
from simple_history.utils import get_history_manager_for_model

CHUNK = 500


def bulk_insert(objs, *, actor, reason: str) -> list:
    """Create `objs` (unsaved instances of one history-tracked model) with one INSERT, and a
    "created" history row each, attributed to `actor` with `reason`. Returns them, with their
    primary keys (PostgreSQL and SQLite return them from the INSERT)."""
    objs = list(objs)
    if not objs:
        return objs
    model = type(objs[0])
    with transaction.atomic(using=router.db_for_write(model), savepoint=False):
        model._default_manager.bulk_create(objs, batch_size=CHUNK)
        _copy_to_history(model, objs, "+", actor, reason)
    return objs


def bulk_save(objs, fields, *, actor, reason: str) -> None:
    """Save `fields` of `objs` (instances of one history-tracked model, already in the
    database), like `save(update_fields=…)` on each, auto_now fields included, and write a
    "changed" history row each, attributed to `actor`, with `reason` unless the object
    carries its own `_change_reason`."""
    objs = list(objs)
    if not objs:
        return
    model = type(objs[0])
    meta = model._meta
    using = router.db_for_write(model)
    connection = connections[using]
    quote = connection.ops.quote_name
    written = [meta.get_field(name) for name in fields]
    written += [f for f in meta.concrete_fields if getattr(f, "auto_now", False) and f not in written]
    for obj in objs:
        for field in written:
            if getattr(field, "auto_now", False):
                field.pre_save(obj, add=False)  # sets the attribute, as save() would
    table, pk = quote(meta.db_table), quote(meta.pk.column)
    with transaction.atomic(using=using, savepoint=False):
        with connection.cursor() as cursor:
            for start in range(0, len(objs), CHUNK):
                chunk = objs[start : start + CHUNK]
                ids = [obj.pk for obj in chunk]
                assignments, params = [], []
                for field in written:
                    values = [getattr(obj, field.attname) for obj in chunk]
                    column = quote(field.column)
                    if all(value == values[0] for value in values):
                        assignments.append(f"{column} = %s")
                        params.append(field.get_db_prep_save(values[0], connection))
                        continue
                    assignments.append(f"{column} = CASE {pk}{' WHEN %s THEN %s' * len(chunk)} END")
                    for pk_value, value in zip(ids, values, strict=True):
                        params += [pk_value, field.get_db_prep_save(value, connection)]
                placeholders = ", ".join(["%s"] * len(ids))
                # Only quoted names and placeholders are spliced in; every value is a parameter.
                sql = f"UPDATE {table} SET {', '.join(assignments)} WHERE {pk} IN ({placeholders})"  # noqa: S608
                cursor.execute(sql, params + ids)
        _copy_to_history(model, objs, "~", actor, reason)


def _copy_to_history(model, objs, history_type: str, actor, reason: str) -> None:
    """One history row per object, copied from its row as it now is in the database, in one
    INSERT per change reason (the default `reason`, or an object's own `_change_reason`)."""
    history = get_history_manager_for_model(model).model
    using = router.db_for_write(model)
    connection = connections[using]
    quote = connection.ops.quote_name
    meta, history_meta = model._meta, history._meta
    tracked = [quote(field.column) for field in history.tracked_fields]
    columns = tracked + [
        quote(history_meta.get_field(name).column)
        for name in ("history_date", "history_change_reason", "history_type", "history_user")
    ]
    by_reason: dict[str, list] = {}
    for obj in objs:
        by_reason.setdefault(getattr(obj, "_change_reason", None) or reason, []).append(obj.pk)
    now = timezone.now()
    pk = quote(meta.pk.column)
    with connection.cursor() as cursor:
        for row_reason, ids in by_reason.items():
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start : start + CHUNK]
                placeholders = ", ".join(["%s"] * len(chunk))
                # Only quoted names and placeholders are spliced in; every value is a parameter.
                sql = (
                    f"INSERT INTO {quote(history_meta.db_table)} ({', '.join(columns)}) "  # noqa: S608
                    f"SELECT {', '.join(tracked)}, %s, %s, %s, %s FROM {quote(meta.db_table)} "
                    f"WHERE {pk} IN ({placeholders}) ORDER BY {pk}"
                )
                date = history_meta.get_field("history_date").get_db_prep_save(now, connection)
                cursor.execute(sql, [date, row_reason, history_type, actor.pk if actor else None, *chunk])
