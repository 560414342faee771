"""Every URL tried as an anonymous visitor, a signed-in user with no group, a
Viewer and a Responder: anonymous goes to the login page, reads need the view
permission, writes need the Responders' permissions (403 otherwise)."""

import pytest
from django.urls import reverse

from conftest import make_user
from incidents import services
from incidents.models import Contact, Incident, IncidentType, Role, Severity, TimelineEntry

READ = "read"
WRITE = "write"


def _declare_data(w):
    return {
        "title": "Declared in a permission test",
        "severity": Severity.objects.get(level=2).pk,
        "incident_type": IncidentType.objects.get(slug="other").pk,
        "detection_source": Incident.DetectionSource.MANUAL_CHECK,
    }


# (id, kind, method, url(w), data(w))
URLS = [
    ("dashboard", READ, "get", lambda w: "/", None),
    ("list", READ, "get", lambda w: "/incidents/?status=open&sort=severity", None),
    ("detail", READ, "get", lambda w: w["incident"].get_absolute_url(), None),
    ("history", READ, "get", lambda w: reverse("incidents:history", args=[w["ref"]]), None),
    ("contacts", READ, "get", lambda w: "/contacts/", None),
    ("contacts-print", READ, "get", lambda w: "/contacts/?print=1", None),
    ("runbooks", READ, "get", lambda w: "/runbooks/", None),
    ("runbook", READ, "get", lambda w: "/runbooks/trade-execution-failure/", None),
    (
        "object-history",
        READ,
        "get",
        lambda w: reverse("incidents:object_history", args=["contact", Contact.objects.first().pk]),
        None,
    ),
    ("declare-form", WRITE, "get", lambda w: "/incidents/new/", None),
    ("declare", WRITE, "post", lambda w: "/incidents/new/", _declare_data),
    (
        "transition",
        WRITE,
        "post",
        lambda w: reverse("incidents:transition", args=[w["ref"], "acknowledge"]),
        lambda w: {},
    ),
    (
        "severity",
        WRITE,
        "post",
        lambda w: reverse("incidents:change_severity", args=[w["ref"]]),
        lambda w: {"severity": Severity.objects.get(level=2).pk, "reason": "Smaller than feared"},
    ),
    (
        "role-assign",
        WRITE,
        "post",
        lambda w: reverse("incidents:role_assign", args=[w["ref"]]),
        lambda w: {"role": Role.objects.get(slug="technical-lead").pk, "user": w["responder"].pk},
    ),
    (
        "role-release",
        WRITE,
        "post",
        lambda w: reverse("incidents:role_release", args=[w["ref"], w["assignment"].pk]),
        lambda w: {},
    ),
    (
        "checklist",
        WRITE,
        "post",
        lambda w: reverse(
            "incidents:checklist_toggle",
            args=[w["ref"], w["incident"].checklist.filter(done_at__isnull=True).first().pk],
        ),
        lambda w: {"done": "1"},
    ),
    (
        "note",
        WRITE,
        "post",
        lambda w: reverse("incidents:note_add", args=[w["ref"]]),
        lambda w: {"text": "Looked at the logs"},
    ),
    (
        "update",
        WRITE,
        "post",
        lambda w: reverse("incidents:update_post", args=[w["ref"]]),
        lambda w: {"audience": "internal", "body": "Rolled back"},
    ),
]
IDS = [u[0] for u in URLS]


@pytest.fixture
def world(incident, responder):
    commander = Role.objects.get(slug="incident-commander")
    assignment = services.role_assign(incident=incident, role=commander, user=responder, actor=responder)
    return {"incident": incident, "ref": incident.reference, "responder": responder, "assignment": assignment}


def state():
    """Everything a write could change, to prove a refused write changed nothing."""
    return (
        Incident.objects.count(),
        TimelineEntry.objects.count(),
        sorted(Incident.objects.values_list("status", "severity__level")),
    )


def request(client, method, w, url, data):
    return getattr(client, method)(url(w), data(w) if data else None)


@pytest.mark.parametrize(("name", "kind", "method", "url", "data"), URLS, ids=IDS)
def test_anonymous_goes_to_the_login_page(client, world, name, kind, method, url, data):
    before = state()
    response = request(client, method, world, url, data)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")
    assert state() == before


@pytest.mark.parametrize(("name", "kind", "method", "url", "data"), URLS, ids=IDS)
def test_a_user_without_a_group_is_refused_everything(client, world, name, kind, method, url, data):
    client.force_login(make_user("nobody"))
    before = state()
    assert request(client, method, world, url, data).status_code == 403
    assert state() == before


@pytest.mark.parametrize(("name", "kind", "method", "url", "data"), URLS, ids=IDS)
def test_viewer_reads_but_cannot_write(client, world, viewer, name, kind, method, url, data):
    client.force_login(viewer)
    before = state()
    response = request(client, method, world, url, data)
    assert response.status_code == (200 if kind == READ else 403)
    assert state() == before


@pytest.mark.parametrize(("name", "kind", "method", "url", "data"), URLS, ids=IDS)
def test_responder_reads_and_writes(client, world, responder, name, kind, method, url, data):
    client.force_login(responder)
    before = state()
    response = request(client, method, world, url, data)
    if kind == READ or method == "get":
        assert response.status_code == 200
    else:
        assert response.status_code == 302, response.content.decode()[:500]
        assert "/accounts/login/" not in response["Location"]
        assert state() != before  # the write happened
