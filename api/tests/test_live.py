"""A whole session over real HTTP (httpx against a running server): a token made on the
account page, then list, declare, transition, note and status update through the API,
history naming the token's owner, and the revoked token refused."""

import re

import httpx
import pytest

from incidents.models import Incident, StatusUpdate, TimelineEntry

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_script_works_an_incident_with_a_token_from_the_account_page(live_server, client, responder):
    client.force_login(responder)
    page = client.post("/account/tokens/", {"name": "pager bot", "scope": "write", "expires_in": "30"})
    [token] = set(re.findall(r"ipt_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", page.content.decode()))
    headers = {"Authorization": f"Bearer {token}"}

    with httpx.Client(base_url=live_server.url, headers=headers, timeout=30) as http:
        assert http.get("/api/v1/incidents/").json() == {"results": [], "next": None, "previous": None}

        declared = http.post(
            "/api/v1/incidents/",
            json={
                "title": "Signal backlog growing",
                "severity": 2,
                "incident_type": "signal-processing-delay",
                "services": ["signal-processing"],
                "detection_source": "alert",
            },
        )
        assert declared.status_code == 201, declared.text
        reference = declared.json()["reference"]
        assert declared.headers["Location"] == f"{live_server.url}/api/v1/incidents/{reference}/"

        moved = http.post(f"/api/v1/incidents/{reference}/transition/", json={"action": "acknowledge"})
        note = http.post(f"/api/v1/incidents/{reference}/notes/", json={"text": "Queue depth 40k and rising"})
        update = http.post(
            f"/api/v1/incidents/{reference}/updates/", json={"audience": "internal", "body": "Scaling workers"}
        )
        listed = http.get("/api/v1/incidents/", params={"status": "open"})
        wrong = http.post(
            f"/api/v1/incidents/{reference}/transition/",
            content=b"{oops",
            headers={"Content-Type": "application/json"},
        )

        assert moved.status_code == 200 and moved.json()["status"] == "acknowledged"
        assert note.status_code == update.status_code == 201
        assert [row["reference"] for row in listed.json()["results"]] == [reference]
        assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "malformed"

        incident = Incident.objects.get(reference=reference)
        assert {record.history_user for record in incident.history.all()} == {responder}
        assert TimelineEntry.objects.get(pk=note.json()["id"]).history.get().history_user == responder
        assert StatusUpdate.objects.get(pk=update.json()["id"]).history.get().history_user == responder

        token_id = responder.api_tokens.get().pk
        assert client.post(f"/account/tokens/{token_id}/revoke/").status_code == 302

        refused = http.get("/api/v1/incidents/")
        assert refused.status_code == 401
        assert refused.headers["Content-Type"] == "application/json"
        assert refused.json()["error"]["message"] == "This token has been revoked."
