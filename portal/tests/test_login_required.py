"""Every URL of the portal asks for a login, except the pages meant to be public.

Walks the whole URLconf, so a view added without its LoginRequired/permission
check fails here even if nobody wrote a test for it."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

# healthz and metrics are for probes and Prometheus, not people: no incident data, and /metrics needs its own token.
PUBLIC_PREFIXES = ("status/", "accounts/login/", "accounts/logout/", "api/", "healthz", "metrics")
SAMPLES = {"int": "1", "slug": "sample", "str": "INC-2026-0001", "path": "x"}


def _walk(patterns, prefix=""):
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            if route.startswith("admin/"):
                continue  # the admin has its own login, tested in test_audit
            yield from _walk(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            yield route


def _sample(route: str) -> str:
    return "/" + re.sub(r"<(?:(\w+):)?\w+>", lambda m: SAMPLES[m.group(1) or "str"], route).lstrip("^").rstrip("$")


ROUTES = sorted(set(_walk(get_resolver().url_patterns)))
PRIVATE = [route for route in ROUTES if not route.startswith(PUBLIC_PREFIXES)]


def test_the_walk_finds_the_pages():
    assert {"", "incidents/", "postmortems/", "contacts/"} <= set(PRIVATE)


@pytest.mark.parametrize("route", PRIVATE)
@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_requests_go_to_the_login_page(client, db, route, method):
    response = getattr(client, method)(_sample(route))

    if method == "get" and response.status_code == 405:
        return  # a POST-only action refuses GET before anything else, revealing nothing
    assert response.status_code == 302, (route, response.status_code)
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("route", [r for r in ROUTES if r.startswith("status/")])
def test_status_pages_are_public(client, db, route):
    assert client.get(_sample(route)).status_code in {200, 400, 404, 405}


def test_the_alert_webhook_needs_its_token_not_a_login(client, db, settings):
    settings.ALERTMANAGER_WEBHOOK_TOKEN = "t" * 32

    assert client.post("/api/alerts/alertmanager/", data="{}", content_type="application/json").status_code == 401


# Everyone signed in may set their own time zone and manage their own API tokens, Viewers included;
# it changes nothing shared.
OWN_SETTINGS = ("account/", "account/tokens/", "account/tokens/<int:pk>/revoke/")
# ...and their own second factor (people.views: set up, verify, recovery codes, turn off).
OWN_SETTINGS += tuple(route for route in PRIVATE if route.startswith("account/two-factor/"))


@pytest.mark.parametrize("route", [r for r in PRIVATE if r not in OWN_SETTINGS])
def test_a_viewer_cannot_write_anywhere(client, viewer, incident, route):
    client.force_login(viewer)

    response = client.post(_sample(route), {"note": "x", "text": "x", "reason": "x"})

    # 403 for actions, 405 for read-only pages: never a change, never a redirect after one.
    assert response.status_code in {403, 405}, (route, response.status_code)
