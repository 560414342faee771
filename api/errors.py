"""One error format for every refusal the API makes:

    {"error": {"code": "invalid", "message": "…", "fields": {"title": ["This field is required."]}}}

`code` is stable and meant for programs; `message` is for people; `fields` (only when
the refusal is about fields of the request) maps each field to its messages, nested
fields joined by dots ("services.1"). A service's refusal (Django's ValidationError)
is a 400 with its messages; an error nobody foresaw is logged and answered as a 500
in the same format."""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

logger = logging.getLogger(__name__)

NON_FIELD = "non_field_errors"

# APIException classes -> the code the body carries.
CODES = [
    (exceptions.ParseError, "malformed"),
    (exceptions.ValidationError, "invalid"),
    (exceptions.NotAuthenticated, "not_authenticated"),
    (exceptions.AuthenticationFailed, "authentication_failed"),
    (exceptions.PermissionDenied, "permission_denied"),
    (exceptions.NotFound, "not_found"),
    (exceptions.MethodNotAllowed, "method_not_allowed"),
    (exceptions.NotAcceptable, "not_acceptable"),
    (exceptions.UnsupportedMediaType, "unsupported_media_type"),
    (exceptions.Throttled, "rate_limited"),
]


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "too_large"


class Refused(exceptions.APIException):
    """A service refused the action (a Django ValidationError): the rules, not the request's shape."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "refused"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The change conflicts with another one; read the object again and retry."
    default_code = "conflict"


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    error = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return {"error": error}


def flatten(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as {"field.sub": [messages]}."""
    if isinstance(detail, dict):
        items = detail.items()
    elif isinstance(detail, list) and any(isinstance(d, (dict, list)) for d in detail):
        items = ((str(i), d) for i, d in enumerate(detail) if d)
    else:
        messages = detail if isinstance(detail, list) else [detail]
        return {prefix or NON_FIELD: [str(m) for m in messages]}
    fields: dict[str, list[str]] = {}
    for key, value in items:
        name = f"{prefix}.{key}" if prefix else str(key)
        for field, messages in flatten(value, name).items():
            fields.setdefault(field, []).extend(messages)
    return fields


def _django_validation(exc: DjangoValidationError) -> exceptions.APIException:
    if hasattr(exc, "error_dict"):
        fields = {name: list(messages) for name, messages in exc.message_dict.items()}
        refusal = Refused(" ".join(m for ms in fields.values() for m in ms))
        refusal.fields = {k: v for k, v in fields.items() if k != "__all__"}
        return refusal
    return Refused(" ".join(exc.messages))


def _code(exc: exceptions.APIException) -> str:
    for cls, code in CODES:
        if isinstance(exc, cls):
            return code
    return getattr(exc, "default_code", "error")


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = _django_validation(exc)
    elif isinstance(exc, IntegrityError):
        exc = Conflict()
    elif isinstance(exc, DataError):
        exc = exceptions.ValidationError("A value is out of the range the database holds.")
    elif isinstance(exc, RequestDataTooBig):
        exc = RequestTooLarge()
    elif isinstance(exc, SuspiciousOperation):
        exc = exceptions.ParseError(str(exc) or "The request is malformed.")
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)

    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("API request failed", exc_info=exc)
        set_rollback()
        return Response(error_body("server_error", "Something went wrong on our side; it has been logged."), status=500)

    code = _code(exc)
    fields = getattr(exc, "fields", None)
    if isinstance(exc, exceptions.ValidationError):
        fields = flatten(exc.detail)
        general = fields.pop(NON_FIELD, [])
        message = " ".join(general) if general else "Some fields are not valid: see fields."
    else:
        message = str(exc.detail)
    response.data = error_body(code, message, fields)
    return response
