"""PostMortemFilterSet and ActionItemFilterSet: each filter on rows made through the
services, "me" from the request, and what a bad value does (reported, left out,
the rest still applied), on their own and on the list pages."""

import html
import re
from datetime import timedelta

import pytest
import time_machine
from django.http import QueryDict
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from postmortems import services
from postmortems.filters import ActionItemFilterSet, PostMortemFilterSet
from postmortems.tests.factories import action_item, make_user, postmortems_via_service

pytestmark = pytest.mark.django_db


def request_by(user):
    request = RequestFactory().get("/")
    request.user = user
    return request


def filtered(filterset_class, query, user=None):
    filterset = filterset_class(QueryDict(query), request=request_by(user) if user else None)
    return filterset, list(filterset.qs)


# --- post-mortems --------------------------------------------------------------------------------


@pytest.fixture
def three(postmortem, responder, commander):
    """pm: Cora's, resolved now. late: Rita's, its meeting overdue. met: Rita's, resolved as
    long ago but its meeting held."""
    two_days_ago = timezone.now() - timedelta(days=2)
    [late] = postmortems_via_service(1, responder, resolved_at=two_days_ago, prefix="L")
    [met] = postmortems_via_service(1, responder, resolved_at=two_days_ago, prefix="M")
    services.postmortem_complete_milestone(
        milestone=met.milestones.get(kind="meeting"),
        actor=responder,
        meeting_held_at=two_days_ago + timedelta(hours=1),
        attendees=[commander],
    )
    return {"pm": postmortem, "late": late, "met": met}


def names(rows, named):
    by_pk = {p.pk: name for name, p in named.items()}
    return sorted(by_pk[p.pk] for p in rows)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["late", "met", "pm"]),
        ("overdue=1", ["late"]),
        ("milestone=meeting", ["late", "pm"]),
        ("milestone=analysis", ["late", "met", "pm"]),
        ("owner=me", ["late", "met"]),
        ("owner=me&overdue=1", ["late"]),
        ("owner=me&milestone=meeting", ["late"]),
    ],
)
def test_postmortem_filters(three, responder, query, expected):
    filterset, rows = filtered(PostMortemFilterSet, query, user=responder)
    assert filterset.errors == {}
    assert names(rows, three) == expected


def test_owner_by_id(three, commander, responder):
    assert names(filtered(PostMortemFilterSet, f"owner={commander.pk}")[1], three) == ["pm"]
    assert names(filtered(PostMortemFilterSet, f"owner={responder.pk}")[1], three) == ["late", "met"]


def test_owner_choices_are_the_users_who_can_own_by_name_after_me(three):
    make_user("gone", first_name="Gus", last_name="Gone", is_active=False)  # deactivated: owns nothing new

    choices = [label for _, label in PostMortemFilterSet().form.fields["owner"].choices]

    assert choices == ["Anyone", "Me", "Cora Commander", "Rita Responder", "Tom Tech"]


def test_me_without_a_request_matches_nobody(three):
    assert filtered(PostMortemFilterSet, "owner=me")[1] == []


@pytest.mark.parametrize(
    ("query", "error_field", "expected"),
    [
        ("owner=notanumber&milestone=meeting", "owner", ["late", "pm"]),
        ("owner=999999&overdue=1", "owner", ["late"]),
        ("owner={former}&milestone=meeting", "owner", ["late", "pm"]),  # someone who can no longer own one
        ("milestone=bogus&owner=me", "milestone", ["late", "met"]),
    ],
)
def test_a_bad_postmortem_filter_is_reported_and_the_others_still_apply(three, responder, query, error_field, expected):
    former = make_user("gone", is_active=False)
    filterset, rows = filtered(PostMortemFilterSet, query.format(former=former.pk), user=responder)
    assert list(filterset.errors) == [error_field]
    assert "Select a valid choice." in filterset.errors[error_field][0]
    assert names(rows, three) == expected


# --- action items --------------------------------------------------------------------------------


@pytest.fixture
def items(postmortem, responder, commander):
    """Rita's, due in three days; Cora's, due in an hour; Rita's, due soonest but done."""
    mine = action_item(postmortem, responder, title="Mine and later")
    theirs = action_item(postmortem, commander, title="Theirs and soon", due_in=timedelta(hours=1))
    done = action_item(postmortem, responder, title="Mine and done", due_in=timedelta(minutes=30), category="long_term")
    services.action_item_set_status(item=done, actor=responder, status="done")
    return {"mine": mine, "theirs": theirs, "done": done}


@pytest.mark.parametrize(
    ("query", "expected", "current"),
    [
        ("", ["done", "theirs", "mine"], "all"),
        ("view=all", ["done", "theirs", "mine"], "all"),
        ("view=mine", ["mine"], "mine"),  # mine and still open
        ("view=overdue", ["theirs"], "overdue"),  # open and past due: done is not
        ("view=bogus", ["done", "theirs", "mine"], "all"),
    ],
)
def test_action_item_views(items, responder, query, expected, current):
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        filterset, rows = filtered(ActionItemFilterSet, query, user=responder)
    by_pk = {item.pk: name for name, item in items.items()}
    assert [by_pk[item.pk] for item in rows] == expected
    assert filterset.current_view == current
    assert list(filterset.errors) == (["view"] if "bogus" in query else [])


def test_mine_without_a_request_matches_nothing(items):
    assert filtered(ActionItemFilterSet, "view=mine")[1] == []
    assert ActionItemFilterSet().current_view == "all"


# --- on the pages --------------------------------------------------------------------------------


@pytest.fixture
def rclient(client, responder):
    client.force_login(responder)
    return client


def test_postmortem_list_shows_a_bad_filter_and_applies_the_rest(rclient, three):
    response = rclient.get(reverse("postmortems:list"), {"owner": "notanumber", "milestone": "meeting"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "Select a valid choice." in body
    assert names(response.context["postmortems"], three) == ["late", "pm"]
    assert '<option value="meeting" selected>' in body


def test_postmortem_list_with_a_bad_page_shows_the_nearest_page_filtered(rclient, three):
    for page in ["abc", "0", "9999"]:
        response = rclient.get(reverse("postmortems:list"), {"page": page, "overdue": "1"})
        assert response.status_code == 200
        assert names(response.context["postmortems"], three) == ["late"]
        assert 'name="overdue" value="1" id="id_overdue" checked' in response.content.decode()


def test_action_item_list_shows_a_bad_view_and_lists_all(rclient, items):
    response = rclient.get(reverse("postmortems:actions"), {"view": "bogus", "page": "abc"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "Select a valid choice. bogus is not one of the available choices." in body
    assert len(response.context["items"]) == 3
    assert '<a href="/postmortems/actions/" aria-current="page">All</a>' in body


def link(body, rel):
    """The query string of the page's link with `rel` ("next", "prev")."""
    return QueryDict(html.unescape(re.search(rf'<a href="\?([^"]*)" rel="{rel}"', body).group(1)))


def test_postmortem_list_pages_keep_the_filters(rclient, responder):
    postmortems_via_service(51, responder, prefix="P")
    response = rclient.get(reverse("postmortems:list"), {"owner": "me", "milestone": "analysis"})
    assert len(response.context["postmortems"]) == 50
    older = link(response.content.decode(), "next")
    assert (older["owner"], older["milestone"]) == ("me", "analysis") and older["after"]

    page2 = rclient.get(reverse("postmortems:list"), older)
    assert len(page2.context["postmortems"]) == 1
    assert not {p.pk for p in page2.context["postmortems"]} & {p.pk for p in response.context["postmortems"]}
    newer = link(page2.content.decode(), "prev")
    assert (newer["owner"], newer["milestone"]) == ("me", "analysis") and newer["before"]
    back = rclient.get(reverse("postmortems:list"), newer)
    assert list(back.context["postmortems"]) == list(response.context["postmortems"])


def test_action_item_list_pages_keep_the_view(rclient, postmortem, responder):
    for i in range(51):
        action_item(postmortem, responder, title=f"Item {i}")
    response = rclient.get(reverse("postmortems:actions"), {"view": "mine"})
    assert len(response.context["items"]) == 50
    later = link(response.content.decode(), "next")
    assert later["view"] == "mine" and later["after"]
    assert len(rclient.get(reverse("postmortems:actions"), later).context["items"]) == 1


@pytest.mark.parametrize(
    ("user", "view", "expected"),
    [
        ("rita", "to_verify", ["toms", "coras"]),
        ("rita", "mine_to_verify", []),  # Rita owns no post-mortem
        ("cora", "mine_to_verify", ["toms"]),  # her own measure is not hers to verify
        ("tom", "mine_to_verify", []),
    ],
)
def test_the_verification_views(postmortem, responder, commander, other_responder, user, view, expected):
    from postmortems.tests.factories import mark_done

    toms = mark_done(action_item(postmortem, other_responder, title="toms", due_in=timedelta(days=1)), other_responder)
    coras = mark_done(action_item(postmortem, commander, title="coras", due_in=timedelta(days=2)), commander)
    action_item(postmortem, other_responder, title="open")
    users = {"rita": responder, "cora": commander, "tom": other_responder}

    filterset, rows = filtered(ActionItemFilterSet, f"view={view}", user=users[user])

    assert filterset.errors == {} and filterset.current_view == view
    assert [item.title for item in rows] == expected
    assert {toms.status, coras.status} == {"to_verify"}


def test_mine_to_verify_without_a_request_matches_nothing(postmortem, other_responder):
    from postmortems.tests.factories import mark_done

    mark_done(action_item(postmortem, other_responder), other_responder)
    assert filtered(ActionItemFilterSet, "view=mine_to_verify")[1] == []
    assert len(filtered(ActionItemFilterSet, "view=to_verify")[1]) == 1
