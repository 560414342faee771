"""Who and why: the actor and reason that history rows are attributed to."""

from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory

from audit import actors
from audit.middleware import AuditReasonMiddleware


def _reason_row():
    return SimpleNamespace(history_change_reason="")


def _fill(row):
    actors._fill_change_reason(sender=None, history_instance=row)
    return row.history_change_reason


@pytest.mark.django_db
def test_acting_as_wins_over_the_request_user_and_nests():
    outer, inner = get_user_model()(username="outer"), get_user_model()(username="inner")
    request = SimpleNamespace(user=SimpleNamespace(is_authenticated=True))

    assert actors.get_history_user(None, request=request) is request.user
    with actors.acting_as(outer, "outer reason"):
        assert actors.get_history_user(None, request=request) is outer
        with actors.acting_as(inner, "inner reason"):
            assert actors.get_history_user(None) is inner
            assert _fill(_reason_row()) == "inner reason"
        assert actors.get_history_user(None) is outer
        assert _fill(_reason_row()) == "outer reason"
    assert actors.get_history_user(None, request=SimpleNamespace(user=AnonymousUser())) is None


def test_an_explicit_reason_is_kept_and_a_long_typed_reason_is_kept_whole():
    row = SimpleNamespace(history_change_reason="Severity changed: load shed")
    with actors.acting_as(None, "something else"):
        assert _fill(row) == "Severity changed: load shed"
    with actors.acting_as(None, "x" * 2000):
        assert len(_fill(_reason_row())) == 2000


@pytest.mark.django_db
def test_system_user_is_one_inactive_account_that_cannot_log_in():
    first = actors.system_user()
    second = actors.system_user()

    assert first.pk == second.pk
    assert not first.is_active
    assert not first.has_usable_password()


def test_middleware_names_the_request_as_the_default_reason_and_forgets_it_after():
    seen = []
    middleware = AuditReasonMiddleware(lambda request: seen.append(_fill(_reason_row())) or "response")

    assert middleware(RequestFactory().post("/admin/incidents/contact/3/change/")) == "response"
    middleware(RequestFactory().get("/contacts/"))

    assert seen == ["admin: POST /admin/incidents/contact/3/change/", "web: GET /contacts/"]
    assert _fill(_reason_row()) == ""
