"""/healthz and /metrics: for load balancers, uptime probes and Prometheus, not for people.

Neither needs a login (they are in the public prefixes of portal/tests/test_login_required.py);
/healthz shows only the portal's own machinery and /metrics needs its bearer token.
"""

import hmac

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .metrics import scrape_registry
from .probes import health_report


@never_cache
@require_safe
def healthz(request):
    """200 with {"status": "ok", ...} when the database and broker answer and every sweep ran recently;
    503 with the same document, "status": "unhealthy" and its "reasons", otherwise."""
    report = health_report(timezone.now())
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)


def _bearer_token(request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


@never_cache
@require_safe
def metrics(request):
    """Prometheus text format, for a scraper presenting METRICS_TOKEN as a bearer token.

    403 while METRICS_TOKEN is not set (the endpoint is off, and says so); 401 with a
    WWW-Authenticate challenge for a missing or wrong token.
    """
    expected = settings.METRICS_TOKEN
    if not expected:
        return HttpResponse(
            "Metrics are off: set METRICS_TOKEN to turn them on.\n", status=403, content_type="text/plain"
        )
    token = _bearer_token(request)
    if not token or not hmac.compare_digest(token.encode(), expected.encode()):
        response = HttpResponse(
            "A valid bearer token is required (Authorization: Bearer <METRICS_TOKEN>).\n",
            status=401,
            content_type="text/plain",
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(scrape_registry()), content_type=CONTENT_TYPE_LATEST)
