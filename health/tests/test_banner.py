"""The health banner on signed-in pages: a stale sweep or a stuck outbox, with since when; nothing when healthy."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from notifications.models import OutboxMessage
from portal.testing import plan_problems

from .conftest import T0, beat, beat_all

M = OutboxMessage


def message(key, status=M.Status.PENDING, **fields):
    """Test data: an outbox message written directly, as the delivery left it."""
    return M.objects.create(
        key=key, channel=M.Channel.EMAIL, recipients=["a@example.com"], body_text="x", status=status, **fields
    )


def banner(response) -> str:
    content = response.content.decode()
    start = content.find('data-testid="health-banner"')
    return "" if start < 0 else content[start : content.index("</aside>", start)]


@pytest.fixture
def rclient(client, responder):
    client.force_login(responder)
    return client


def test_no_banner_when_every_sweep_is_fresh_and_the_outbox_is_fine(rclient, at):
    beat_all(T0)
    message("sent", M.Status.SENT, sent_at=T0)
    message("due", next_attempt_at=T0 + timedelta(seconds=50))  # due 2 min before the page: a sweep or two late
    at(170)

    response = rclient.get("/")

    assert response.status_code == 200
    assert banner(response) == ""
    assert "health-banner" not in response.content.decode()


def test_a_stale_sweep_shows_on_every_page_with_since_when(rclient, at):
    beat_all(T0)
    at(4 * 60)
    beat_all(T0 + timedelta(minutes=4), except_=("outbox",))

    for url in ("/", "/incidents/", "/postmortems/", "/contacts/"):
        text = banner(rclient.get(url))
        assert "The outbox sweep (delivery of emails and Slack messages) has not run since 27 Nov 03:00 UTC" in text, (
            url
        )
        assert "(4 min ago)" in text
        assert 'data-kind="sweep"' in text
        assert "deadlines" not in text


def test_since_when_is_shown_in_the_persons_own_time_zone(client, responder, at):
    from people.services import profile_update

    profile_update(user=responder, actor=responder, time_zone="Europe/Berlin")
    client.force_login(responder)  # the zone is read at sign-in
    beat("cadence", T0)
    beat_all(T0 + timedelta(minutes=10), except_=("cadence",))
    at(10 * 60)

    assert "has not run since 27 Nov 04:00 CET" in banner(client.get("/"))


def test_a_sweep_that_never_ran_shows_no_banner(rclient, at):
    """A fresh install has no heartbeat for its first minute; /healthz and /metrics report it, not the banner."""
    beat_all(T0, except_=("broadcasts",))

    assert banner(rclient.get("/")) == ""


def test_failed_outbox_messages_show_with_the_first_failure(rclient, at):
    beat_all(T0)
    message("failed-1", M.Status.FAILED)
    at(60)
    message("failed-2", M.Status.FAILED)
    beat_all(T0 + timedelta(seconds=60))
    at(120)

    text = banner(rclient.get("/"))

    assert "2 outbox messages failed for good and will not be sent since 27 Nov 03:00 UTC (2 min ago)" in text
    assert "admin/notifications/outboxmessage" not in text  # the admin link is for staff only


def test_staff_get_a_link_to_the_failed_messages(client, portal_admin, at):
    beat_all(T0)
    message("failed", M.Status.FAILED)
    client.force_login(portal_admin)

    text = banner(client.get("/"))

    assert "1 outbox message failed for good" in text
    assert "/admin/notifications/outboxmessage/?status__exact=failed" in text


def test_messages_pending_past_their_retry_time_show(rclient, at):
    beat_all(T0)
    message("stuck", next_attempt_at=T0 - timedelta(minutes=3, seconds=1), attempts=2)
    message("waiting", next_attempt_at=T0 + timedelta(minutes=8), attempts=3)  # backing off: not late

    text = banner(rclient.get("/"))

    assert "1 outbox message past its retry time and not sent since 27 Nov 02:56 UTC (3 min ago)" in text


def test_anonymous_pages_show_no_banner_and_run_no_health_query(client, db):
    message("failed", M.Status.FAILED)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/accounts/login/")

    assert response.status_code == 200
    assert "health-banner" not in response.content.decode()
    assert not [q for q in ctx.captured_queries if "health_heartbeat" in q["sql"] or "outbox" in q["sql"]]


def count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def stuck(prefix: str, count: int) -> None:
    now = timezone.now()
    M.objects.bulk_create(
        [
            M(key=f"{prefix}-{status}-{i}", channel=M.Channel.EMAIL, body_text="x", status=status, next_attempt_at=due)
            for i in range(count)
            for status, due in ((M.Status.FAILED, now), (M.Status.PENDING, now - timedelta(hours=1)))
        ]
    )


def test_the_banner_costs_two_indexed_queries_whatever_the_outbox_holds(rclient):
    beat_all(timezone.now() - timedelta(hours=1))  # every sweep stale
    stuck("a", 5)
    with_5 = count_queries(rclient, "/")
    stuck("b", 45)
    M.objects.bulk_create(
        [M(key=f"sent-{i}", channel=M.Channel.EMAIL, body_text="x", status=M.Status.SENT) for i in range(2000)]
    )
    with CaptureQueriesContext(connection) as ctx:
        response = rclient.get("/")
    with_50 = len(ctx.captured_queries)

    assert "50 outbox messages failed" in banner(response)
    assert with_5 == with_50
    health_queries = [q for q in ctx.captured_queries if "health_heartbeat" in q["sql"] or "outbox" in q["sql"]]
    assert len(health_queries) == 2
    # Sent messages (most of the table, for ever) are never read: the partial indexes serve both conditions.
    assert plan_problems(health_queries, {"notifications_outboxmessage"}) == []


def health_queries(client, url) -> tuple[str, int]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return banner(response), len(
        [q for q in ctx.captured_queries if "health_heartbeat" in q["sql"] or "outbox" in q["sql"]]
    )


def test_the_findings_are_cached_for_the_configured_seconds(rclient, settings, at):
    settings.HEALTH_BANNER_CACHE_SECONDS = 30
    beat_all(T0)
    at(60)
    assert health_queries(rclient, "/") == ("", 2)
    message("failed", M.Status.FAILED)

    at(89)
    assert health_queries(rclient, "/") == ("", 0)  # the answer from 60 s, kept for 30 s, at no cost

    at(91)
    text, queries = health_queries(rclient, "/")
    assert "1 outbox message failed" in text
    assert queries == 2
