"""The public status page, its Atom feed and email subscribers: customer-facing updates only."""

import re
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from django.utils import timezone

from incidents import services
from incidents.models import Incident, IncidentType, Role, Severity, StatusUpdate
from notifications.models import OutboxMessage
from statuspage.models import StatusSubscriber
from statuspage.selectors import PAST_LIMIT
from statuspage.services import broadcast_sweep

ATOM = "{http://www.w3.org/2005/Atom}"
CUSTOMER_TEXT = "Some trades are failing to execute\nWe are investigating and will update within 30 minutes."
INTERNAL_TEXTS = [
    "INTERNAL rolled back deploy 4711, hot wallet key rotated",
    "STAKEHOLDER revenue impact 40k",
    "REGULATOR notification filed under ref 99-12",
]


def feed_entries(content: bytes):
    return ET.fromstring(content).findall(f"{ATOM}entry")  # noqa: S314 (the portal's own feed)


@pytest.fixture
def public_incident(incident, responder, other_responder):
    """An open incident with every kind of update, a role holder and a note: only one update is public."""
    services.role_assign(
        incident=incident, role=Role.objects.get(slug="incident-commander"), user=other_responder, actor=responder
    )
    services.timeline_add_note(incident=incident, actor=responder, text="NOTE executor pod 3 crash-looping")
    for audience, body in zip(["internal", "stakeholders", "regulators"], INTERNAL_TEXTS, strict=True):
        services.status_update_post(incident=incident, actor=responder, audience=audience, body=body)
    services.status_update_post(incident=incident, actor=responder, audience="customers", body=CUSTOMER_TEXT)
    return incident


def leaks(text, incident):
    """Every piece of internal data found in `text`."""
    secrets = INTERNAL_TEXTS + [
        "NOTE executor pod",
        incident.title,
        incident.description,
        incident.reference,
        "Rita",
        "Responder",
        "Tom",
        "rita@example.com",
        "tom@example.com",
        "@snippingbot.com",
        "Trade execution failure",  # the incident type
        "Sev1",
    ]
    return [secret for secret in secrets if secret in text]


def test_status_page_shows_customer_updates_and_nothing_internal(client, public_incident):
    response = client.get("/status/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "Some trades are failing to execute" in html  # heading: the first customer update's first line
    assert "We are investigating and will update within 30 minutes." in html
    assert "1 incident in progress" in html
    assert leaks(html, public_incident) == []
    assert "@" not in html  # no email address of any kind
    assert "portal.css" not in html and "Sign out" not in html and "/admin/" not in html  # no staff chrome


def test_feed_holds_customer_updates_only(client, public_incident):
    response = client.get("/status/feed/")

    xml = response.content.decode()
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/atom+xml")
    entries = feed_entries(response.content)
    assert len(entries) == 1
    assert entries[0].find(f"{ATOM}title").text == "Some trades are failing to execute (Investigating)"
    assert "We are investigating" in entries[0].find(f"{ATOM}summary").text
    assert entries[0].find(f"{ATOM}author") is None
    assert leaks(xml, public_incident) == []
    assert "@" not in xml


def test_incident_without_customer_update_is_not_public(client, incident):
    html = client.get("/status/").content.decode()

    assert "All systems operational" in html
    assert leaks(html, incident) == []
    assert feed_entries(client.get("/status/feed/").content) == []


def _past_incident(actor, days_ago, body):
    incident = services.incident_declare(
        actor=actor,
        title=f"internal title {days_ago}",
        severity=Severity.objects.get(level=2),
        incident_type=IncidentType.objects.get(slug="other"),
        detection_source=Incident.DetectionSource.USER_REPORT,
        detected_at=timezone.now() - timedelta(days=days_ago, hours=2),
    )
    update = services.status_update_post(incident=incident, actor=actor, audience="customers", body=body)
    StatusUpdate.objects.filter(pk=update.pk).update(posted_at=timezone.now() - timedelta(days=days_ago))
    services.incident_transition(incident=incident, action="acknowledge", actor=actor)
    services.incident_transition(incident=incident, action="resolve", actor=actor, note="Verified")
    return incident


def test_history_covers_the_last_90_days(client, responder):
    _past_incident(responder, 30, "Delayed signals last month")
    _past_incident(responder, 100, "Ancient outage")

    html = client.get("/status/").content.decode()

    assert "Delayed signals last month" in html
    assert "Resolved" in html
    assert "Ancient outage" not in html
    assert "All systems operational" in html


@pytest.mark.parametrize("count", [5, 50])
def test_status_page_runs_constant_queries(client, responder, count, django_assert_num_queries):
    for number in range(count):
        _past_incident(responder, 1 + number % 80, f"Update {number}")

    with django_assert_num_queries(3):  # current incidents, past incidents, their updates
        response = client.get("/status/")
    with django_assert_num_queries(3):
        feed = client.get("/status/feed/")

    assert response.content.decode().count('class="incident"') == min(count, PAST_LIMIT)  # the newest
    assert len(feed_entries(feed.content)) == count


def _link(message, name):
    return re.search(rf"https?://[^/\s]+(/status/{name}/[^/\s]+/)", message.body_text).group(1)


def test_double_opt_in_then_customer_updates_then_unsubscribe(client, public_incident, responder):
    response = client.post("/status/subscribe/", {"email": " Fan@Example.com "})

    assert response.status_code == 200 and "Check your inbox" in response.content.decode()
    subscriber = StatusSubscriber.objects.get(email="fan@example.com")
    assert subscriber.confirmed_at is None
    confirmation = OutboxMessage.objects.get(key__startswith="status-confirm:")
    assert confirmation.recipients == ["fan@example.com"]

    # Unconfirmed: a customer update sends nothing.
    services.status_update_post(incident=public_incident, actor=responder, audience="customers", body="Still on it")
    assert broadcast_sweep() == 0
    assert not OutboxMessage.objects.filter(key__startswith="status-update:").exists()

    confirm_url = _link(confirmation, "confirm")
    assert "Yes, send me status updates" in client.get(confirm_url, follow=True).content.decode()
    subscriber.refresh_from_db()
    assert subscriber.confirmed_at is None  # a GET (a mail scanner) confirms nothing
    assert "Subscribed" in client.post("/status/confirm/").content.decode()  # the token is in a cookie now
    subscriber.refresh_from_db()
    assert subscriber.is_receiving

    services.status_update_post(incident=public_incident, actor=responder, audience="internal", body="INTERNAL x")
    fix = services.status_update_post(
        incident=public_incident, actor=responder, audience="customers", body="A fix is being deployed."
    )
    assert broadcast_sweep() == 1  # the task's work, run here in the test's transaction
    [email] = OutboxMessage.objects.filter(key__startswith="status-update:")
    assert email.key == f"status-update:{fix.pk}:{subscriber.pk}"
    assert email.recipients == ["fan@example.com"]
    assert email.subject == "Investigating: Some trades are failing to execute"
    assert "A fix is being deployed." in email.body_text
    assert leaks(email.body_text + email.body_html + email.subject, public_incident) == []

    unsubscribe_url = _link(email, "unsubscribe")
    client.get(unsubscribe_url)
    assert "Unsubscribed" in client.post("/status/unsubscribe/").content.decode()
    services.status_update_post(incident=public_incident, actor=responder, audience="customers", body="Fixed.")
    assert OutboxMessage.objects.filter(key__startswith="status-update:").count() == 1


def test_subscribing_reveals_nothing_and_does_not_flood_an_inbox(client, runbook):
    first = client.post("/status/subscribe/", {"email": "fan@example.com"}).content
    again = client.post("/status/subscribe/", {"email": "fan@example.com"}).content

    assert b"Check your inbox" in first
    assert again == first  # the same answer for a known address
    assert OutboxMessage.objects.filter(key__startswith="status-confirm:").count() == 1  # at most one a day


def test_invalid_email_is_refused(client, runbook):
    response = client.post("/status/subscribe/", {"email": "not an address"})

    assert response.status_code == 400
    assert not StatusSubscriber.objects.exists()


def test_tampered_or_expired_links_are_refused(client, runbook, time_machine):
    client.post("/status/subscribe/", {"email": "fan@example.com"})
    confirm_url = _link(OutboxMessage.objects.get(), "confirm")

    assert client.get(confirm_url.replace("/confirm/", "/confirm/x")).status_code == 404
    unsubscribe_with_confirm_token = confirm_url.replace("/confirm/", "/unsubscribe/")
    assert client.get(unsubscribe_with_confirm_token).status_code == 404  # tokens are bound to their purpose
    time_machine.move_to(timezone.now() + timedelta(days=8))
    assert client.get(confirm_url).status_code == 404
    assert StatusSubscriber.objects.get().confirmed_at is None


def test_feed_summaries_are_plain_text_so_readers_show_markup_as_typed(client, incident, responder):
    services.status_update_post(
        incident=incident, actor=responder, audience="customers", body="Fees <b>doubled</b> & rising"
    )

    [entry] = feed_entries(client.get("/status/feed/").content)
    summary = entry.find(f"{ATOM}summary")

    assert summary.get("type") == "text"
    assert summary.text == "Fees <b>doubled</b> & rising"
