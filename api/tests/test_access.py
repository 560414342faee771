"""Every address under /api/v1/ needs a token (walked from api.urls, so a new endpoint
is covered without a test of its own); a read token never writes; a permission the
page asks for is asked for here too; and each token is rate-limited."""

import re

import pytest
from django.urls import URLPattern, URLResolver

from api import urls as api_urls
from api.views import ApiView
from incidents.models import Incident, StatusUpdate, TimelineEntry
from postmortems.models import ActionItem

from .conftest import make_token

SAMPLES = {"int": "1", "str": "INC-2026-0001"}
METHODS = ["get", "post", "patch", "put", "delete"]


def _walk(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry


def _sample(route: str) -> str:
    if route == r"^[\s\S]*$":
        return "/api/v1/no/such/thing"
    return "/api/v1/" + re.sub(r"<(?:(\w+):)?\w+>", lambda m: SAMPLES[m.group(1) or "str"], route)


ROUTES = sorted(route for route, _ in _walk(api_urls.urlpatterns))


def test_the_walk_finds_the_endpoints():
    assert {"", "schema/", "incidents/", "incidents/<str:reference>/transition/", "contacts/"} <= set(ROUTES)
    assert len(ROUTES) >= 18


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("method", METHODS)
def test_every_endpoint_answers_401_json_without_a_token(api, db, route, method):
    response = getattr(api, method)(_sample(route))

    assert response.status_code == 401, (route, method, response.status_code)
    assert response["Content-Type"] == "application/json"
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json()["error"]["code"] == "not_authenticated"


def test_every_endpoint_states_the_permissions_of_its_page():
    """Each write names a permission (a view without one would be open to any token's owner)."""
    for _, pattern in _walk(api_urls.urlpatterns):
        view = pattern.callback.view_class
        if not issubclass(view, ApiView) or view.__name__ in {"RootView", "NotFoundView"}:
            continue
        for method in ("get", "post", "patch"):
            if hasattr(view, method):
                assert view.required_permissions.get(method.upper()), (view.__name__, method)


def test_an_unknown_address_is_a_json_404_that_points_at_the_slash(rita):
    missing = rita.get("/api/v1/no/such/thing/")
    slashless = rita.get("/api/v1/incidents")

    assert missing.status_code == slashless.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert "/api/v1/incidents/" in slashless.json()["error"]["message"]


def test_a_method_an_endpoint_lacks_is_a_405(rita, incident):
    response = rita.delete(f"/api/v1/incidents/{incident.reference}/")

    assert response.status_code == 405 and response.json()["error"]["code"] == "method_not_allowed"


def _counts():
    return (
        Incident.objects.count(),
        Incident.history.count(),
        TimelineEntry.objects.count(),
        StatusUpdate.objects.count(),
        ActionItem.objects.count(),
    )


def test_a_read_token_reads_and_is_refused_every_write_with_nothing_changed(api, reader, incident):
    api.as_token(reader.text)
    ref = incident.reference
    before = _counts()

    writes = [
        api.post("/api/v1/incidents/", {"title": "x"}),
        api.post(f"/api/v1/incidents/{ref}/transition/", {"action": "acknowledge"}),
        api.post(f"/api/v1/incidents/{ref}/severity/", {"severity": 2, "reason": "x"}),
        api.post(f"/api/v1/incidents/{ref}/notes/", {"text": "x"}),
        api.post(f"/api/v1/incidents/{ref}/updates/", {"audience": "internal", "body": "x"}),
        api.patch(f"/api/v1/postmortems/{ref}/", {"primary_cause": "x"}),
        api.post("/api/v1/action-items/1/status/", {"status": "done"}),
    ]

    assert api.get(f"/api/v1/incidents/{ref}/").status_code == 200
    for response in writes:
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "permission_denied"
        assert "read-only" in response.json()["error"]["message"]
    assert _counts() == before


def test_the_rate_limit_is_per_token_and_answers_429_json(api, responder, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"token": "3/min"}}
    _, first = make_token(responder, name="one")
    _, second = make_token(responder, name="two")

    answers = [api.as_token(first).get("/api/v1/").status_code for _ in range(4)]
    other = api.as_token(second).get("/api/v1/")
    limited = api.as_token(first).get("/api/v1/")

    assert answers == [200, 200, 200, 429]
    assert other.status_code == 200  # another token has its own count
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert 0 < int(limited["Retry-After"]) <= 60


@pytest.mark.parametrize("rate", ["600/min", "10/s", "1/day", "5000/hour"])
def test_rates_are_read_like_drfs(rate):
    from api.throttles import parse_rate

    number, seconds = parse_rate(rate)
    assert number >= 1 and seconds in {1, 60, 3600, 86400}


@pytest.mark.parametrize("rate", ["", "600", "0/min", "-1/min", "x/min", "10/fortnight", "1.5/s"])
def test_a_malformed_rate_fails_the_system_check(settings, rate):
    from api.checks import api_rate_check

    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"token": rate}}

    [error] = api_rate_check(None)
    assert error.id == "api.E001"
