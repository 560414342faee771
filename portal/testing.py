"""Helpers for tests that wait on real processes."""

import time
from contextlib import contextmanager


def wait_until(predicate, timeout: float = 20, interval: float = 0.05):
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"Condition not met within {timeout}s")
        time.sleep(interval)


@contextmanager
def broker_at(url: str):
    """Point the Celery app at another broker for the block (a closed port, a private Redis)."""
    from portal.celery import app

    def reset_pools():
        # Drop the app's handles on its pools; kombu's registry hands out fresh
        # ones for the new URL (closing them would poison that registry).
        app._pool = None
        app.amqp._producer_pool = None

    keys = ("broker_url", "broker_read_url", "broker_write_url")
    previous = {key: app.conf[key] for key in keys}
    reset_pools()
    app.conf.update(dict.fromkeys(keys, url))
    try:
        yield app
    finally:
        reset_pools()
        app.conf.update(previous)


# Figures that tests measure (sent, expected, duplicates …), printed at the end
# of the run by conftest's pytest_terminal_summary so they show in CI's output.
FIGURES: list[str] = []


def report_figures(name: str, **figures) -> None:
    line = f"[{name}] " + " ".join(f"{key}={value}" for key, value in figures.items())
    FIGURES.append(line)
    print("\n" + line)


def explained(queries, *disabled: str) -> list[tuple[str, dict]]:
    """(sql, plan) of each query in `queries` that reads (SQL strings, or CaptureQueriesContext's
    dicts), as PostgreSQL plans it with the planner settings `disabled` switched off
    ("enable_seqscan", "enable_sort" …)."""
    from django.db import connection

    result = []
    with connection.cursor() as cursor:
        for setting in disabled:
            cursor.execute(f"SET {setting} = off")
        try:
            for query in queries:
                sql = query["sql"] if isinstance(query, dict) else query
                if sql.lstrip().upper().startswith(("SELECT", "WITH", "(SELECT")):
                    cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
                    result.append((sql, cursor.fetchone()[0][0]["Plan"]))
        finally:
            for setting in disabled:
                cursor.execute(f"RESET {setting}")
    return result


def plan_nodes(plan):
    """Every node of a plan from `explained`, the root first."""
    yield plan
    for child in plan.get("Plans", []):
        yield from plan_nodes(child)


def plan_problems(captured_queries, large_tables, *, sort_rows: int = 1000) -> list[str]:
    """What is wrong with the plans of `captured_queries` (from CaptureQueriesContext)
    on PostgreSQL: a sequential scan of one of `large_tables`, or a sort of more than
    `sort_rows` estimated rows (a whole-table sort where an index should give the order).

    Sequential scans are priced out (`enable_seqscan = off`) while explaining, so a
    "Seq Scan" that remains means no index can serve the query at any size: a
    small seeded table would otherwise make a sequential scan the honest choice.
    """
    problems = []
    for sql, plan in explained(captured_queries, "enable_seqscan"):
        for node in plan_nodes(plan):
            relation = node.get("Relation Name")
            if node["Node Type"] == "Seq Scan" and relation in large_tables:
                problems.append(f"sequential scan of {relation}: {sql[:300]}")
            if node["Node Type"] in ("Sort", "Incremental Sort") and node["Plan Rows"] > sort_rows:
                problems.append(f"sort of ~{node['Plan Rows']} rows: {sql[:300]}")
    return problems


# Plan nodes that pass their first (outer) input's rows on as they come, so a
# LIMIT above them stops that input early; any other node reads its input whole.
_STREAMING = {"Nested Loop", "Hash Join", "Merge Join", "Gather", "Gather Merge", "Result", "Subquery Scan", "Unique"}
_STREAMING_ALL = {"Append", "Merge Append", "Incremental Sort"}


def unbounded_index_scans(captured_queries, large_tables) -> list[str]:
    """Full index scans of `large_tables` that no LIMIT stops: an index scan with no
    index condition whose rows are sorted, hashed, aggregated or rescanned.

    With sequential scans priced out (as `plan_problems` explains), PostgreSQL reads
    a table it cannot seek through any index from end to end instead, which
    `plan_problems` does not see; only a walk in index order that a LIMIT ends
    early (a list's page) is not a whole-table read. Hash and merge joins are
    priced out too: hashing all of a test's few thousand rows is the cheap way to
    join them, where a firm's million would be probed through an index.
    """
    problems = []

    def walk(node, bounded, sql):
        kind = node["Node Type"]
        full = kind in ("Index Scan", "Index Only Scan") and "Index Cond" not in node
        if full and not bounded and node["Relation Name"] in large_tables:
            problems.append(f"full scan of {node['Relation Name']} by {node['Index Name']}: {sql[:300]}")
        for position, child in enumerate(node.get("Plans", [])):
            if child.get("Parent Relationship") in ("SubPlan", "InitPlan"):
                walk(child, False, sql)
            elif kind == "Limit":
                walk(child, True, sql)
            else:
                streams = kind in _STREAMING_ALL or (kind in _STREAMING and position == 0)
                walk(child, bounded and streams, sql)

    for sql, plan in explained(captured_queries, "enable_seqscan", "enable_hashjoin", "enable_mergejoin"):
        walk(plan, False, sql)
    return problems
