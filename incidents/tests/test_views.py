"""The responders' pages: what each shows, and what each action does."""

import pytest
from django.urls import reverse

from incidents.models import Contact


@pytest.fixture
def rclient(client, responder):
    client.force_login(responder)
    return client


def detail_url(incident):
    return reverse("incidents:detail", args=[incident.reference])


def test_dashboard_smoke(rclient, incident):
    response = rclient.get("/")
    assert response.status_code == 200
    assert incident.reference in response.content.decode()


def test_pages_smoke(rclient, incident):
    for url in [
        "/incidents/",
        "/incidents/new/",
        detail_url(incident),
        reverse("incidents:history", args=[incident.reference]),
        "/contacts/",
        "/contacts/?print=1",
        "/runbooks/",
        "/runbooks/trade-execution-failure/",
        reverse("incidents:object_history", args=["contact", Contact.objects.first().pk]),
    ]:
        assert rclient.get(url).status_code == 200, url
