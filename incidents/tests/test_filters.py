"""IncidentFilterSet: each filter and sort order on incidents declared through the
services, and what a bad value does (reported, left out, the rest still applied),
on its own and on the list page."""

from datetime import timedelta

import pytest
import time_machine
from django.http import QueryDict
from django.utils import timezone

from incidents import services
from incidents.filters import INCIDENT_SORTS, IncidentFilterSet
from incidents.models import Incident, IncidentType, Service, Severity

from .factories import declare

pytestmark = pytest.mark.django_db


@pytest.fixture
def listed(responder):
    """old: Sev2 executor, 10 days ago; a: Sev1 executor, "nonce gap"; b: Sev3 risk, resolved."""
    executor = Service.objects.filter(slug="executor")
    risk = Service.objects.filter(slug="risk")
    with time_machine.travel(timezone.now() - timedelta(days=10), tick=False):
        old = declare(responder, title="Old gas price spike", level=2, services=executor)
    a = declare(responder, title="Executor reverts", level=1, services=executor, description="nonce gap")
    b = declare(responder, title="Risk blocks pairs", level=3, type_slug="risk-control-block", services=risk)
    for action, note in [("acknowledge", ""), ("resolve", "Verified on dashboards")]:
        services.incident_transition(incident=b, action=action, actor=responder, note=note)
    return {"old": old, "a": a, "b": b}


def day(offset: int) -> str:
    return (timezone.localdate() + timedelta(days=offset)).isoformat()


def pk(model, **lookup) -> str:
    return str(model.objects.get(**lookup).pk)


def filtered(params=None, **kwargs):
    data = None if params is None else QueryDict(mutable=True)
    if data is not None:
        for key, value in params.items():
            data[key] = value
    filterset = IncidentFilterSet(data, **kwargs)
    return filterset, list(filterset.qs)


def names(listed, incidents):
    by_pk = {incident.pk: name for name, incident in listed.items()}
    return [by_pk[incident.pk] for incident in incidents]


# --- each filter ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["b", "a", "old"]),
        ({"status": "open"}, ["a", "old"]),
        ({"status": "resolved"}, ["b"]),
        ({"status": "detected"}, ["a", "old"]),
        ({"status": "closed"}, []),
        ({"q": "nonce"}, ["a"]),  # description
        ({"q": "RISK BLOCKS"}, ["b"]),  # title, any case
        ({"detected_from": day(-2)}, ["b", "a"]),
        ({"detected_to": day(-5)}, ["old"]),
        ({"detected_from": day(-10), "detected_to": day(-10)}, ["old"]),
    ],
)
def test_each_filter_keeps_the_matching_incidents(listed, params, expected):
    filterset, rows = filtered(params)
    assert filterset.errors == {}
    assert names(listed, rows) == expected


def test_search_matches_the_reference(listed):
    _, rows = filtered({"q": listed["old"].reference.lower()})
    assert names(listed, rows) == ["old"]


def test_severity_type_and_service_filter_by_id(listed):
    assert names(listed, filtered({"severity": pk(Severity, level=3)})[1]) == ["b"]
    assert names(listed, filtered({"type": pk(IncidentType, slug="risk-control-block")})[1]) == ["b"]
    assert names(listed, filtered({"service": pk(Service, slug="executor")})[1]) == ["a", "old"]
    assert names(listed, filtered({"service": pk(Service, slug="database")})[1]) == []


def test_filters_combine(listed):
    params = {"status": "open", "service": pk(Service, slug="executor"), "severity": pk(Severity, level=1)}
    assert names(listed, filtered(params)[1]) == ["a"]


def test_an_incident_with_several_services_is_listed_once(responder):
    both = declare(responder, services=Service.objects.filter(slug__in=["executor", "risk"]))
    _, rows = filtered({"service": pk(Service, slug="risk")})
    assert rows == [both]


# --- sort ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("newest", ["b", "a", "old"]),
        ("oldest", ["old", "a", "b"]),
        ("severity", ["a", "old", "b"]),
        ("reference", ["old", "a", "b"]),
        ("status", ["a", "old", "b"]),  # detected < resolved; the tie goes to the newer row
        ("title", ["a", "old", "b"]),
    ],
)
def test_each_sort_order(listed, sort, expected):
    assert names(listed, filtered({"sort": sort})[1]) == expected


def test_sort_offers_the_existing_keys_and_defaults_to_newest(listed):
    choices = [value for value, _ in IncidentFilterSet().form.fields["sort"].choices]
    assert choices == list(INCIDENT_SORTS)
    assert names(listed, filtered(None)[1]) == ["b", "a", "old"]  # unbound, as a CSV export or an API may use it
    assert names(listed, filtered({})[1]) == ["b", "a", "old"]


def test_ties_are_broken_by_the_id_in_the_direction_of_the_sort(responder):
    with time_machine.travel(timezone.now(), tick=False):
        first, second = declare(responder, title="Same"), declare(responder, title="Same")
    for sort in ["newest", "severity", "status"]:  # newest first within the sort's groups
        assert filtered({"sort": sort})[1] == [second, first], sort
    for sort in ["oldest", "title"]:
        assert filtered({"sort": sort})[1] == [first, second], sort


def test_an_explicit_queryset_is_filtered_and_sorted(listed):
    _, rows = filtered({"sort": "oldest"}, queryset=Incident.objects.filter(severity__level__lte=2))
    assert names(listed, rows) == ["old", "a"]


# --- bad values ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "error_field", "message"),
    [
        ({"severity": "999999"}, "severity", "Select a valid choice."),
        ({"severity": "abc"}, "severity", "Select a valid choice."),
        ({"type": "999999"}, "type", "Select a valid choice."),
        ({"service": "x"}, "service", "Select a valid choice."),
        ({"status": "melting"}, "status", "Select a valid choice."),
        ({"detected_from": "yesterday"}, "detected_from", "Enter a valid date."),
        ({"q": "x" * 201}, "q", "Ensure this value has at most 200 characters"),
        ({"sort": "drop table"}, "sort", "Select a valid choice."),
    ],
)
def test_a_bad_value_is_reported_and_the_other_filters_still_apply(listed, bad, error_field, message):
    # Either of these two alone keeps a and old, so whichever one a bad value replaces, the other still applies.
    good = {"status": "open", "service": pk(Service, slug="executor")}
    filterset, rows = filtered({**good, **bad})
    assert list(filterset.errors) == [error_field]
    assert message in filterset.errors[error_field][0]
    assert names(listed, rows) == ["a", "old"]  # newest first: a bad sort falls back to the default too


def test_a_date_range_that_ends_before_it_starts_keeps_the_start(listed):
    filterset, rows = filtered({"detected_from": day(-2), "detected_to": day(-5)})
    assert filterset.errors == {"detected_to": ["The end date is before the start date."]}
    assert names(listed, rows) == ["b", "a"]


def test_is_filtered_counts_filters_valid_or_not_but_not_the_order(runbook):
    assert not IncidentFilterSet(QueryDict("sort=oldest&page=2")).is_filtered
    assert IncidentFilterSet(QueryDict("severity=nonsense")).is_filtered
    assert IncidentFilterSet(QueryDict("q=gas")).is_filtered
    assert not IncidentFilterSet(None).is_filtered


# --- on the page ---------------------------------------------------------------------------------


@pytest.fixture
def rclient(client, responder):
    client.force_login(responder)
    return client


def listing(client, **params):
    response = client.get("/incidents/", params)
    assert response.status_code == 200
    return response, [incident.pk for incident in response.context["incidents"]]


def test_the_page_shows_the_error_keeps_what_was_typed_and_applies_the_rest(rclient, listed):
    response, rows = listing(rclient, severity="999999", q="Executor", detected_from="31/02/2026")
    body = response.content.decode()
    assert "Select a valid choice." in body and "Enter a valid date." in body
    assert 'value="31/02/2026"' in body and 'value="Executor"' in body
    assert rows == [listed["a"].pk]  # the search still applies
    assert "1 incident matches the filters." in body


def test_the_page_refuses_a_date_range_that_ends_before_it_starts(rclient, listed):
    response, rows = listing(rclient, detected_from=day(-2), detected_to=day(-5), status="open")
    assert "The end date is before the start date." in response.content.decode()
    assert rows == [listed["a"].pk]  # from two days ago and open


# Not base64; base64 of "[]", of '["x","y"]' (strings where a moment is due), of '[{"t":"2026-13-45"},1]'.
@pytest.mark.parametrize("cursor", ["abc!", "W10", "WyJ4IiwieSJd", "W3sidCI6IjIwMjYtMTMtNDUifSwxXQ"])
@pytest.mark.parametrize("direction", ["after", "before", "page"])
def test_a_bad_cursor_shows_the_first_page_with_the_filters(rclient, listed, cursor, direction):
    _, rows = listing(rclient, status="open", **{direction: cursor})
    assert rows == [listed["a"].pk, listed["old"].pk]


def test_the_page_keeps_its_query_string_names(rclient, listed):
    body = rclient.get("/incidents/").content.decode()
    for name in ["q", "status", "severity", "type", "service", "detected_from", "detected_to", "sort"]:
        assert f'name="{name}"' in body
    assert "Clear filters" not in body
    assert "Clear filters" in rclient.get("/incidents/", {"q": "gas"}).content.decode()
