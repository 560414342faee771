"""The results: one table (printed, and written as bench/results.md and bench/results.json) with each
row's target and whether it was met."""

import json
import math
import os
import platform
import statistics
import subprocess
import time
from pathlib import Path

from django.db import connection

from .pages import RATIO, THROUGHPUT_SHARE, percentile

HERE = Path(__file__).resolve().parent
DEADLINE_SWEEP_SECONDS = 10
OUTBOX_RATE = 300


def machine(scale: float, facts: dict) -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    memory_kib = int(
        next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
    )
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE.parent)
    dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True, cwd=HERE.parent)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": round(memory_kib / 1024 / 1024, 1),
        "postgresql": postgres,
        "python": platform.python_version(),
        "scale": scale,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "commit": commit.stdout.strip() + (" with uncommitted changes" if dirty.stdout.strip() else ""),
        "database": {k: facts.get(k) for k in ("loaded_at", "load_seconds", "size", "history_rows", "reused")},
        "conn_max_age": connection.settings_dict["CONN_MAX_AGE"],
    }


def _fmt(value, digits=1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.{digits}f}"


def page_rows(results) -> list[dict]:
    rows = []
    for result in results:
        page, conc = result.page, result.concurrent
        median = statistics.median(result.samples) * 1000
        floor_median = statistics.median(result.floor_samples) * 1000
        ratio = median / floor_median if floor_median else None
        floor_rps = result.floor_concurrent["rps"]
        share = conc["rps"] / floor_rps if floor_rps else None
        # The in-process request that counted the queries answers like the others, or it is an error too.
        errors = result.sequential_errors + conc["errors"] + (result.query_status not in page.expect)
        row = {
            "page": page.name,
            "path": page.path,
            "method": page.method,
            "queries": result.queries,
            "queries_status": result.query_status,
            "median_ms": median,
            "p95_ms": percentile(result.samples, 0.95) * 1000,
            "samples": len(result.samples),
            "floor_median_ms": floor_median,
            "x_floor": ratio,
            "rps": conc["rps"],
            "floor_rps": floor_rps,
            "x_floor_rps": share,
            "p50_ms_at_20": conc["p50_ms"],
            "p99_ms_at_20": conc["p99_ms"],
            "errors": errors,
            "statuses": {str(k): v for k, v in result.statuses.items()},
            "concurrent": conc,
        }
        if page.group in ("floor", "reference"):
            row.update(target="reference", met=None)
        else:
            limit = RATIO[page.group]
            checks = [ratio is not None and ratio <= limit, errors == 0]
            target = f"≤{limit}× floor"
            if page.min_rps:
                checks.append(conc["rps"] >= page.min_rps)
                target += f", ≥{page.min_rps:g}/s"
            else:
                checks.append(share is not None and share >= THROUGHPUT_SHARE)
                target += ", ≥⅓ floor req/s"
            row.update(target=target + ", 0 errors", met=all(checks))
        rows.append(row)
    return rows


def sweep_rows(sweeps: dict) -> list[dict]:
    rows = []
    if "deadlines" in sweeps:
        d = sweeps["deadlines"]
        rows.append(
            {
                "page": f"deadline sweep, {d['due']:,} due reminders",
                "value": f"{d['seconds']:.1f} s ({d['handled']:,} handled)",
                "target": f"≤ {DEADLINE_SWEEP_SECONDS} s, all handled",
                "met": d["seconds"] <= DEADLINE_SWEEP_SECONDS and d["handled"] == d["due"],
                **d,
            }
        )
    if "outbox" in sweeps:
        o = sweeps["outbox"]
        rows.append(
            {
                "page": f"outbox delivery, {o['pending']:,} emails to SMTP",
                "value": f"{o['rate']:.0f} emails/s ({o['sent']:,} sent, {o['received']:,} received;"
                f" the SMTP server alone: {o['smtp_ceiling']}/s)",
                "target": f"≥ {OUTBOX_RATE}/s, all received",
                "met": o["rate"] >= OUTBOX_RATE and o["received"] == o["sent"] and o["sent"] > 0,
                **o,
            }
        )
    return rows


def _mark(met) -> str:
    return "–" if met is None else "✓" if met else "✗"


def render(info: dict, rows: list[dict], sweeps: list[dict], extra: dict) -> str:
    """The Markdown report (also what is printed)."""
    db = info["database"]
    load = extra.get("load_average", ["?", "?"])
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['ram_gib']} GiB RAM; PostgreSQL {info['postgresql']};"
        f" Python {info['python']}.",
        f"Scale {info['scale']} · {info['date']} · commit {info['commit']}.",
        f"Database: {db['history_rows']:,} history rows, {db['size']}, loaded {db['loaded_at']} in"
        f" {db['load_seconds']} s{' (reused)' if db['reused'] else ''}.",
        f"Load average (1 min) {load[0]} at the start, {load[1]} at the end: other processes share the"
        " machine, and the floor, measured in the same loops, carries the same load as the pages.",
        "",
        f"gunicorn with 3 sync workers, DEBUG=false and the production settings (CONN_MAX_AGE"
        f" {info['conn_max_age']}), behind a pretend TLS proxy (X-Forwarded-Proto). Sequential: median and p95 of"
        " samples each followed by a floor request; ×floor is the ratio of the two medians. At 20: 20"
        f" connections for {extra['concurrent_seconds']:g} s; ×floor req/s against the floor's throughput in a"
        f" {extra.get('floor_burst_seconds', 0):g} s burst just before (the floor row: the median burst)."
        " Queries: one request in-process through Django's test client.",
        "",
        "| page | queries | median ms | p95 ms | × floor | req/s at 20 | × floor req/s | p99 ms at 20 | errors |"
        " target | met |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|---|:-:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['page']} | {r['queries'] if r['queries'] is not None else '–'} | {_fmt(r['median_ms'])} |"
            f" {_fmt(r['p95_ms'])} | {_fmt(r['x_floor'], 2)} | {_fmt(r['rps'])} | {_fmt(r['x_floor_rps'], 2)} |"
            f" {_fmt(r['p99_ms_at_20'])} | {r['errors']} | {r['target']} | {_mark(r['met'])} |"
        )
    if sweeps:
        lines += [
            "",
            "Sweeps: the task functions called in-process, as a worker runs them (no Celery worker):"
            " `postmortems.tasks.enforce_deadlines()` once, then `notifications.tasks.outbox_sweep()` until nothing"
            ' is left, into aiosmtpd in its own process. "The SMTP server alone": smtplib sending to it from the'
            " same process, one connection per message as Django's backend does; the outbox cannot beat that.",
            "",
            "| sweep (in-process) | result | target | met |",
            "|---|---|---|:-:|",
        ]
        for s in sweeps:
            lines.append(f"| {s['page']} | {s['value']} | {s['target']} | {_mark(s['met'])} |")
    if extra.get("memory"):
        rss = ", ".join(f"{m['rss_mib']:.0f}" for m in extra["memory"])
        peak = max(m["peak_mib"] for m in extra["memory"])
        lines += ["", f"Web worker memory after the run: RSS {rss} MiB (peak {peak:.0f} MiB)."]
    failed = [r["page"] for r in rows + sweeps if r.get("met") is False]
    lines += ["", f"**Targets missed: {len(failed)}**" + (": " + "; ".join(failed) + "." if failed else ".")]
    if extra.get("server_errors"):
        lines += ["", "## Server errors (from gunicorn's log)", ""]
        for error in extra["server_errors"]:
            lines += [f"`{error['path']}`: {error['error']}", "", "```", error["traceback"], "```", ""]
    client = [r["concurrent"].get("client_cpu") or 0 for r in rows]
    server = [r["concurrent"]["server_cpu"] for r in rows if r["concurrent"].get("server_cpu") is not None]
    if client and server:
        lines += [
            "",
            f"At 20 connections the benchmark's client used at most {max(client):.2f} of a core, and the gunicorn"
            f" workers {min(server):.2f}–{max(server):.2f} cores (of {info['cores']}); PostgreSQL and the other"
            " processes on the machine had the rest.",
        ]
    return "\n".join(lines) + "\n"


def write(info: dict, rows: list[dict], sweeps: list[dict], extra: dict) -> str:
    text = render(info, rows, sweeps, extra)
    (HERE / "results.md").write_text(text)
    (HERE / "results.json").write_text(
        json.dumps({"machine": info, "pages": rows, "sweeps": sweeps, **extra}, indent=2, default=str) + "\n"
    )
    return text
