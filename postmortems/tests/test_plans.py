"""The post-mortem pages and panels at a firm's shape: their queries explained by
PostgreSQL on a database filled the way a firm's years fill it (bench.load at a
small scale, then ANALYZE), and their query counts, which do not grow with the
rows they show or how deep the reader pages.

Sequential scans are priced out while explaining (portal.testing.plan_problems),
so a "Seq Scan" that remains is a query no index can serve, however large the table;
and an index read from end to end with no LIMIT to stop it is a whole-table read
too (portal.testing.unbounded_index_scans)."""

import html
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Count
from django.http import QueryDict
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from bench.load import populate
from incidents import panels
from incidents.models import Incident
from portal.testing import plan_problems, report_figures, unbounded_index_scans
from postmortems.models import ActionItem, Milestone, PostMortem, Reminder
from postmortems.tests.factories import action_item, due_meetings, postmortems_via_service

pytestmark = pytest.mark.django_db

LARGE_TABLES = {
    "incidents_incident",
    "incidents_statusupdate",
    "incidents_timelineentry",
    "postmortems_postmortem",
    "postmortems_postmortem_participants",
    "postmortems_postmortem_contact_participants",
    "postmortems_milestone",
    "postmortems_milestone_attendees",
    "postmortems_actionitem",
    "postmortems_reminder",
    "postmortems_historicalpostmortem",
    "postmortems_historicalmilestone",
    "postmortems_historicalactionitem",
    "postmortems_historicalreminder",
    "notifications_outboxmessage",
}
LISTS = [
    ("postmortems:list", {}),
    ("postmortems:list", {"overdue": "1"}),
    *[("postmortems:list", {"milestone": kind}) for kind in Milestone.Kind.values],
    ("postmortems:list", {"owner": "me"}),
    ("postmortems:list", {"owner": "me", "overdue": "1"}),
    ("postmortems:list", {"owner": "me", "milestone": "analysis"}),
    ("postmortems:actions", {}),
    ("postmortems:actions", {"view": "mine"}),
    ("postmortems:actions", {"view": "overdue"}),
]
# The verification views (the firm's data has nothing awaiting verification until a test puts some there).
VERIFY_LISTS = [("postmortems:actions", {"view": "to_verify"}), ("postmortems:actions", {"view": "mine_to_verify"})]


@pytest.fixture
def firm(db):
    """2,000 post-mortems and what goes with them (2 % of a firm's five years), without history rows."""
    return populate(connection, 0.02, history=False, progress=lambda line: None)


def visit(client, url, params=None):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params or {})
    assert response.status_code == 200, url
    return response, queries.captured_queries


def next_params(response) -> QueryDict | None:
    found = re.search(r'<a href="\?([^"]*)" rel="next"', response.content.decode())
    return QueryDict(html.unescape(found.group(1))) if found else None


def busiest_owner():
    return (
        PostMortem.objects.values_list("owner", flat=True)
        .exclude(owner=None)
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()
    )


def problems_of(queries):
    return plan_problems(queries, LARGE_TABLES) + unbounded_index_scans(queries, LARGE_TABLES)


def test_postmortem_pages_use_indexes_at_any_depth_and_filter(firm, client, django_user_model):
    assert PostMortem.objects.count() >= 2000 and Reminder.objects.count() >= 25000
    client.force_login(django_user_model.objects.get(pk=busiest_owner()))
    problems, pages = [], 0
    for name, params in LISTS:
        response, queries = visit(client, reverse(name), params)
        problems += problems_of(queries)
        for _ in range(3):  # a few pages deep: the cursor's seek must use the index too
            params = next_params(response)
            if params is None:
                break
            response, queries = visit(client, reverse(name), params)
            problems += problems_of(queries)
            pages += 1
    busiest = PostMortem.objects.annotate(n=Count("milestones__reminders", distinct=True)).order_by("-n", "id").first()
    for url in [busiest.get_absolute_url(), reverse("postmortems:export", args=[busiest.incident.reference])]:
        problems += problems_of(visit(client, url)[1])
    report_figures("post-mortem page plans", lists=len(LISTS), deeper_pages=pages, problems=len(problems))
    assert pages >= len(LISTS)  # the firm's lists are long enough to page through
    assert problems == [], "\n".join(problems)


def test_postmortem_panels_use_indexes(firm, responder):
    request = RequestFactory().get("/")
    request.user = responder
    incident = PostMortem.objects.order_by("-clock_started_at").first().incident
    with CaptureQueriesContext(connection) as queries:
        found = panels.collect(panels.dashboard_panels, request=request)
        found += panels.collect(panels.incident_panels, sender=Incident, request=request, incident=incident)

    [overdue] = [p for p in found if p.name == "postmortems-overdue"]
    assert len(overdue.context["milestones"]) == 20  # the firm has more overdue: the panel shows the most overdue
    # Not other apps' panels (search's similar incidents also reads post-mortems, from incidents).
    ours = [q for q in queries.captured_queries if '"postmortems_' in q["sql"] and "SIMILARITY" not in q["sql"].upper()]
    assert len(ours) == 4 and problems_of(ours) == []  # overdue milestones and items; the post-mortem, its milestones


def test_the_postmortem_page_reads_its_own_reminders_by_index(firm, client, responder):
    """The reminders are asked by milestone and action item ids, not through a join of
    every reminder to both (the plan read the whole table as reminders accumulated)."""
    postmortem = PostMortem.objects.filter(milestones__reminders__status="queued").order_by("id").first()
    client.force_login(responder)

    response, queries = visit(client, postmortem.get_absolute_url())

    [reminders_query] = [q["sql"] for q in queries if 'FROM "postmortems_reminder"' in q["sql"]]
    assert " JOIN " not in reminders_query and " UNION ALL " in reminders_query
    assert problems_of(queries) == []
    handled = Reminder.objects.exclude(status="pending").filter(milestone__postmortem=postmortem)
    handled = handled | Reminder.objects.exclude(status="pending").filter(action_item__postmortem=postmortem)
    assert [r.pk for r in response.context["reminders"]] == list(
        handled.order_by("-handled_at", "-id").values_list("pk", flat=True)
    )


def _count(client, url, params=None):
    return len(visit(client, url, params)[1])


def test_filtered_list_queries_do_not_grow_with_rows_or_depth(client, responder):
    """Every list and view: the same queries with 5 rows as with 50, and on page 2 as on page 1."""
    client.force_login(responder)

    def measure():
        return {(name, tuple(params.items())): _count(client, reverse(name), params) for name, params in LISTS}

    def add(count, prefix):
        for postmortem in due_meetings(count, owner=responder, overdue_by=timedelta(hours=1), prefix=prefix):
            item = action_item(postmortem, responder, title=f"{prefix} item")
            ActionItem.objects.filter(pk=item.pk).update(due_at=timezone.now() - timedelta(hours=1))  # setup only

    add(5, "A")
    five = measure()
    add(45, "B")
    fifty = measure()
    add(30, "C")  # more than a page of each
    depth = {}
    for name, params in LISTS:
        response, queries = visit(client, reverse(name), params)
        page2 = next_params(response)
        assert page2 is not None, (name, params)
        depth[(name, tuple(params.items()))] = (len(queries), _count(client, reverse(name), page2))

    report_figures("queries post-mortem lists", rows_5=sum(five.values()), rows_50=sum(fifty.values()))
    assert five == fifty
    assert all(first == second for first, second in depth.values()), depth


def test_postmortem_page_queries_do_not_grow_with_its_reminders(client, responder):
    [postmortem] = postmortems_via_service(1, responder, resolved_at=timezone.now() - timedelta(days=40))
    client.force_login(responder)

    def handle(count):
        items = [action_item(postmortem, responder, title=f"Item {i}") for i in range(count)]
        pending = Reminder.objects.filter(action_item__in=items)
        pending.update(status="skipped", handled_at=timezone.now(), note="test setup")  # setup only

    handle(2)
    few = _count(client, postmortem.get_absolute_url())
    handle(20)
    many = _count(client, postmortem.get_absolute_url())

    response = client.get(postmortem.get_absolute_url())
    assert len(response.context["reminders"]) == 3 * 22
    report_figures("queries post-mortem page", reminders_6=few, reminders_66=many)
    assert few == many


def awaiting_verification(rows):
    """Open preventive measures of the firm put to awaiting verification (setup only: no history rows),
    the busiest owner's post-mortems' first among them, with fresh statistics."""
    owner = busiest_owner()
    theirs = ActionItem.objects.filter(status__in=["open", "in_progress"])  # any kind will do for a plan
    picked = list(
        theirs.filter(postmortem__owner=owner).exclude(owner=owner).values_list("pk", flat=True)[: rows // 2]
    ) + list(theirs.exclude(postmortem__owner=owner).values_list("pk", flat=True)[: rows // 2])
    ActionItem.objects.filter(pk__in=picked).update(
        status="to_verify", evidence="https://grafana.example.com/d/x", closed_at=timezone.now()
    )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {ActionItem._meta.db_table}")
    return owner, len(picked)


def test_the_verification_lists_use_their_index_at_any_depth(firm, client, django_user_model):
    owner, count = awaiting_verification(300)
    mine = ActionItem.objects.to_verify_by(django_user_model.objects.get(pk=owner)).count()
    assert count >= 150 and mine >= 1, (count, mine)
    client.force_login(django_user_model.objects.get(pk=owner))
    problems, pages = [], 0
    for name, params in VERIFY_LISTS:
        response, queries = visit(client, reverse(name), params)
        problems += problems_of(queries)
        for _ in range(2):
            params = next_params(response)
            if params is None:
                break
            response, queries = visit(client, reverse(name), params)
            problems += problems_of(queries)
            pages += 1
    report_figures("verification list plans", awaiting=count, mine=mine, deeper_pages=pages, problems=len(problems))
    assert pages >= 2  # the awaiting list is three pages long
    assert problems == [], "\n".join(problems)


def test_verification_list_queries_do_not_grow_with_rows_or_depth(client, responder, other_responder, commander):
    from postmortems.tests.factories import mark_done

    client.force_login(responder)
    [postmortem] = postmortems_via_service(1, responder)

    def add(count, prefix):
        for i in range(count):
            mark_done(action_item(postmortem, other_responder, title=f"{prefix} {i}"), other_responder)

    def measure():
        return [_count(client, reverse(name), params) for name, params in VERIFY_LISTS]

    add(5, "A")
    five = measure()
    add(45, "B")
    fifty = measure()
    add(10, "C")
    depth = []
    for name, params in VERIFY_LISTS:
        response, queries = visit(client, reverse(name), params)
        page2 = next_params(response)
        assert page2 is not None and len(response.context["items"]) == 50
        depth.append((len(queries), _count(client, reverse(name), page2)))
    report_figures("queries verification lists", rows_5=sum(five), rows_50=sum(fifty))
    assert five == fifty
    assert all(first == second for first, second in depth), depth
