"""Cursor pagination (portal.pagination) on real rows: walking the pages forward,
then back, gives every row once and in order, whatever the ties, page size or
partitions; a cursor from anywhere else gives the first page."""

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from django.db.models import Q
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incidents.models import Incident, Severity, TimelineEntry
from incidents.tests.factories import declare
from portal.pagination import AFTER, BEFORE, CappedCountPaginator, keyset_page

pytestmark = pytest.mark.django_db

BASE = datetime(2026, 1, 1, tzinfo=UTC)


def walk(queryset, ordering, per_page, partitions=None):
    """Every page forward from the first, then every page back from the last."""
    forward, params = [], {}
    while True:
        page = keyset_page(queryset, ordering, params, per_page=per_page, partitions=partitions)
        forward.append([row.pk for row in page])
        if not page.has_next:
            break
        params = {AFTER: page.next_cursor}
    backward = []
    while page.has_previous and page.previous_cursor:
        page = keyset_page(queryset, ordering, {BEFORE: page.previous_cursor}, per_page=per_page, partitions=partitions)
        backward.append([row.pk for row in page])
    return forward, backward[::-1]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    minutes=st.lists(st.integers(min_value=0, max_value=5), max_size=40),
    per_page=st.integers(min_value=1, max_value=7),
    newest_first=st.booleans(),
)
def test_pages_forward_and_back_hold_every_row_once_in_order(responder, minutes, per_page, newest_first):
    with transaction.atomic():
        incident = declare(responder)
        TimelineEntry.objects.filter(incident=incident).delete()
        TimelineEntry.objects.bulk_create(
            TimelineEntry(incident=incident, kind="note", text=str(i), occurred_at=BASE + timedelta(minutes=m))
            for i, m in enumerate(minutes)  # few distinct moments: many ties, broken by the id
        )
        entries = TimelineEntry.objects.filter(incident=incident)
        ordering = ["-occurred_at", "-id"] if newest_first else ["occurred_at", "id"]
        expected = list(entries.order_by(*ordering).values_list("pk", flat=True))
        forward, backward = walk(entries, ordering, per_page)
        assert [pk for page in forward for pk in page] == expected
        assert all(len(page) == per_page for page in forward[:-1])
        assert backward == forward[:-1]  # back from the last page, the same pages
        transaction.set_rollback(True)


def test_partitions_page_like_the_join_without_sorting_the_table(responder):
    levels = [1, 3, 2, 4, 1, 1, 3, 2, 2, 4, 1]
    for i, level in enumerate(levels):
        declare(responder, title=f"Incident {i}", level=level)
    ordering = ["severity__level", "-detected_at", "-id"]
    partitions = [(s.level, Q(severity=s)) for s in Severity.objects.order_by("level")]
    expected = list(Incident.objects.order_by(*ordering).values_list("pk", flat=True))
    for per_page in (1, 2, 3, 4, 11, 12):
        forward, backward = walk(Incident.objects.all(), ordering, per_page, partitions)
        assert [pk for page in forward for pk in page] == expected, per_page
        assert backward == forward[:-1]


@pytest.mark.parametrize(
    "cursor",
    ["", "%%%", "bnVsbA", "WzEsMl0", "W3sidCI6IjIwMjYtMDEtMDFUMDA6MDA6MDAifSwxXQ", "W3sieCI6MX0sMV0", "W3RydWUsMV0"],
    ids=["empty", "not-base64", "null", "ints-for-a-moment", "naive-moment", "unknown-tag", "boolean"],
)
def test_a_cursor_that_does_not_fit_gives_the_first_page(responder, cursor):
    incident = declare(responder)
    entries = TimelineEntry.objects.filter(incident=incident)
    for direction in (AFTER, BEFORE):
        page = keyset_page(entries, ["-occurred_at", "-id"], {direction: cursor}, per_page=5)
        assert [e.pk for e in page] == list(entries.order_by("-occurred_at", "-id").values_list("pk", flat=True)[:5])
        assert not page.has_previous


def _cursor(values) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "values",
    [["INC-\x00", 1], ["INC-2026-0001", 2**63], ["INC-2026-0001", -(2**64)]],
    ids=["nul", "past-bigint", "below-bigint"],
)
def test_a_cursor_the_database_would_refuse_gives_the_first_page(client, responder, values):
    """Text with a NUL or a number past 64 bits would make PostgreSQL raise (a 500): the page ignores it."""
    declare(responder)
    client.force_login(responder)
    for direction in (AFTER, BEFORE):
        response = client.get("/incidents/", {"sort": "reference", direction: _cursor(values)})
        assert response.status_code == 200
        assert len(response.context["page"]) == 1


def test_a_cursor_past_the_last_row_shows_an_empty_page_with_the_way_back(responder):
    incident = declare(responder)
    TimelineEntry.objects.bulk_create(TimelineEntry(incident=incident, kind="note", text=str(i)) for i in range(3))
    entries = TimelineEntry.objects.filter(incident=incident).order_by("-occurred_at", "-id")
    total = entries.count()
    page = keyset_page(entries, ["-occurred_at", "-id"], {}, per_page=total - 1)
    entries.last().delete()  # the rows the next page pointed at are gone
    beyond = keyset_page(entries, ["-occurred_at", "-id"], {AFTER: page.next_cursor}, per_page=5)
    assert list(beyond) == [] and beyond.has_previous and not beyond.has_next


def test_the_admin_count_stops_at_the_cap(responder):
    incident = declare(responder)
    TimelineEntry.objects.bulk_create(TimelineEntry(incident=incident, kind="note", text=str(i)) for i in range(12))
    paginator = CappedCountPaginator(TimelineEntry.objects.order_by("id"), 5)
    paginator.CAP = 10
    assert paginator.count == 10 and paginator.num_pages == 2
    assert CappedCountPaginator(TimelineEntry.objects.order_by("id"), 5).count == TimelineEntry.objects.count()
