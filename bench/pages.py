"""The pages and endpoints measured over HTTP, and how: sequentially (each sample followed by a request
for the floor, so both see the same machine), then with 20 connections at once; and, in-process through
Django's test client against the same database, the queries each one runs."""

import itertools
import json
import math
import resource
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from django.db import connection
from django.test import Client as DjangoClient
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from .client import FAILURES, Client, Response, next_link

CONCURRENCY = 20
CONCURRENT_SECONDS = 5.0
# The floor's throughput is taken again just before each page's: on a shared machine it drifts.
FLOOR_BURST_SECONDS = 2.0
SEQUENTIAL_BUDGET = 5.0  # seconds of page + floor requests per page, within the bounds below
LEAST_SAMPLES, MOST_SAMPLES = 5, 40
DEEP_PAGE = 3000  # at scale 1.0; the list has about 4,000 pages of 25

# The median a page may take, as a multiple of the floor's.
RATIO = {"list": 2, "incident": 2, "dashboard": 2, "other": 3, "public": 3, "declare": 3, "webhook": 3}
THROUGHPUT_SHARE = 1 / 3  # of the floor's requests per second at 20 connections


@dataclass
class Page:
    """One thing to measure: a GET of `path`, or a POST whose body `body()` makes afresh for each request."""

    name: str
    group: str
    path: str
    role: str = "responder"  # whose session: responder, admin, or anonymous
    method: str = "GET"
    body: Callable[[], tuple[bytes, dict]] | None = None
    expect: tuple = (200,)
    min_rps: float | None = None  # an absolute throughput target, where the issue sets one
    headers: dict = field(default_factory=dict)  # sent with every request (an API token)

    def call(self, client: Client) -> Response:
        if self.body is None:
            return client.request(self.method, self.path, headers=self.headers or None)
        data, headers = self.body()
        return client.request(self.method, self.path, body=data, headers={**self.headers, **headers})


@dataclass
class Result:
    page: Page
    queries: int | None = None
    query_status: int | str | None = None
    samples: list = field(default_factory=list)
    floor_samples: list = field(default_factory=list)
    sequential_errors: int = 0
    statuses: dict = field(default_factory=dict)
    concurrent: dict = field(default_factory=dict)
    floor_concurrent: dict = field(default_factory=dict)


def percentile(values, share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]  # nearest rank


# --- what to measure ---------------------------------------------------------------------------------------


def _with_query(path: str, **params) -> str:
    parts = urlsplit(path)
    query = dict(parse_qs(parts.query))
    query.update({k: [str(v)] for k, v in params.items()})
    return urlunsplit(("", "", parts.path, urlencode(query, doseq=True), ""))


def deep_list_path(client: Client, depth: int, progress=print) -> tuple[str, int]:
    """A list page `depth` pages in. With page numbers (?page=N in the next link) it is asked for
    directly; with a cursor, the next link is followed page by page, as a reader would. Returns the
    path and how many pages were walked."""
    response = client.get("/incidents/")
    path = "/incidents/"
    nxt = next_link(response.text, path)
    if nxt is None:
        return path, 0
    page_param = parse_qs(urlsplit(nxt).query).get("page", [""])[0]
    if page_param.isdigit():
        return _with_query(nxt, page=depth), 0
    started = time.perf_counter()
    for walked in range(1, depth):
        path = nxt
        response = client.get(path)
        if response.status != 200:
            raise RuntimeError(f"Walking the list: {path} answered {response.status}")
        nxt = next_link(response.text, path)
        if walked % 250 == 0:
            progress(
                f"  walking the incident list: page {walked + 1} of {depth}, {time.perf_counter() - started:.0f} s"
            )
        if nxt is None:
            return path, walked
    return path, depth - 1


def staff_pages(ctx: dict) -> list[Page]:
    """Every staff page, the public status page and feed, and the write endpoints."""
    ref, big = ctx["typical"], ctx["big"]
    year_ago = (timezone.now() - timedelta(days=365)).date()
    date_range = urlencode({"detected_from": year_ago - timedelta(days=30), "detected_to": year_ago})
    return [
        Page("layout alone (base.html, no content)", "reference", "/bench/layout/"),
        Page("dashboard", "dashboard", "/"),
        Page("incident list, page 1", "list", "/incidents/"),
        Page(f"incident list, page {ctx['deep_depth']}", "list", ctx["deep_path"]),
        Page("incident list, open", "list", "/incidents/?status=open"),
        Page("incident list, Sev2", "list", f"/incidents/?severity={ctx['severity']}"),
        Page("incident list, one type", "list", f"/incidents/?type={ctx['type']}"),
        Page("incident list, one service", "list", f"/incidents/?service={ctx['service']}"),
        Page("incident list, a month a year ago", "list", f"/incidents/?{date_range}"),
        Page("incident list, search “gateway”", "list", "/incidents/?q=gateway"),
        Page("incident page (typical)", "incident", f"/incidents/{ref}/"),
        Page(f"incident page ({ctx['big_entries']:,} entries)", "incident", f"/incidents/{big}/"),
        Page("incident history", "other", f"/incidents/{ref}/history/"),
        Page("contacts", "other", "/contacts/"),
        Page("runbooks", "other", "/runbooks/"),
        Page("runbook", "other", f"/runbooks/{ctx['runbook']}/"),
        Page("post-mortems", "other", "/postmortems/"),
        Page("post-mortem page", "other", f"/postmortems/{ref}/"),
        Page("action items", "other", "/postmortems/actions/"),
        Page("admin incident changelist", "other", "/admin/incidents/incident/", role="admin"),
        Page("insights, last 30 days", "other", "/insights/"),
        Page("insights, last 365 days", "other", "/insights/?period=365"),
        Page("search “gateway”", "other", "/search/?q=gateway"),
        Page("printable post-mortem", "other", f"/postmortems/{ref}/print/"),
        Page("API incident list", "other", "/api/v1/incidents/", "anonymous", headers=ctx["api_headers"]),
        Page("API incident", "other", f"/api/v1/incidents/{ref}/", "anonymous", headers=ctx["api_headers"]),
        Page("healthz", "public", "/healthz", role="anonymous", expect=(200, 503)),
        Page("status page", "public", "/status/", role="anonymous"),
        Page("status feed", "public", "/status/feed/", role="anonymous"),
    ]


def declare_page(ctx: dict) -> Page:
    counter = itertools.count(1)
    form = ctx["declare_form"]

    def body():
        data = {**form, "title": f"Bench declaration {ctx['run']}-{next(counter)}"}
        return urlencode(data, doseq=True).encode(), {
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": ctx["origin"],
            "Referer": ctx["origin"] + "/incidents/new/",
        }

    return Page("declare (POST form)", "declare", "/incidents/new/", method="POST", body=body, expect=(302,))


def alertmanager_body(group: str, fingerprint: str, starts_at: str) -> bytes:
    """A webhook as Alertmanager sends it (payload version 4), one firing alert."""
    labels = {"alertname": "BenchHighErrorRate", "severity": "warning", "service": "rpc-gateway"}
    return json.dumps(
        {
            "version": "4",
            "groupKey": group,
            "truncatedAlerts": 0,
            "status": "firing",
            "receiver": "portal",
            "groupLabels": {"alertname": labels["alertname"]},
            "commonLabels": labels,
            "commonAnnotations": {"summary": "Error rate above 5% for 5 minutes"},
            "externalURL": "http://alertmanager.example.com:9093",
            "alerts": [
                {
                    "status": "firing",
                    "labels": labels,
                    "annotations": {"summary": "Error rate above 5% for 5 minutes"},
                    "startsAt": starts_at,
                    "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "http://prometheus.example.com/graph?g0.expr=errors",
                    "fingerprint": fingerprint,
                }
            ],
        }
    ).encode()


def webhook_pages(ctx: dict) -> list[Page]:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {ctx['token']}"}
    starts_at = timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    repeat = alertmanager_body(f'{{}}:{{alertname="BenchRepeat-{ctx["run"]}"}}', f"bench{ctx['run']}r", starts_at)
    counter = itertools.count(1)

    def new_group():
        n = next(counter)
        group = f'{{}}:{{alertname="BenchNew-{ctx["run"]}-{n}"}}'
        return alertmanager_body(group, f"bench{ctx['run']}n{n}", starts_at), headers

    path = "/api/alerts/alertmanager/"
    return [
        Page(
            "webhook, one group repeated", "webhook", path, "anonymous", "POST", lambda: (repeat, headers), min_rps=300
        ),
        Page("webhook, a new group each time", "webhook", path, "anonymous", "POST", new_group, min_rps=100),
    ]


FLOOR = Page("floor (/bench/floor/)", "floor", "/bench/floor/")


# --- measuring ---------------------------------------------------------------------------------------------


def count_queries(page: Page, users: dict) -> tuple[int | None, int | str]:
    """The queries a request runs, in-process (gunicorn cannot say), against the same database: the
    second of two, so that it is the steady state (a repeated webhook is a duplicate by then)."""
    client = DjangoClient(HTTP_HOST="127.0.0.1", raise_request_exception=False)
    if page.role != "anonymous":
        client.force_login(users[page.role])
        _verify_second_factor(client, users[page.role])
    for _ in range(2):
        data, headers = page.body() if page.body else (b"", {})
        headers = {**page.headers, **headers}
        content_type = headers.pop("Content-Type", "application/octet-stream")
        extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
        with CaptureQueriesContext(connection) as queries:
            response = client.generic(page.method, page.path, data, content_type=content_type, secure=True, **extra)
    return len(queries), response.status_code


def _verify_second_factor(client: DjangoClient, user) -> None:
    """A session that has passed the second factor, for a user who has an authenticator app."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is not None:
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()


def _timed_call(page: Page, client: Client) -> tuple[float, int | str]:
    """(seconds, status) of one request; a dropped connection (a worker killed at its timeout) is an error."""
    started = time.perf_counter()
    try:
        response = page.call(client)
    except FAILURES as exc:
        return time.perf_counter() - started, type(exc).__name__
    return response.seconds, response.status


def sequential(page: Page, clients: dict, result: Result) -> None:
    """Samples of the page, each followed by the floor."""
    client, floor_client = clients[page.role], clients["responder"]
    for _ in range(2):  # warm: code paths, caches, connections
        _timed_call(page, client)
        _timed_call(FLOOR, floor_client)
    started = time.monotonic()
    while len(result.samples) < MOST_SAMPLES and (
        len(result.samples) < LEAST_SAMPLES or time.monotonic() - started < SEQUENTIAL_BUDGET
    ):
        seconds, status = _timed_call(page, client)
        result.samples.append(seconds)
        result.statuses[status] = result.statuses.get(status, 0) + 1
        if status not in page.expect:
            result.sequential_errors += 1
        result.floor_samples.append(_timed_call(FLOOR, floor_client)[0])


def concurrent(page: Page, port: int, cookies: dict, server, seconds: float = CONCURRENT_SECONDS) -> dict:
    """CONCURRENCY connections asking for the page as fast as they are answered, for `seconds`."""
    barrier = threading.Barrier(CONCURRENCY + 1)
    lock = threading.Lock()
    latencies, errors, statuses, ends = [], [], {}, []

    def worker():
        client = Client(port, cookies.get(page.role))
        barrier.wait()
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            try:
                response = page.call(client)
            except FAILURES as exc:  # an error to count, not to stop on
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")
                    ends.append(time.perf_counter())
                client.close()
                continue
            with lock:
                latencies.append(response.seconds)
                statuses[response.status] = statuses.get(response.status, 0) + 1
                if response.status not in page.expect:
                    errors.append(f"HTTP {response.status}")
                ends.append(time.perf_counter())
        client.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(CONCURRENCY)]
    for thread in threads:
        thread.start()
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    server_before = server.cpu_seconds()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = max(ends, default=started) - started
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    client_cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    done = len(latencies) + sum(1 for e in errors if not e.startswith("HTTP"))
    return {
        "requests": done,
        "seconds": round(elapsed, 2),
        "rps": done / elapsed if elapsed > 0 else 0.0,
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "errors": len(errors),
        "error_kinds": sorted(set(errors))[:5],
        "statuses": statuses,
        # Cores' worth of CPU the client and the gunicorn workers used: the client must not be the limit.
        "client_cpu": round(client_cpu / elapsed, 2) if elapsed > 0 else None,
        "server_cpu": round((server.cpu_seconds() - server_before) / elapsed, 2) if elapsed > 0 else None,
    }


def measure(pages: list[Page], port: int, cookies: dict, users: dict, server, progress=print) -> list[Result]:
    clients = {role: Client(port, jar) for role, jar in cookies.items()}
    results = []
    for page in pages:
        result = Result(page)
        result.queries, result.query_status = count_queries(page, users)
        sequential(page, clients, result)
        result.floor_concurrent = concurrent(FLOOR, port, cookies, server, FLOOR_BURST_SECONDS)
        result.concurrent = concurrent(page, port, cookies, server)
        results.append(result)
        progress(
            f"  {page.name:<44} {statistics.median(result.samples) * 1000:8.1f} ms"
            f" (floor {statistics.median(result.floor_samples) * 1000:5.1f})"
            f" {result.concurrent['rps']:7.1f} req/s (floor {result.floor_concurrent['rps']:5.0f})"
            f"  {result.queries} queries"
            + (
                f"  {result.sequential_errors + result.concurrent['errors']} errors"
                if result.sequential_errors or result.concurrent["errors"]
                else ""
            )
        )
    for client in clients.values():
        client.close()
    return results
