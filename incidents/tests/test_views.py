"""The responders' pages: what each shows, and what each action does."""

import html
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlencode
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.http import QueryDict
from django.template import Template
from django.urls import reverse
from django.utils import timezone

from audit.actors import acting_as
from incidents import panels, services
from incidents.filters import IncidentFilterSet
from incidents.models import (
    ChecklistItem,
    Contact,
    Incident,
    IncidentType,
    Role,
    RoleAssignment,
    Service,
    Severity,
    StatusUpdate,
    TimelineEntry,
)
from incidents.runbook_data import GENERAL_STEPS
from people.services import profile_update

from .factories import declare

S = Incident.Status
NOTES = {"resolve": "Verified on dashboards", "reopen": "Failures came back"}
# The actions that bring a freshly declared incident to each status.
PATH_TO = {
    S.DETECTED: [],
    S.ACKNOWLEDGED: ["acknowledge"],
    S.INVESTIGATING: ["acknowledge", "investigate"],
    S.MITIGATING: ["acknowledge", "mitigate"],
    S.RESOLVED: ["acknowledge", "resolve"],
    S.CLOSED: ["acknowledge", "resolve", "close"],
}
VALID = [
    (action, source, target)
    for action, (sources, target, _) in services.TRANSITIONS.items()
    for source in sorted(sources)
]
INVALID = [
    (action, status)
    for action, (sources, _, _) in services.TRANSITIONS.items()
    for status in S.values
    if status not in sources
]


@pytest.fixture
def rclient(client, responder):
    client.force_login(responder)
    return client


def detail_url(incident):
    return reverse("incidents:detail", args=[incident.reference])


def url(name, incident, *args):
    return reverse(f"incidents:{name}", args=[incident.reference, *args])


def bring_to(incident, status, actor):
    for action in PATH_TO[status]:
        services.incident_transition(incident=incident, action=action, actor=actor, note=NOTES.get(action, ""))
    incident.refresh_from_db()
    return incident


def flashes(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def snapshot(incident):
    incident.refresh_from_db()
    return (incident.status, incident.updated_at, incident.timeline.count(), incident.history.count())


# --- sign-in, layout, static assets ---------------------------------------------------------------


def test_login_page_signs_in_and_returns_to_the_page_asked_for(client, responder):
    assert client.get("/accounts/login/").status_code == 200
    response = client.post(
        "/accounts/login/?next=/contacts/",
        {"username": "rita", "password": "correct-horse-battery", "next": "/contacts/"},
    )
    assert response.status_code == 302 and response["Location"] == "/contacts/"


def test_login_with_a_wrong_password_keeps_the_username_and_says_why(client, responder):
    response = client.post("/accounts/login/", {"username": "rita", "password": "nope"})
    body = response.content.decode()
    assert response.status_code == 200
    assert 'value="rita"' in body
    assert "correct username and password" in body


def test_logout_ends_the_session(rclient):
    response = rclient.post("/accounts/logout/")
    assert response.status_code == 302
    assert rclient.get("/").status_code == 302


def test_layout_shows_navigation_user_and_flash_messages(rclient, incident):
    response = rclient.post(url("transition", incident, "acknowledge"), follow=True)
    body = response.content.decode()
    assert "Rita Responder" in body
    for link in [
        'href="/incidents/"',
        'href="/contacts/"',
        'href="/runbooks/"',
        'href="/postmortems/"',
        'href="/status/"',
    ]:
        assert link in body
    assert 'class="flash flash-success"' in body and "is now initial response" in body


def current_nav_links(body) -> list[str]:
    """The main navigation's links marked as the current page."""
    nav = body[body.index('<nav aria-label="Main">') : body.index("</nav>")]
    return re.findall(r'<a [^>]*aria-current="page"[^>]*>([^<]+)</a>', nav)


@pytest.mark.parametrize(
    ("page", "current"),
    [
        ("/", "Dashboard"),
        ("/incidents/", "Incidents"),
        ("/incidents/new/", "Declare"),
        ("/contacts/", "Contacts"),
        ("/runbooks/", "Runbooks"),
        ("/runbooks/trade-execution-failure/", "Runbooks"),
        ("/postmortems/", "Post-mortems"),
        ("/postmortems/actions/", "Post-mortems"),
    ],
)
def test_navigation_marks_the_section_of_the_current_page_only(rclient, page, current):
    # Post-mortems' pages are also named "list" and "detail": the namespace tells them apart.
    assert current_nav_links(rclient.get(page).content.decode()) == [current]


def test_navigation_marks_incidents_on_an_incident_and_post_mortems_on_its_post_mortem(rclient, incident):
    assert current_nav_links(rclient.get(detail_url(incident)).content.decode()) == ["Incidents"]
    assert current_nav_links(rclient.get(url("history", incident)).content.decode()) == ["Incidents"]
    assert rclient.post(f"/postmortems/open/{incident.reference}/").status_code == 302
    assert current_nav_links(rclient.get(f"/postmortems/{incident.reference}/").content.decode()) == ["Post-mortems"]


def test_pages_load_no_asset_from_another_host(rclient, incident):
    for page in ["/", "/incidents/", detail_url(incident), "/contacts/?print=1"]:
        body = rclient.get(page).content.decode()
        assert "http://" not in body and "https://" not in body and "//cdn" not in body, page


def test_the_stylesheet_is_served_by_the_app(client, settings):
    settings.WHITENOISE_USE_FINDERS = True  # production serves the collected copy the same way
    response = client.get("/static/css/portal.css")
    assert response.status_code == 200
    assert b"@media print" in b"".join(response.streaming_content)


def test_viewer_sees_no_write_forms(client, viewer, incident):
    client.force_login(viewer)
    body = client.get(detail_url(incident)).content.decode()
    assert "Acknowledge</button>" not in body
    assert "Post update" not in body and "Add note" not in body and "Assign</button>" not in body
    assert "Declare" not in client.get("/").content.decode()


# --- dashboard -------------------------------------------------------------------------------------


def test_dashboard_lists_open_incidents_by_severity_and_leaves_out_resolved_ones(rclient, responder):
    sev2 = declare(responder, title="Signal backlog", level=2)
    sev1 = declare(responder, title="Executor down", level=1)
    done = bring_to(declare(responder, title="Old VPN thing", level=3), S.RESOLVED, responder)

    body = rclient.get("/").content.decode()

    assert body.index(sev1.reference) < body.index(sev2.reference)
    assert "Critical" in body and "High" in body
    assert done.reference not in body


def test_dashboard_flags_an_incident_unacknowledged_past_15_minutes(rclient, responder):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        incident = declare(responder)
    with time_machine.travel(start + timedelta(minutes=10), tick=False):
        assert "Unacknowledged past" not in rclient.get("/").content.decode()
    with time_machine.travel(start + timedelta(minutes=16), tick=False):
        body = rclient.get("/").content.decode()
    assert f'incident-row overdue" data-reference="{incident.reference}"' in body
    assert "Unacknowledged past 15 min" in body


def test_dashboard_flags_an_investigation_past_two_hours(rclient, responder):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        bring_to(declare(responder), S.INVESTIGATING, responder)
    with time_machine.travel(start + timedelta(minutes=110), tick=False):
        assert "Investigating past" not in rclient.get("/").content.decode()
    with time_machine.travel(start + timedelta(minutes=125), tick=False):
        assert "Investigating past 2 h" in rclient.get("/").content.decode()


def test_dashboard_lists_incidents_whose_status_update_is_overdue(rclient, responder):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        sev1 = declare(responder, level=1)  # updates every 30 minutes
        sev3 = declare(responder, level=3)  # every 2 hours
    with time_machine.travel(start + timedelta(minutes=45), tick=False):
        body = rclient.get("/").content.decode()
    overdue = body[body.index("Status updates overdue") : body.index("My roles")]
    assert sev1.reference in overdue
    assert sev3.reference not in overdue
    assert "due 15 min ago" in overdue


def test_dashboard_lists_my_current_roles_only(rclient, responder, other_responder):
    mine = declare(responder, title="Mine")
    theirs = declare(responder, title="Theirs")
    commander = Role.objects.get(slug="incident-commander")
    services.role_assign(incident=mine, role=commander, user=responder, actor=responder)
    services.role_assign(incident=theirs, role=commander, user=other_responder, actor=responder)

    body = rclient.get("/").content.decode()
    roles = body[body.index("My roles") :]

    assert f'Incident Commander</strong> on <a href="{mine.get_absolute_url()}">{mine.reference}' in roles
    assert theirs.reference not in roles


@pytest.fixture
def test_panels():
    def second(sender, *, request, **kwargs):
        return panels.Panel("second", Template("<p>second panel</p>"), {}, order=20)

    def first(sender, *, request, **kwargs):
        return panels.Panel("first", Template("<p>hello {{ who }}</p>"), {"who": request.user.username}, order=10)

    def for_incident(sender, *, request, incident, **kwargs):
        return panels.Panel(
            "pm", Template("<p>panel for {{ incident.reference }}: {{ note }}</p>"), {"note": incident.title}
        )

    connected = [
        (panels.dashboard_panels, second),
        (panels.dashboard_panels, first),
        (panels.incident_panels, for_incident),
    ]
    for signal, receiver in connected:
        signal.connect(receiver)
    yield
    for signal, receiver in connected:
        signal.disconnect(receiver)


def test_dashboard_renders_registered_panels_in_order(rclient, test_panels):
    body = rclient.get("/").content.decode()
    assert "<p>hello rita</p>" in body
    assert body.index("hello rita") < body.index("second panel")


def test_incident_page_renders_registered_panels(rclient, incident, test_panels):
    body = rclient.get(detail_url(incident)).content.decode()
    assert f"<p>panel for {incident.reference}: {incident.title}</p>" in body


# --- incident list ---------------------------------------------------------------------------------


@pytest.fixture
def listed(responder):
    executor = Service.objects.filter(slug="executor")
    risk = Service.objects.filter(slug="risk")
    now = timezone.now()
    with time_machine.travel(now - timedelta(days=10), tick=False):
        old = declare(responder, title="Old gas price spike", level=2, services=executor)
    a = declare(responder, title="Executor reverts", level=1, services=executor, description="nonce gap")
    b = declare(responder, title="Risk blocks pairs", level=3, type_slug="risk-control-block", services=risk)
    bring_to(b, S.RESOLVED, responder)
    return {"old": old, "a": a, "b": b}


def listing(client, **params):
    response = client.get("/incidents/", params)
    assert response.status_code == 200
    return response, [i.reference for i in response.context["incidents"]]


def test_list_shows_all_incidents_newest_first(rclient, listed):
    _, refs = listing(rclient)
    assert refs == [listed["b"].reference, listed["a"].reference, listed["old"].reference]


def page_link(body: str, rel: str) -> dict:
    """The query of the page's rel="next" or rel="prev" link, as a dict."""
    href = re.search(rf'<a href="\?([^"]*)" rel="{rel}"', body).group(1)
    return {key: values[0] for key, values in parse_qs(html.unescape(href)).items()}


@pytest.mark.parametrize("sort", ["oldest", "newest", "severity", "title", "status", "reference"])
def test_list_pages_by_cursor_and_page_links_keep_the_filters(rclient, responder, sort):
    for i in range(30):
        declare(responder, title=f"Incident {i % 7}", level=1 + i % 2)
    declare(responder, title="Sev3, filtered out", level=3)
    params = {"severity": "", "q": "Incident", "sort": sort}
    response, refs = listing(rclient, **params)
    assert len(refs) == 25
    following = page_link(response.content.decode(), "next")
    assert following["q"] == "Incident" and following["sort"] == sort
    response, page2 = listing(rclient, **following)
    assert len(page2) == 5 and not set(page2) & set(refs)
    everything = [i.reference for i in IncidentFilterSet(QueryDict(urlencode(params))).qs]
    assert refs + page2 == everything  # the pages together are the whole list, in order
    back = page_link(response.content.decode(), "prev")
    assert listing(rclient, **back)[1] == refs


# --- declare ---------------------------------------------------------------------------------------


def declare_data(**overrides):
    data = {
        "title": "Trades reverting",
        "severity": Severity.objects.get(level=1).pk,
        "incident_type": IncidentType.objects.get(slug="trade-execution-failure").pk,
        "services": [Service.objects.get(slug="executor").pk],
        "detection_source": Incident.DetectionSource.ALERT,
        "user_impact": "All traders",
        "description": "Reverts since 04:00",
        "detected_at": "",
    }
    data.update(overrides)
    return data


def test_declare_page_shows_each_severity_with_its_criteria(rclient):
    body = rclient.get("/incidents/new/").content.decode()
    for criterion in ["Complete system outage", "Partial service degradation", "Minor bugs"]:
        assert criterion in body


def test_declaring_creates_the_incident_with_reference_checklist_and_initial_responder(rclient, responder):
    response = rclient.post("/incidents/new/", declare_data())

    incident = Incident.objects.get()
    assert response.status_code == 302 and response["Location"] == incident.get_absolute_url()
    assert incident.reference.startswith(f"INC-{timezone.now().year}-")
    assert incident.initial_responder == responder
    sections = set(incident.checklist.values_list("section", flat=True))
    assert sections == {"initial_response", "symptom", "investigation", "resolution", "post_incident"}
    assert incident.checklist.filter(text="Check executor service logs").exists()
    assert list(incident.services.values_list("slug", flat=True)) == ["executor"]


def test_declaring_with_an_empty_form_says_what_is_missing(rclient):
    response = rclient.post("/incidents/new/", {})
    assert response.status_code == 400
    assert response.content.decode().count("This field is required.") == 4


def test_declaring_can_backdate_detection(rclient):
    earlier = timezone.localtime(timezone.now() - timedelta(hours=1)).replace(second=0, microsecond=0)
    rclient.post("/incidents/new/", declare_data(detected_at=earlier.strftime("%Y-%m-%dT%H:%M")))
    assert Incident.objects.get().detected_at == earlier


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"severity": ""}, "This field is required."),
        ({"title": ""}, "This field is required."),
        ({"incident_type": "999999"}, "Select a valid choice."),
        ({"detected_at": "not a date"}, "Enter a valid date/time."),
        ({"detected_at": "2999-01-01T00:00"}, "This cannot be in the future."),
    ],
)
def test_declaring_with_bad_input_keeps_what_was_typed_and_says_what_is_wrong(rclient, overrides, error):
    response = rclient.post("/incidents/new/", declare_data(title=overrides.pop("title", "Kept title"), **overrides))
    body = response.content.decode()
    assert response.status_code == 400
    assert error in body
    assert "The incident was not declared yet" in body
    assert Incident.objects.count() == 0
    assert "Reverts since 04:00" in body  # the description typed is still there
    if error != "This field is required." or "severity" in str(overrides):
        assert 'value="Kept title"' in body


# --- incident page ---------------------------------------------------------------------------------


def test_unknown_reference_is_not_found(rclient):
    assert rclient.get("/incidents/INC-1999-9999/").status_code == 404
    assert rclient.post("/incidents/INC-1999-9999/transition/acknowledge/").status_code == 404
    assert rclient.get("/incidents/INC-1999-9999/history/").status_code == 404


def test_incident_page_shows_header_phase_timer_and_target(rclient, responder):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        incident = declare(responder)
    with time_machine.travel(start + timedelta(minutes=5), tick=False):
        body = rclient.get(detail_url(incident)).content.decode()
    assert "Sev1" in body and "Detected" in body
    assert "In this phase for 5 min" in body and "acknowledge in 10 min" in body
    with time_machine.travel(start + timedelta(minutes=20), tick=False):
        body = rclient.get(detail_url(incident)).content.decode()
    assert "target passed 5 min ago" in body


def test_incident_page_offers_only_the_allowed_transitions(rclient, incident, responder):
    body = rclient.get(detail_url(incident)).content.decode()
    assert 'value="acknowledge"' in body and 'value="investigate"' in body
    assert 'value="resolve"' not in body and 'value="close"' not in body
    bring_to(incident, S.RESOLVED, responder)
    body = rclient.get(detail_url(incident)).content.decode()
    assert 'value="close"' in body and 'value="reopen"' in body and 'value="acknowledge"' not in body


@pytest.mark.usefixtures("postmortems_not_required")
@pytest.mark.parametrize(("action", "source", "target"), VALID)
def test_valid_transition(rclient, incident, responder, action, source, target):
    bring_to(incident, source, responder)
    response = rclient.post(url("transition", incident, action), {"note": NOTES.get(action, "")})
    incident.refresh_from_db()
    assert response.status_code == 302 and response["Location"] == detail_url(incident)
    assert incident.status == target
    assert incident.timeline.filter(text__startswith="Status changed").exists()
    assert f"is now {incident.get_status_display().lower()}" in flashes(response)[0]


@pytest.mark.usefixtures("postmortems_not_required")
@pytest.mark.parametrize(("action", "status"), INVALID)
def test_invalid_transition_is_refused_and_changes_nothing(rclient, incident, responder, action, status):
    bring_to(incident, status, responder)
    before = snapshot(incident)
    response = rclient.post(url("transition", incident, action), {"note": NOTES.get(action, "")})
    assert response.status_code == 302
    assert snapshot(incident) == before
    assert flashes(response) == [f"Cannot {action} an incident that is {Incident.Status(status).label.lower()}."]


@pytest.mark.parametrize(("action", "status"), [("resolve", S.INVESTIGATING), ("reopen", S.RESOLVED)])
def test_resolving_or_reopening_without_a_note_is_refused(rclient, incident, responder, action, status):
    bring_to(incident, status, responder)
    before = snapshot(incident)
    response = rclient.post(url("transition", incident, action), {"note": "  "})
    assert snapshot(incident) == before
    assert "needs" in flashes(response)[0]


def test_unknown_transition_is_refused(rclient, incident):
    before = snapshot(incident)
    response = rclient.post(url("transition", incident, "explode"))
    assert snapshot(incident) == before
    assert flashes(response) == ["Unknown action “explode”."]


def test_transitions_only_accept_post(rclient, incident):
    assert rclient.get(url("transition", incident, "acknowledge")).status_code == 405


@pytest.fixture
def objection():
    from incidents.events import incident_closing

    def not_done(sender, **kwargs):
        return ["The post-mortem is not done."]

    incident_closing.connect(not_done)
    yield
    incident_closing.disconnect(not_done)


@pytest.mark.usefixtures("postmortems_not_required", "objection")
def test_close_blockers_are_shown_on_the_page(rclient, incident, responder):
    bring_to(incident, S.RESOLVED, responder)
    body = rclient.get(detail_url(incident)).content.decode()
    assert "Cannot close yet" in body and "The post-mortem is not done." in body
    response = rclient.post(url("transition", incident, "close"))
    assert flashes(response) == ["The post-mortem is not done."]
    incident.refresh_from_db()
    assert incident.status == S.RESOLVED


def test_changing_severity_with_a_reason_lands_on_the_timeline(rclient, incident):
    sev2 = Severity.objects.get(level=2)
    response = rclient.post(url("change_severity", incident), {"severity": sev2.pk, "reason": "Only one pair affected"})
    incident.refresh_from_db()
    assert response.status_code == 302
    assert incident.severity == sev2
    assert incident.timeline.filter(text="Severity changed from Sev1 to Sev2: Only one pair affected").exists()


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"severity": "level:2", "reason": ""}, "This field is required."),
        ({"severity": "level:1", "reason": "no change"}, "The incident is already Sev1."),
        ({"severity": "424242", "reason": "typo"}, "Select a valid choice."),
    ],
)
def test_bad_severity_change_is_refused_with_the_reason_kept(rclient, incident, data, error):
    if data["severity"].startswith("level:"):
        data["severity"] = Severity.objects.get(level=int(data["severity"][6:])).pk
    before = snapshot(incident)
    response = rclient.post(url("change_severity", incident), data)
    body = response.content.decode()
    assert response.status_code == 400
    assert error in body
    assert snapshot(incident) == before
    if data["reason"]:
        assert f'value="{data["reason"]}"' in body


def test_roles_show_their_responsibilities(rclient, incident):
    body = rclient.get(detail_url(incident)).content.decode()
    for line in ["Overall incident coordination", "Root cause analysis", "Stakeholder management"]:
        assert line in body


def test_assigning_and_handing_off_a_role(rclient, incident, responder, other_responder):
    commander = Role.objects.get(slug="incident-commander")
    rclient.post(url("role_assign", incident), {"role": commander.pk, "user": responder.pk})
    response = rclient.post(
        url("role_assign", incident), {"role": commander.pk, "user": other_responder.pk, "note": "Shift change"}
    )
    assert response.status_code == 302
    holders = RoleAssignment.objects.filter(incident=incident, role=commander).order_by("started_at")
    assert [(a.user, a.ended_at is None) for a in holders] == [(responder, False), (other_responder, True)]
    body = rclient.get(detail_url(incident)).content.decode()
    assert "Incident Commander handed off from Rita Responder to Tom Tech. Shift change" in body
    assert "Earlier holders (1)" in body


def test_assigning_someone_who_already_holds_the_role_says_so(rclient, incident, responder):
    commander = Role.objects.get(slug="incident-commander")
    services.role_assign(incident=incident, role=commander, user=responder, actor=responder)
    response = rclient.post(url("role_assign", incident), {"role": commander.pk, "user": responder.pk, "note": "x"})
    assert response.status_code == 400
    assert "Rita Responder is already Incident Commander." in response.content.decode()
    assert RoleAssignment.objects.filter(incident=incident).count() == 1


def test_a_viewer_cannot_be_given_a_role(rclient, incident, viewer):
    commander = Role.objects.get(slug="incident-commander")
    response = rclient.post(url("role_assign", incident), {"role": commander.pk, "user": viewer.pk})
    assert response.status_code == 400
    assert "Select a valid choice." in response.content.decode()
    assert not RoleAssignment.objects.exists()


def test_standing_down_from_a_role(rclient, incident, responder):
    commander = Role.objects.get(slug="incident-commander")
    assignment = services.role_assign(incident=incident, role=commander, user=responder, actor=responder)
    rclient.post(url("role_release", incident, assignment.pk))
    assignment.refresh_from_db()
    assert assignment.ended_at is not None
    response = rclient.post(url("role_release", incident, assignment.pk))
    assert flashes(response)[-1] == "This assignment has already ended."


def test_ticking_a_checklist_item_records_who_and_when(rclient, incident, responder):
    item = incident.checklist.get(text="Check executor service logs")
    with time_machine.travel(timezone.now(), tick=False):
        response = rclient.post(url("checklist_toggle", incident, item.pk), {"done": "1"})
        item.refresh_from_db()
        assert item.done_by == responder and item.done_at == timezone.now()
    assert response["Location"].endswith("#checklist")
    body = rclient.get(detail_url(incident)).content.decode()
    assert f"Rita Responder, {timezone.localtime(item.done_at):%-d %b %H:%M}" in body
    rclient.post(url("checklist_toggle", incident, item.pk), {"done": "0"})
    item.refresh_from_db()
    assert item.done_at is None and item.done_by is None


def test_checklist_item_of_another_incident_is_not_found(rclient, incident, responder):
    other = declare(responder, title="Other")
    item = other.checklist.filter(done_at__isnull=True).first()
    assert rclient.post(url("checklist_toggle", incident, item.pk), {"done": "1"}).status_code == 404
    item.refresh_from_db()
    assert not item.is_done


def test_a_backdated_note_is_placed_when_it_happened_and_marked(rclient, incident, responder):
    when = timezone.localtime(timezone.now() - timedelta(minutes=30)).replace(second=0, microsecond=0)
    response = rclient.post(
        url("note_add", incident), {"text": "First revert seen", "occurred_at": when.strftime("%Y-%m-%dT%H:%M")}
    )
    assert response.status_code == 302
    note = incident.timeline.get(kind=TimelineEntry.Kind.NOTE)
    assert note.occurred_at == when and note.author == responder
    timeline = rclient.get(detail_url(incident)).context["timeline"]
    assert timeline[0] == note  # earlier than the declaration event
    assert "backdated" in rclient.get(detail_url(incident)).content.decode()


def test_a_responder_in_berlin_backdates_a_note_in_berlin_time(client, incident, responder):
    """The browser sends the wall-clock time the person typed; it is read in their zone."""
    profile_update(user=responder, actor=responder, time_zone="Europe/Berlin")
    client.force_login(responder)
    now = timezone.now().replace(second=0, microsecond=0)
    berlin = ZoneInfo("Europe/Berlin")
    ten_minutes_ago = f"{(now - timedelta(minutes=10)).astimezone(berlin):%Y-%m-%dT%H:%M}"
    in_ten_minutes = f"{(now + timedelta(minutes=10)).astimezone(berlin):%Y-%m-%dT%H:%M}"

    with time_machine.travel(now, tick=False):
        accepted = client.post(url("note_add", incident), {"text": "Reverts began", "occurred_at": ten_minutes_ago})
        refused = client.post(url("note_add", incident), {"text": "Not yet", "occurred_at": in_ten_minutes})

    assert accepted.status_code == 302
    note = incident.timeline.get(kind=TimelineEntry.Kind.NOTE)
    assert note.occurred_at == now - timedelta(minutes=10)  # the same instant, stored in UTC
    assert refused.status_code == 400
    assert "This cannot be in the future." in refused.content.decode()
    assert incident.timeline.filter(text="Not yet").count() == 0


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"text": "", "occurred_at": ""}, "This field is required."),
        ({"text": "Kept note", "occurred_at": "yesterday-ish"}, "Enter a valid date/time."),
        ({"text": "Kept note", "occurred_at": "2999-01-01T10:00"}, "This cannot be in the future."),
        ({"text": "   ", "occurred_at": ""}, "This field is required."),
    ],
)
def test_bad_note_is_refused_and_keeps_what_was_typed(rclient, incident, data, error):
    before = incident.timeline.count()
    response = rclient.post(url("note_add", incident), data)
    body = response.content.decode()
    assert response.status_code == 400
    assert error in body
    assert incident.timeline.count() == before
    if data["text"].strip():
        assert data["text"] in body and data["occurred_at"] in body


def test_status_updates_show_audience_and_next_due_time(rclient, incident):
    start = timezone.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False):
        rclient.post(url("update_post", incident), {"audience": "internal", "body": "Rolled back"})
        response = rclient.post(url("update_post", incident), {"audience": "customers", "body": "Investigating"})
        body = rclient.get(detail_url(incident)).content.decode()
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.next_update_due_at == start + timedelta(minutes=30)
    assert list(incident.status_updates.values_list("audience", flat=True)) == ["customers", "internal"]
    assert "Customers (status page)" in body and "Internal" in body
    assert f"Next update due {timezone.localtime(start + timedelta(minutes=30)):%H:%M}" in body


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"audience": "internal", "body": ""}, "This field is required."),
        ({"audience": "martians", "body": "Hi"}, "Select a valid choice."),
    ],
)
def test_bad_status_update_is_refused(rclient, incident, data, error):
    response = rclient.post(url("update_post", incident), data)
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not StatusUpdate.objects.exists()


def test_incident_page_lists_contacts_in_escalation_order(rclient, incident):
    body = rclient.get(detail_url(incident)).content.decode()
    section = body[body.index('id="contacts"') :]
    order = ["24/7 Support – Primary", "24/7 Support – Backup", "Incident Commander", "Cloud Provider", "CEO", "CTO"]
    positions = [section.index(name) for name in order]
    assert positions == sorted(positions)


# --- history ---------------------------------------------------------------------------------------


def test_incident_history_shows_readable_field_changes_with_user_and_reason(
    rclient, incident, responder, other_responder
):
    services.incident_transition(incident=incident, action="acknowledge", actor=other_responder)
    services.incident_change_severity(
        incident=incident, severity=Severity.objects.get(level=2), actor=responder, reason="Scope is smaller"
    )
    commander = Role.objects.get(slug="incident-commander")
    services.role_assign(incident=incident, role=commander, user=other_responder, actor=responder)
    item = incident.checklist.get(text="Verify blockchain connectivity")
    services.checklist_item_set_done(item=item, actor=other_responder, done=True)
    services.status_update_post(incident=incident, actor=responder, audience="customers", body="We are on it")

    response = rclient.get(url("history", incident))
    entries = response.context["entries"]
    body = response.content.decode()

    ack = next(e for e in entries if e.reason == "Incident: acknowledge")
    assert ack.user == other_responder
    status = next(c for c in ack.changes if c.label == "Status")
    assert (status.old, status.new) == ("Detected", "Initial response")
    severity = next(e for e in entries if e.reason.startswith("Severity changed: "))
    assert [(c.old, c.new) for c in severity.changes if c.label == "Severity"] == [("Sev1 – Critical", "Sev2 – High")]
    assert any(e.subject == "Role assignment" and e.label == "Incident Commander: Tom Tech" for e in entries)
    ticked = next(e for e in entries if e.reason == "Checklist item ticked")
    assert ticked.label == "Verify blockchain connectivity"
    assert [c.new for c in ticked.changes if c.label == "Done by"] == ["Tom Tech"]
    assert any(e.subject == "Status update" and e.label == "Customers (status page)" for e in entries)
    checklist_label = f"{len(GENERAL_STEPS) + 13} items from the runbook"
    assert any(e.subject == "Checklist" and e.label == checklist_label for e in entries)
    services_change = next(e for e in entries if any(c.label == "Services" for c in e.changes))
    assert [c.new for c in services_change.changes if c.label == "Services"] == ["Trade executor"]
    # Readable, not a dump: no raw ids, dicts or model reprs.
    assert "Historical" not in body and "{'" not in body and "_id" not in body
    assert entries == sorted(entries, key=lambda e: e.sort_key, reverse=True)


def test_object_history_for_a_contact(rclient, responder):
    contact = Contact.objects.get(name="CTO")
    with acting_as(responder, "Number confirmed by phone"):
        contact.phone = "+1-555-0199"
        contact.save()
    response = rclient.get(reverse("incidents:object_history", args=["contact", contact.pk]))
    entry = response.context["entries"][0]
    assert (entry.user, entry.reason, entry.action) == (responder, "Number confirmed by phone", "changed")
    assert [(c.label, c.old, c.new) for c in entry.changes] == [("Phone", "+1-555-0111", "+1-555-0199")]
    assert "Rita Responder" in response.content.decode()


def test_object_history_of_unknown_kinds_or_ids_is_not_found(rclient, incident):
    assert rclient.get("/history/user/1/").status_code == 404
    assert rclient.get("/history/contact/999999/").status_code == 404
    assert rclient.get("/history/outboxmessage/1/").status_code == 404


def test_runbook_page_links_to_its_history(rclient):
    t = IncidentType.objects.get(slug="security-incident")
    body = rclient.get(t.get_absolute_url()).content.decode()
    assert reverse("incidents:object_history", args=["incidenttype", t.pk]) in body
    assert rclient.get(reverse("incidents:object_history", args=["incidenttype", t.pk])).status_code == 200


# --- contacts and runbooks -------------------------------------------------------------------------


def test_contacts_are_grouped_by_category_in_escalation_order(rclient):
    response = rclient.get("/contacts/")
    groups = response.context["contact_groups"]
    assert [label for label, _ in groups] == ["24/7 support", "Team", "Vendor", "Emergency"]
    assert [c.name for c in groups[3][1]] == ["CEO", "CTO", "Security Officer"]


def test_contacts_search(rclient):
    response = rclient.get("/contacts/", {"q": "security"})
    names = [c.name for _, contacts in response.context["contact_groups"] for c in contacts]
    assert names == ["Security Tools", "Security Officer"]
    assert "No contacts match" in rclient.get("/contacts/", {"q": "zzz"}).content.decode()


def test_inactive_contacts_are_left_out(rclient):
    Contact.objects.filter(name="CEO").update(is_active=False)  # test setup; history not the point here
    body = rclient.get("/contacts/").content.decode()
    assert ">CEO<" not in body


def test_print_view_is_a_plain_contact_sheet(rclient):
    response = rclient.get("/contacts/", {"print": "1"})
    body = response.content.decode()
    assert "Incident contact sheet" in body
    assert "+1-555-0100" in body and "support@cloudprovider.com" in body
    assert "Slack #incidents" in body  # the communication plan, for when chat is down
    assert body.index("Slack #incidents") < body.index("Regulatory reporting")  # internal channels first
    assert "Incident Commander (Incident Commander)" not in body
    assert 'class="topbar"' not in body


def test_runbook_list_and_detail(rclient):
    body = rclient.get("/runbooks/").content.decode()
    assert (
        "Trade execution failures" in body and "Complete system outage" in body and "Decision making authority" in body
    )
    body = rclient.get("/runbooks/trade-execution-failure/").content.decode()
    for text in ["Increased trade failure rate", "Check executor service logs", "Adjust gas price parameters"]:
        assert text in body
    assert "Acknowledge the incident: assign initial responder" in body


def test_severities_and_roles_link_to_their_history(rclient):
    body = rclient.get("/runbooks/").content.decode()
    sev1 = Severity.objects.get(level=1)
    commander = Role.objects.get(slug="incident-commander")
    for name, pk in [("severity", sev1.pk), ("role", commander.pk)]:
        link = reverse("incidents:object_history", args=[name, pk])
        assert link in body
        assert rclient.get(link).status_code == 200


def test_unknown_runbook_is_not_found(rclient):
    assert rclient.get("/runbooks/no-such-thing/").status_code == 404


def test_checklist_is_shown_by_section(rclient, incident):
    response = rclient.get(detail_url(incident))
    sections = response.context["checklist_sections"]
    assert [s["label"] for s in sections] == [label for _, label in ChecklistItem.Section.choices]
    # The portal has ticked what it did at declaration: the ticket and the initial responder.
    assert sections[0]["done"] == 2 and len(sections[0]["items"]) == 9
