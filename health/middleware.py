"""Request latency for /metrics, labelled by view (never by raw path) so the series stay few."""

import time

from portal.metrics import REQUEST_LATENCY

METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def view_label(request) -> str:
    """The URL's name with its namespace ("incidents:detail"), else its route pattern; "unmatched" for a 404
    that matched no URL (a raw path would let any client add series without end)."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return match.view_name if match.url_name else (match.route or "unmatched")


class RequestLatencyMiddleware:
    """Times every request the portal's URLs answer into portal_http_request_duration_seconds."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        method = request.method if request.method in METHODS else "other"
        REQUEST_LATENCY.labels(view_label(request), method, f"{response.status_code // 100}xx").observe(elapsed)
        return response
