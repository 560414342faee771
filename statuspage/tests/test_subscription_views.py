"""The subscription pages: refused addresses, the emailed links and their tokens, unsubscribing that erases.

(Kept apart from test_views.py, which covers the page and feed and is edited alongside for the form's markup.)
"""

import re
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.core import signing
from django.core.mail.message import sanitize_address
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from incidents import services as incidents
from notifications import services as outbox
from notifications.models import OutboxMessage
from notifications.tests.test_addresses import ADDRESSES
from statuspage import services
from statuspage.models import StatusSubscriber

from .conftest import FAN


def link_in(message: OutboxMessage, name: str) -> str:
    return re.search(rf"https?://[^/\s]+(/status/{name}/[^/\s]+/)", message.body_text).group(1)


def confirmation(subscriber) -> OutboxMessage:
    return OutboxMessage.objects.filter(key__startswith=f"status-confirm:{subscriber.pk}:").latest("pk")


@pytest.fixture
def unsubscribe_url(fan, incident, responder):
    """The unsubscribe link of the customer update `fan` was sent."""
    update = incidents.status_update_post(incident=incident, actor=responder, audience="customers", body="Slow")
    services.broadcast_sweep()
    return link_in(OutboxMessage.objects.get(key=f"status-update:{update.pk}:{fan.pk}"), "unsubscribe")


@pytest.mark.parametrize("typed", ["a@。.com", "fan@" + "ü" * 60 + ".com"])
def test_an_address_smtp_cannot_send_to_is_refused_as_typed_and_nothing_is_stored(client, runbook, typed):
    response = client.post("/status/subscribe/", {"email": typed})

    html = response.content.decode()
    assert response.status_code == 400
    assert "This address cannot receive email: " in html
    assert f'value="{typed}"' in html  # the form keeps what was typed, to be corrected
    assert not StatusSubscriber.objects.exists()
    assert not OutboxMessage.objects.exists()


def test_an_internationalised_address_is_accepted_and_its_confirmation_reaches_smtp(client, runbook, smtp_server):
    client.post("/status/subscribe/", {"email": "Fan@Mail。Bücher.Example"})
    message = OutboxMessage.objects.get()

    assert message.recipients == ["fan@mail.bücher.example"]
    assert outbox.outbox_deliver(message_id=message.pk) == "sent"
    [received] = smtp_server.wait_for(1)
    assert received["To"] == "fan@mail.xn--bcher-kva.example"


def test_the_link_stores_its_token_for_the_page_and_redirects_to_a_url_without_it(client, runbook):
    client.post("/status/subscribe/", {"email": FAN})
    url = link_in(OutboxMessage.objects.get(), "confirm")
    token = url.split("/")[-2]

    response = client.get(url)

    assert response.status_code == 302 and response["Location"] == "/status/confirm/"
    cookie = response.cookies["status_confirm"]
    assert cookie.value == token
    assert (cookie["path"], cookie["httponly"], cookie["samesite"], cookie["max-age"]) == (
        "/status/confirm/",
        True,
        "Lax",
        3600,
    )
    assert "no-store" in response["Cache-Control"]
    page = client.get("/status/confirm/")
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    html = page.content.decode()
    assert token not in html
    assert '<form method="post">' in html  # posts to /status/confirm/: no token in its request line or Referer


def test_opening_the_links_changes_nothing(client, fan, unsubscribe_url):
    services.subscriber_subscribe(email="new@example.com")
    confirm_url = link_in(OutboxMessage.objects.get(recipients=["new@example.com"]), "confirm")
    history = StatusSubscriber.history.count()

    for url in (confirm_url, "/status/confirm/", unsubscribe_url, "/status/unsubscribe/"):
        assert client.get(url).status_code in (200, 302)  # what a mail scanner does

    assert StatusSubscriber.history.count() == history
    assert StatusSubscriber.objects.get(email="new@example.com").confirmed_at is None
    assert StatusSubscriber.objects.get(pk=fan.pk).is_receiving


def test_confirming_through_the_link_and_its_page(client, runbook):
    client.post("/status/subscribe/", {"email": FAN})
    client.get(link_in(OutboxMessage.objects.get(), "confirm"))

    response = client.post("/status/confirm/")

    assert "Subscribed" in response.content.decode()
    assert response.cookies["status_confirm"]["max-age"] == 0  # the token is not kept once used
    assert StatusSubscriber.objects.get(email=FAN).is_receiving


@pytest.mark.parametrize("page", ["/status/confirm/", "/status/unsubscribe/"])
def test_a_page_reached_without_its_link_is_a_clear_404(client, runbook, page):
    for response in (client.get(page), client.post(page)):
        assert response.status_code == 404
        assert "This link is invalid or has expired" in response.content.decode()


def test_a_confirmation_that_expires_after_its_link_was_opened_is_refused(client, runbook, time_machine):
    client.post("/status/subscribe/", {"email": FAN})
    client.get(link_in(OutboxMessage.objects.get(), "confirm"))
    time_machine.move_to(timezone.now() + timedelta(days=8))

    response = client.post("/status/confirm/")

    assert response.status_code == 404 and "has expired" in response.content.decode()
    assert StatusSubscriber.objects.get().confirmed_at is None


def test_a_confirmation_link_of_one_who_unsubscribed_since_is_refused(client, runbook):
    subscriber = services.subscriber_subscribe(email=FAN)
    confirm_url = link_in(confirmation(subscriber), "confirm")
    services.subscriber_unsubscribe(subscriber=subscriber)

    assert client.get(confirm_url).status_code == 404
    subscriber.refresh_from_db()
    assert subscriber.is_erased and subscriber.confirmed_at is None


def test_unsubscribe_links_never_expire(client, fan, unsubscribe_url, time_machine):
    time_machine.move_to(timezone.now() + timedelta(days=3 * 365))

    client.get(unsubscribe_url)
    response = client.post("/status/unsubscribe/")

    assert response.status_code == 200 and "Unsubscribed" in response.content.decode()


def test_unsubscribing_through_the_page_erases_the_address(client, fan, unsubscribe_url):
    client.get(unsubscribe_url)
    html = client.post("/status/unsubscribe/").content.decode()

    assert "Your email address is erased" in html
    fan.refresh_from_db()
    assert fan.is_erased and fan.email_hash
    assert not fan.history.filter(email=FAN).exists()
    assert not OutboxMessage.objects.filter(recipients__contains=[FAN]).exists()
    assert client.post("/status/unsubscribe/").status_code == 404  # the cookie went with the click


def test_links_in_emails_sent_before_this_change_keep_working(client, fan):
    """Emails already sent carry /status/<action>/<token>/ with these salts; so do new ones."""
    confirm_token = signing.dumps(fan.pk, salt="incidents.status.confirm", compress=True)
    unsubscribe_token = signing.dumps(fan.pk, salt="incidents.status.unsubscribe", compress=True)

    assert client.get(f"/status/confirm/{confirm_token}/").status_code == 302
    assert client.get(f"/status/unsubscribe/{unsubscribe_token}/").status_code == 302
    assert client.post("/status/unsubscribe/").status_code == 200
    assert StatusSubscriber.objects.get(pk=fan.pk).is_erased


def test_subscribing_again_after_unsubscribing_sends_a_new_confirmation(client, fan, unsubscribe_url):
    client.get(unsubscribe_url)
    client.post("/status/unsubscribe/")

    response = client.post("/status/subscribe/", {"email": FAN})

    assert response.status_code == 200 and "Check your inbox" in response.content.decode()
    assert confirmation(fan).recipients == [FAN]
    client.get(link_in(confirmation(fan), "confirm"))
    client.post("/status/confirm/")
    assert StatusSubscriber.objects.receiving().get().pk == fan.pk


@pytest.mark.fuzz
@hsettings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(ADDRESSES, st.text(max_size=300)))
def test_posting_anything_to_the_form_never_fails_and_stores_only_sendable_addresses(runbook, typed):
    response = Client().post("/status/subscribe/", {"email": typed})

    assert response.status_code in (200, 400)
    if response.status_code == 200:
        stored = StatusSubscriber.objects.get(email=services.normalise_email(typed)).email
        sanitize_address(stored, "utf-8")
        stored.rsplit("@", 1)[1].encode("idna")


@pytest.mark.fuzz
@hsettings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=200), st.sampled_from(["confirm", "unsubscribe"]))
def test_any_token_in_a_link_or_a_cookie_is_a_404_never_an_error(runbook, token, action):
    client = Client()
    assert client.get(f"/status/{action}/{quote(token, safe='')}/").status_code == 404

    client.cookies[f"status_{action}"] = token.encode().decode("latin-1")  # as a WSGI server hands over header bytes
    assert client.post(f"/status/{action}/").status_code == 404
