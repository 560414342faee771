"""Each signed-in person's pages in their own zone: typed times read in it, shown times in it and
naming it; the zone kept in the session so that it costs no query."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection
from django.http import HttpResponse
from django.template import Context, Template
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents.models import IncidentType, Severity
from incidents.tests.factories import declare
from notifications.models import OutboxMessage
from people.middleware import SESSION_KEY, UserTimeZoneMiddleware
from people.services import profile_update

pytestmark = pytest.mark.django_db

WINTER = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def berliner(responder):
    profile_update(user=responder, actor=responder, time_zone="Europe/Berlin")
    return responder


def profile_queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return response, [q["sql"] for q in ctx.captured_queries if "people_profile" in q["sql"]]


def test_a_berliners_incident_page_shows_berlin_time_and_says_so(client, berliner, other_responder):
    with time_machine.travel(WINTER, tick=False):
        incident = declare(other_responder)
        client.force_login(berliner)
        body = client.get(incident.get_absolute_url()).content.decode()

    assert "15 Jan 2026, 13:00 CET" in body  # detected at 12:00 UTC
    assert "12:00" not in body
    assert "In Europe/Berlin time." in body  # beside the note's date-time input
    assert "Account (Europe/Berlin)" in body


def test_someone_who_never_chose_a_zone_sees_the_portals(client, responder, other_responder):
    with time_machine.travel(WINTER, tick=False):
        incident = declare(other_responder)
        client.force_login(responder)
        response = client.get(incident.get_absolute_url())

    assert response.status_code == 200
    assert "15 Jan 2026, 12:00 UTC" in response.content.decode()


def test_the_zone_comes_from_the_session_not_a_query(client, berliner):
    client.force_login(berliner)  # signing in puts the zone in the session

    response, queries = profile_queries(client, "/")

    assert queries == []
    assert client.session[SESSION_KEY] == "Europe/Berlin"
    assert "Account (Europe/Berlin)" in response.content.decode()


def test_a_session_from_before_profiles_costs_one_query(client, berliner):
    client.force_login(berliner)
    session = client.session
    del session[SESSION_KEY]
    session.save()

    response, queries = profile_queries(client, "/")

    assert len(queries) == 1
    assert "Account (Europe/Berlin)" in response.content.decode()


def test_a_looked_up_zone_rides_along_when_the_session_is_saved_anyway(rf, berliner):
    def view_that_writes_the_session(request):
        request.session["something"] = 1
        return HttpResponse(timezone.get_current_timezone_name())

    request = rf.get("/")
    request.user, request.session = berliner, SessionStore()

    response = UserTimeZoneMiddleware(view_that_writes_the_session)(request)

    assert response.content == b"Europe/Berlin"
    assert request.session[SESSION_KEY] == "Europe/Berlin"


def test_a_looked_up_zone_never_makes_a_session_write_of_its_own(rf, berliner):
    request = rf.get("/")
    request.user, request.session = berliner, SessionStore()

    response = UserTimeZoneMiddleware(lambda request: HttpResponse(timezone.get_current_timezone_name()))(request)

    assert response.content == b"Europe/Berlin"
    assert not request.session.modified


def test_the_zone_ends_with_the_request(client, berliner):
    client.force_login(berliner)

    client.get("/")

    assert timezone.get_current_timezone_name() == "UTC"


def test_a_zone_this_machine_does_not_know_falls_back_to_the_portals(client, responder):
    client.force_login(responder)
    session = client.session
    session[SESSION_KEY] = "Atlantis/Capital"
    session.save()

    response = client.get("/")

    assert response.status_code == 200
    assert "Account (UTC)" in response.content.decode()


def test_signing_in_with_the_form_keeps_the_zone_in_the_session(client, berliner):
    response = client.post("/accounts/login/", {"username": "rita", "password": "correct-horse-battery"})

    assert response.status_code == 302
    assert client.session[SESSION_KEY] == "Europe/Berlin"


def test_anonymous_visitors_cost_nothing_and_get_the_portals_zone(client, berliner):
    with CaptureQueriesContext(connection) as ctx:
        client.get("/status/")

    assert not [q for q in ctx.captured_queries if "people_profile" in q["sql"]]


# `when`, the one way pages show a moment (portal/templatetags/portal.py).


@pytest.mark.parametrize(
    ("zone", "moment", "style", "shown"),
    [
        ("UTC", WINTER, "date", "15 Jan 2026, 12:00 UTC"),
        ("Europe/Berlin", WINTER, "date", "15 Jan 2026, 13:00 CET"),
        ("Europe/Berlin", datetime(2026, 7, 15, 12, 0, tzinfo=UTC), "short", "15 Jul 14:00 CEST"),
        ("America/New_York", WINTER, "time", "07:00 EST"),
        ("Asia/Dubai", WINTER, "day", "Thu 15 Jan 2026, 16:00 UTC+04"),  # tzdata has no letters for it
        ("America/Sao_Paulo", WINTER, "seconds", "15 Jan 2026, 09:00:00 UTC-03"),
    ],
)
def test_when_shows_a_moment_in_the_active_zone_and_names_it(zone, moment, style, shown):
    template = Template("{% load portal %}{{ moment|when:style }}")

    with timezone.override(zone):
        assert template.render(Context({"moment": moment, "style": style})) == shown


def test_when_shows_nothing_for_no_moment():
    assert Template("{% load portal %}[{{ missing|when }}]").render(Context({"missing": None})) == "[]"


def test_an_email_queued_by_a_berliners_request_still_gives_utc(client, berliner, distribution_lists):
    client.force_login(berliner)
    client.post(
        "/incidents/new/",
        {
            "title": "Executor failing",
            "severity": Severity.objects.get(level=1).pk,
            "incident_type": IncidentType.objects.get(slug="other").pk,
            "detection_source": "alert",
        },
    )

    email = OutboxMessage.objects.get(channel=OutboxMessage.Channel.EMAIL)
    assert " UTC by automated alert" in email.body_text
