"""A small corpus for the search tests: one row of each kind that says "gateway", and rows that do not."""

from dataclasses import dataclass

import pytest

from incidents import services
from incidents.models import Incident
from incidents.tests.factories import declare
from postmortems import services as postmortem_services


@dataclass
class Corpus:
    in_title: Incident
    in_description: Incident
    unrelated: Incident
    note: object
    update: object
    postmortem: object


@pytest.fixture
def corpus(responder):
    in_title = declare(
        responder,
        title="Payment gateway timeouts",
        description="Checkout requests hang for thirty seconds.",
        user_impact="Traders cannot fund accounts.",
    )
    in_description = declare(
        responder,
        title="Checkout errors",
        description="The payment gateway answered 502 to one request in ten.",
        user_impact="Some traders see failed deposits.",
    )
    unrelated = declare(responder, title="Ledger batch late", description="The nightly ledger batch ran long.")
    note = services.timeline_add_note(
        incident=unrelated,
        actor=responder,
        text='Restarted the gateway pods <script>alert("x")</script> & <b>watched</b> the queue drain.',
    )
    update = services.status_update_post(
        incident=in_title,
        actor=responder,
        audience="customers",
        body="Deposits are delayed while we replace a gateway.",
    )
    postmortem, _ = postmortem_services.postmortem_open(incident=in_description, actor=responder)
    postmortem = postmortem_services.postmortem_update(
        postmortem=postmortem,
        actor=responder,
        primary_cause="An expired TLS certificate on the gateway's load balancer.",
    )
    return Corpus(in_title, in_description, unrelated, note, update, postmortem)


@pytest.fixture
def rclient(client, responder):
    client.force_login(responder)
    return client
