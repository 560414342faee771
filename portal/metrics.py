"""The portal's in-process Prometheus metrics, counted where things happen and exposed by /metrics (health.views).

Plumbing like portal.display: it imports no app, so any app may count here. With PROMETHEUS_MULTIPROC_DIR
set before start-up, prometheus-client keeps these in files shared by gunicorn's worker processes;
otherwise each process counts on its own and a scrape sees only the worker that answered it.
"""

import functools

from prometheus_client import Counter, Histogram

# Alertmanager webhook requests (alerts.views) by how the portal answered them.
WEBHOOK_OUTCOMES = ("accepted", "unauthorized", "rejected", "error")
WEBHOOK_REQUESTS = Counter(
    "portal_alertmanager_webhook_requests",
    "Alertmanager webhook requests by outcome: accepted (2xx), unauthorized (401: missing or wrong token, "
    "or the endpoint is off), rejected (other 4xx: malformed, too large) and error (5xx or an exception).",
    ["outcome"],
)
for _outcome in WEBHOOK_OUTCOMES:
    WEBHOOK_REQUESTS.labels(_outcome)  # every series exists from the start, so rate() sees the first one

REQUEST_LATENCY = Histogram(
    "portal_http_request_duration_seconds",
    "Time to answer a request, by view (URL name, or route), method and status class (2xx, 4xx ...).",
    ["view", "method", "status"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, float("inf")),
)


def webhook_outcome(status_code: int) -> str:
    if status_code < 400:
        return "accepted"
    if status_code == 401:
        return "unauthorized"
    if status_code < 500:
        return "rejected"
    return "error"


def count_webhook_outcomes(view):
    """Count each answer of an Alertmanager webhook view in WEBHOOK_REQUESTS (an exception counts as an error)."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            response = view(request, *args, **kwargs)
        except Exception:
            WEBHOOK_REQUESTS.labels("error").inc()
            raise
        WEBHOOK_REQUESTS.labels(webhook_outcome(response.status_code)).inc()
        return response

    return wrapper
