"""Alertmanager's webhook body (payload version 4), validated strictly.

`parse_payload` turns a request body into validated `AlertIn` values or raises
`PayloadError` (the view answers 400 with its message).
"""

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime

from django.utils.dateparse import parse_datetime

from .models import Alert

SUPPORTED_VERSION = "4"
MAX_ALERTS = 1000
MAX_STRING = 10_000
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)


class PayloadError(ValueError):
    """The body is not a valid Alertmanager v4 webhook payload; the message says why."""


@dataclass(frozen=True)
class AlertIn:
    status: str
    labels: dict
    annotations: dict
    starts_at: datetime
    ends_at: datetime | None
    generator_url: str
    fingerprint: str
    raw: dict


@dataclass(frozen=True)
class PayloadIn:
    group_key: str
    status: str
    alerts: list[AlertIn]


def _reject_constant(name):
    raise PayloadError(f"Invalid JSON: {name} is not allowed.")


def _finite_float(text: str) -> float:
    # 1e999 parses as infinity, which PostgreSQL's JSON types cannot hold.
    value = float(text)
    if not math.isfinite(value):
        raise PayloadError(f"Invalid JSON: the number {text[:20]} is out of range.")
    return value


def _bounded_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:  # more digits than Python converts (4,300)
        raise PayloadError(f"Invalid JSON: an integer of {len(text)} digits is out of range.") from None


def _check_strings(value, path="payload"):
    """PostgreSQL cannot store NUL characters or lone surrogates; refuse them up front."""
    if isinstance(value, str):
        if "\x00" in value:
            raise PayloadError(f"{path} contains a NUL character.")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise PayloadError(f"{path} is not valid UTF-8 text.") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings(key, path)
            _check_strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_strings(item, f"{path}[{index}]")


def _string(obj: dict, name: str, path: str, *, required=True, max_length=MAX_STRING) -> str:
    value = obj.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise PayloadError(f"{path}.{name} must be a string.")
    if required and not value:
        raise PayloadError(f"{path}.{name} must not be empty.")
    if len(value) > max_length:
        raise PayloadError(f"{path}.{name} is longer than {max_length} characters.")
    return value


def _string_map(obj: dict, name: str, path: str) -> dict:
    value = obj.get(name, {})
    if value is None:
        value = {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise PayloadError(f"{path}.{name} must be an object of strings.")
    return value


def _timestamp(obj: dict, name: str, path: str, *, required=True) -> datetime | None:
    text = _string(obj, name, path, required=required, max_length=64)
    if not text:
        return None
    try:
        value = parse_datetime(text)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise PayloadError(f"{path}.{name} is not an RFC 3339 timestamp.")
    try:
        value = value.astimezone(UTC)
    except OverflowError:
        raise PayloadError(f"{path}.{name} is out of range.") from None
    # Alertmanager sends 0001-01-01T00:00:00Z for "no end yet".
    return value if value >= EARLIEST else None


def parse_payload(body: bytes) -> PayloadIn:
    """Validate an Alertmanager webhook body strictly; raise PayloadError with a reason."""
    try:
        data = json.loads(
            body.decode("utf-8"), parse_constant=_reject_constant, parse_float=_finite_float, parse_int=_bounded_int
        )
    except UnicodeDecodeError:
        raise PayloadError("The body is not UTF-8.") from None
    except (json.JSONDecodeError, RecursionError) as exc:
        raise PayloadError(f"Invalid JSON: {exc}"[:200]) from None
    if not isinstance(data, dict):
        raise PayloadError("The payload must be a JSON object.")
    _check_strings(data)
    version = data.get("version")
    if version != SUPPORTED_VERSION:
        raise PayloadError(f"Unsupported payload version {version!r}; expected {SUPPORTED_VERSION!r}.")
    group_key = _string(data, "groupKey", "payload")
    status = data.get("status")
    if status not in Alert.Status.values:
        raise PayloadError("payload.status must be 'firing' or 'resolved'.")
    alerts = data.get("alerts")
    if not isinstance(alerts, list) or not alerts:
        raise PayloadError("payload.alerts must be a non-empty list.")
    if len(alerts) > MAX_ALERTS:
        raise PayloadError(f"payload.alerts holds more than {MAX_ALERTS} alerts.")
    parsed = []
    for index, raw in enumerate(alerts):
        path = f"alerts[{index}]"
        if not isinstance(raw, dict):
            raise PayloadError(f"{path} must be an object.")
        alert_status = raw.get("status")
        if alert_status not in Alert.Status.values:
            raise PayloadError(f"{path}.status must be 'firing' or 'resolved'.")
        starts_at = _timestamp(raw, "startsAt", path)
        if starts_at is None:
            raise PayloadError(f"{path}.startsAt is before the year 2000.")
        parsed.append(
            AlertIn(
                status=alert_status,
                labels=_string_map(raw, "labels", path),
                annotations=_string_map(raw, "annotations", path),
                starts_at=starts_at,
                ends_at=_timestamp(raw, "endsAt", path, required=False),
                generator_url=_string(raw, "generatorURL", path, required=False),
                fingerprint=_string(raw, "fingerprint", path, max_length=100),
                raw=raw,
            )
        )
    return PayloadIn(group_key=group_key, status=status, alerts=parsed)
