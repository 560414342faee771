"""Personal tokens: made and revoked by their owner on the account page (shown once,
stored as a digest), refused once expired or revoked, revoked by staff in the admin."""

import hashlib
import re
from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from api import services
from api.models import PersonalToken

from .conftest import make_token

TOKEN_TEXT = re.compile(r"ipt_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


def test_a_token_is_stored_as_its_digest_and_a_prefix(responder):
    token, text = make_token(responder)

    assert TOKEN_TEXT.fullmatch(text)
    assert token.digest == hashlib.sha256(text.encode()).hexdigest()
    assert text.startswith(token.display_prefix + "_")
    stored = PersonalToken.objects.filter(pk=token.pk).values().get()
    assert not any(text in str(value) for value in stored.values())
    record = token.history.get()
    assert record.history_user == responder and record.history_change_reason == "API token created"
    assert not hasattr(record, "digest")  # not even the digest goes into history


@pytest.mark.parametrize(
    "expires_in, message", [(timedelta(0), "future"), (timedelta(days=-1), "future"), (timedelta(days=366), "365")]
)
def test_a_token_must_expire_within_a_year(responder, expires_in, message):
    with pytest.raises(ValidationError, match=message):
        services.token_create(
            user=responder, actor=responder, name="x", scope="read", expires_at=timezone.now() + expires_in
        )


def test_a_token_needs_a_name_and_a_known_scope(responder):
    later = timezone.now() + timedelta(days=1)
    with pytest.raises(ValidationError, match="name"):
        services.token_create(user=responder, actor=responder, name="  ", scope="read", expires_at=later)
    with pytest.raises(ValidationError, match="scope"):
        services.token_create(user=responder, actor=responder, name="x", scope="admin", expires_at=later)


def test_a_person_holds_a_bounded_number_of_active_tokens(responder):
    for i in range(services.MAX_ACTIVE_TOKENS):
        make_token(responder, name=f"t{i}")

    with pytest.raises(ValidationError, match="revoke one"):
        make_token(responder)
    services.token_revoke(token=PersonalToken.objects.first(), actor=responder)
    make_token(responder)  # room again


def test_revoking_twice_is_refused(responder):
    token, _ = make_token(responder)
    services.token_revoke(token=token, actor=responder)

    with pytest.raises(ValidationError, match="already revoked"):
        services.token_revoke(token=token, actor=responder)
    latest = token.history.first()
    assert latest.history_user == responder and latest.history_change_reason == "API token revoked"


# What the API does with a token ---------------------------------------------------------------------------------


def test_a_valid_token_authenticates_as_its_owner(api, writer):
    response = api.as_token(writer.text).get("/api/v1/")

    assert response.status_code == 200
    assert response.json()["user"] == {"username": "rita", "name": "Rita Responder"}
    assert response.json()["token"]["scope"] == "write"


@pytest.mark.parametrize(
    "header",
    [
        "Bearer ipt_000000000000_" + "A" * 43,  # well formed, unknown
        "Bearer ipt_nothex000000_" + "A" * 43,
        "Bearer",
        "Bearer a b",
        "Bearer \u00e9",
        "bearer ipt_",
    ],
)
def test_a_wrong_token_is_a_401_with_a_challenge(api, writer, header):
    api.credentials(HTTP_AUTHORIZATION=header)

    response = api.get("/api/v1/incidents/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json()["error"]["code"] in {"authentication_failed", "not_authenticated"}


def test_a_token_with_a_right_prefix_and_wrong_secret_is_refused(api, writer):
    forged = writer.text[:-4] + ("AAAA" if not writer.text.endswith("AAAA") else "BBBB")

    assert api.as_token(forged).get("/api/v1/").status_code == 401


def test_an_expired_token_is_refused(api, writer):
    with time_machine.travel(writer.expires_at + timedelta(seconds=1), tick=False):
        response = api.as_token(writer.text).get("/api/v1/incidents/")

    assert response.status_code == 401
    assert response.json()["error"] == {"code": "authentication_failed", "message": "This token has expired."}


def test_a_revoked_token_is_refused_at_once(api, writer, responder):
    api.as_token(writer.text)
    assert api.get("/api/v1/").status_code == 200

    services.token_revoke(token=writer, actor=responder)

    response = api.get("/api/v1/")
    assert response.status_code == 401 and response.json()["error"]["message"] == "This token has been revoked."


def test_a_deactivated_owners_token_is_refused(api, writer, responder):
    responder.is_active = False
    responder.save()

    assert api.as_token(writer.text).get("/api/v1/").status_code == 401


def test_last_use_is_recorded_at_most_once_a_minute(api, writer):
    api.as_token(writer.text)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        api.get("/api/v1/")
    writer.refresh_from_db()
    assert writer.last_used_at == start

    with time_machine.travel(start + timedelta(seconds=59), tick=False):
        api.get("/api/v1/")
    writer.refresh_from_db()
    assert writer.last_used_at == start

    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        api.get("/api/v1/")
    writer.refresh_from_db()
    assert writer.last_used_at == start + timedelta(seconds=61)
    assert writer.history.count() == 1  # only its creation: use is not history


def test_a_session_does_not_authenticate_the_api(client, responder):
    client.force_login(responder)

    response = client.get("/api/v1/incidents/")

    assert response.status_code == 401


# The token page -------------------------------------------------------------------------------------------------


@pytest.fixture
def rclient(client, responder):
    client.force_login(responder)
    return client


def test_the_account_page_links_to_the_tokens(rclient):
    assert 'href="/account/tokens/"' in rclient.get("/account/").content.decode()


def test_creating_a_token_shows_it_once(rclient, responder):
    response = rclient.post("/account/tokens/", {"name": "deploy bot", "scope": "write", "expires_in": "30"})

    assert response.status_code == 201
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    [text] = set(TOKEN_TEXT.findall(page))
    token = PersonalToken.objects.get(user=responder)
    assert token.name == "deploy bot" and token.scope == "write"
    assert timedelta(days=29, hours=23) < token.expires_at - timezone.now() <= timedelta(days=30)
    assert token.digest == services.token_digest(text)
    again = rclient.get("/account/tokens/").content.decode()
    assert text not in again and token.display_prefix in again and "deploy bot" in again


@pytest.mark.parametrize(
    "data",
    [
        {"name": "", "scope": "read", "expires_in": "30"},
        {"name": "x", "scope": "admin", "expires_in": "30"},
        {"name": "x", "scope": "read", "expires_in": "400"},
        {"name": "x", "scope": "read", "expires_in": "99999999999999999999"},
        {"name": "x\x00", "scope": "read", "expires_in": "30"},
    ],
)
def test_a_bad_creation_is_a_400_that_keeps_what_was_typed(rclient, data):
    response = rclient.post("/account/tokens/", data)

    assert response.status_code == 400
    assert not PersonalToken.objects.exists()
    assert not TOKEN_TEXT.search(response.content.decode())


def test_revoking_on_the_page(rclient, writer):
    response = rclient.post(f"/account/tokens/{writer.pk}/revoke/", follow=True)

    assert response.status_code == 200 and "is revoked" in response.content.decode()
    writer.refresh_from_db()
    assert writer.revoked_at is not None and writer.revoked_by.username == "rita"


def test_another_persons_token_cannot_be_revoked_or_seen(client, other_responder, responder):
    writer, _ = make_token(responder, name="ritas-own-bot")
    client.force_login(other_responder)

    response = client.post(f"/account/tokens/{writer.pk}/revoke/")

    assert response.status_code == 404
    writer.refresh_from_db()
    assert writer.revoked_at is None
    assert "ritas-own-bot" not in client.get("/account/tokens/").content.decode()


def test_a_viewer_makes_a_read_token_and_reads_with_it(client, api, viewer, incident):
    client.force_login(viewer)
    page = client.post("/account/tokens/", {"name": "dashboards", "scope": "read", "expires_in": "7"})
    [text] = set(TOKEN_TEXT.findall(page.content.decode()))

    response = api.as_token(text).get(f"/api/v1/incidents/{incident.reference}/")

    assert response.status_code == 200 and response.json()["reference"] == incident.reference


def test_the_token_pages_need_a_login(client, writer):
    assert client.get("/account/tokens/").status_code == 302
    assert client.post(f"/account/tokens/{writer.pk}/revoke/").status_code == 302


# The admin ------------------------------------------------------------------------------------------------------


@pytest.fixture
def superclient(client, superuser):
    client.force_login(superuser)
    return client


def test_the_admin_lists_tokens_without_their_secret(superclient, writer):
    listing = superclient.get("/admin/api/personaltoken/").content.decode()
    detail = superclient.get(f"/admin/api/personaltoken/{writer.pk}/change/").content.decode()

    assert writer.display_prefix in listing and writer.name in listing
    for page in (listing, detail):
        assert writer.text not in page and writer.digest not in page


def test_staff_revoke_a_token_with_the_admin_action(superclient, superuser, api, writer):
    response = superclient.post(
        "/admin/api/personaltoken/", {"action": "revoke_selected", "_selected_action": [writer.pk]}, follow=True
    )

    assert response.status_code == 200
    writer.refresh_from_db()
    assert writer.revoked_by == superuser and writer.history.first().history_user == superuser
    assert api.as_token(writer.text).get("/api/v1/").status_code == 401


def test_the_admin_neither_adds_nor_deletes_tokens(superclient, writer):
    assert superclient.get("/admin/api/personaltoken/add/").status_code == 403
    assert superclient.post(f"/admin/api/personaltoken/{writer.pk}/delete/", {"post": "yes"}).status_code == 403
    assert PersonalToken.objects.filter(pk=writer.pk).exists()
