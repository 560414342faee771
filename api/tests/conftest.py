"""Fixtures for the API's tests: tokens by scope, and an API client that sends one."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from api import services
from postmortems.tests.conftest import commander, postmortem, resolved_incident  # noqa: F401  (shared fixtures)


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    # The throttle counts in the default (local-memory) cache, which outlives a test's transaction.
    cache.clear()
    yield
    cache.clear()


def make_token(user, scope="write", days=30, name="script"):
    """(row, text) of a new token of `user`."""
    return services.token_create(
        user=user, actor=user, name=name, scope=scope, expires_at=timezone.now() + timedelta(days=days)
    )


class Api(APIClient):
    """An APIClient sending JSON with a bearer token."""

    def as_token(self, text):
        self.credentials(HTTP_AUTHORIZATION=f"Bearer {text}")
        return self

    def post(self, path, data=None, format="json", **kwargs):
        return super().post(path, data, format=format, **kwargs)

    def patch(self, path, data=None, format="json", **kwargs):
        return super().patch(path, data, format=format, **kwargs)


@pytest.fixture
def api():
    return Api()


@pytest.fixture
def writer(responder):
    """A write token of Rita (Responders)."""
    token, text = make_token(responder, "write")
    token.text = text
    return token


@pytest.fixture
def reader(responder):
    token, text = make_token(responder, "read")
    token.text = text
    return token


@pytest.fixture
def rita(api, writer):
    """The API as Rita with her write token."""
    return api.as_token(writer.text)
