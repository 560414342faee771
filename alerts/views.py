"""Alertmanager's webhook receiver. Authenticated by bearer token, never by session, so
they are exempt from CSRF (there is no cookie for a forger to ride on)."""

import hmac
import logging

from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from portal.metrics import count_webhook_outcomes

from .payload import PayloadError, parse_payload
from .services import alerts_receive

logger = logging.getLogger(__name__)


def _bearer_ok(request) -> bool:
    expected = settings.ALERTMANAGER_WEBHOOK_TOKEN
    if not expected:
        return False  # not configured: the endpoint is off
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    return hmac.compare_digest(token.strip().encode(), expected.encode())


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"status": "error", "error": message}, status=status)


@csrf_exempt
@count_webhook_outcomes
@require_POST
def alertmanager_webhook(request):
    """Alertmanager's webhook receiver (payload version 4)."""
    if not _bearer_ok(request):
        response = _error(401, "A valid bearer token is required.")
        response["WWW-Authenticate"] = 'Bearer realm="alertmanager"'
        return response
    limit = settings.ALERTMANAGER_MAX_BODY_BYTES
    try:
        declared_length = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        return _error(400, "Invalid Content-Length.")
    if declared_length > limit:
        return _error(413, f"The payload is larger than {limit} bytes.")
    body = request.read(limit + 1)
    if len(body) > limit:
        return _error(413, f"The payload is larger than {limit} bytes.")
    try:
        payload = parse_payload(body)
    except PayloadError as exc:
        logger.info("Alertmanager payload refused: %s", exc)
        return _error(400, str(exc))
    counts = alerts_receive(payload=payload)
    logger.info("Alertmanager group %s: %s", payload.group_key, counts)
    return JsonResponse({"status": "ok", "alerts": counts})
