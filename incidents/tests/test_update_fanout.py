"""Every audience's update reaches its channel, once: internal ones to #incidents and the severity's list,
stakeholder ones to the severity's stakeholder list, customer ones to the status page; regulator ones
send nothing themselves (the regulatory reports read them)."""

import threading

import pytest
from django.db import close_old_connections

from conftest import SEV1_LIST
from incidents import notices, services
from incidents.models import StatusUpdate
from notifications import services as outbox
from notifications.models import OutboxMessage
from notifications.tests.test_paging import gateway

from .factories import declare

M = OutboxMessage
A = StatusUpdate.Audience
STAKEHOLDERS_SEV1 = ["board@example.com", "partners@example.com"]


@pytest.fixture
def lists(settings, distribution_lists):
    settings.STAKEHOLDER_EMAIL_LISTS = {1: STAKEHOLDERS_SEV1, 2: [], 3: [], 4: []}


def update_messages(update):
    return {m.channel: m for m in M.objects.filter(key__startswith=f"status-update:{update.pk}:")}


def test_internal_update_goes_to_the_severity_list_and_slack(responder, lists, settings):
    settings.SLACK_WEBHOOK_URL = "https://hooks.slack.example/services/T/B/X"
    incident = declare(responder)

    update = services.status_update_post(incident=incident, actor=responder, audience=A.INTERNAL, body="Rolled back")

    messages = update_messages(update)
    assert set(messages) == {M.Channel.EMAIL, M.Channel.SLACK}
    assert messages[M.Channel.EMAIL].recipients == sorted(SEV1_LIST)
    assert messages[M.Channel.EMAIL].subject == f"[{incident.reference}] Sev1 internal update: Executor failing"
    assert "Rolled back" in messages[M.Channel.EMAIL].body_text
    assert "Rolled back" in messages[M.Channel.SLACK].body_text
    assert incident.reference in messages[M.Channel.SLACK].body_text


def test_stakeholder_update_goes_to_the_stakeholder_list_only(responder, lists, settings):
    settings.SLACK_WEBHOOK_URL = "https://hooks.slack.example/services/T/B/X"
    incident = declare(responder)

    update = services.status_update_post(
        incident=incident, actor=responder, audience=A.STAKEHOLDERS, body="Trading paused for 20 minutes"
    )

    messages = update_messages(update)
    assert set(messages) == {M.Channel.EMAIL}
    assert messages[M.Channel.EMAIL].recipients == STAKEHOLDERS_SEV1


def test_stakeholder_update_without_a_list_for_the_severity_sends_nothing(responder, lists):
    incident = declare(responder, level=2)

    update = services.status_update_post(incident=incident, actor=responder, audience=A.STAKEHOLDERS, body="Slow")

    assert update_messages(update) == {}


@pytest.mark.parametrize("audience", [A.CUSTOMERS, A.REGULATORS])
def test_customer_and_regulator_updates_send_no_team_message(responder, lists, settings, audience):
    settings.SLACK_WEBHOOK_URL = "https://hooks.slack.example/services/T/B/X"
    incident = declare(responder)

    update = services.status_update_post(incident=incident, actor=responder, audience=audience, body="Text")

    assert update_messages(update) == {}


def test_customer_update_still_reaches_the_status_page(responder, lists):
    incident = declare(responder)

    update = services.status_update_post(incident=incident, actor=responder, audience=A.CUSTOMERS, body="Investigating")

    # The status page's own record of sending it to its subscribers (through the reverse relation:
    # incidents' code, its tests included, imports no app built on it).
    assert StatusUpdate.objects.filter(pk=update.pk, broadcast__isnull=False).exists()


def test_the_same_update_is_never_queued_twice(responder, lists):
    incident = declare(responder)
    update = services.status_update_post(incident=incident, actor=responder, audience=A.INTERNAL, body="Once")

    notices.status_update_sent(update)  # again, as a retried caller would

    assert len(update_messages(update)) == 1
    assert M.objects.filter(key__startswith="status-update:").count() == 1


def test_updates_arrive_by_smtp_and_slack(responder, lists, settings, smtp_server):
    with gateway() as (url, received):
        settings.SLACK_WEBHOOK_URL = url
        incident = declare(responder, level=3)  # no Sev3 list: only the updates below are emailed
        settings.INCIDENT_EMAIL_LISTS = {**settings.INCIDENT_EMAIL_LISTS, 3: ["sev3@example.com"]}
        settings.STAKEHOLDER_EMAIL_LISTS = {**settings.STAKEHOLDER_EMAIL_LISTS, 3: ["execs@example.com"]}
        services.status_update_post(incident=incident, actor=responder, audience=A.INTERNAL, body="Team: rollback")
        services.status_update_post(incident=incident, actor=responder, audience=A.STAKEHOLDERS, body="Biz: 20 min")
        M.objects.filter(key__startswith="incident-declared:").delete()

        assert outbox.outbox_sweep() == {"sent": 3}

    mails = {mail["To"]: mail for mail in smtp_server.wait_for(2)}
    assert set(mails) == {"sev3@example.com", "execs@example.com"}
    assert "Team: rollback" in mails["sev3@example.com"].get_body(("plain",)).get_content()
    assert "Biz: 20 min" in mails["execs@example.com"].get_body(("plain",)).get_content()
    assert "stakeholders update" in mails["execs@example.com"]["Subject"]
    [(_, slack)] = received
    assert "Team: rollback" in slack["text"]


@pytest.mark.django_db(transaction=True)
def test_two_updates_posted_at_once_each_get_their_own_message_once(runbook, responder, settings):
    settings.INCIDENT_EMAIL_LISTS = {1: SEV1_LIST, 2: [], 3: [], 4: []}
    settings.SLACK_WEBHOOK_URL = ""
    incident = declare(responder)
    barrier = threading.Barrier(2)
    errors = []

    def post(body):
        try:
            barrier.wait()
            services.status_update_post(incident=incident, actor=responder, audience=A.INTERNAL, body=body)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=post, args=(body,)) for body in ("First", "Second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    updates = list(StatusUpdate.objects.filter(incident=incident))
    assert len(updates) == 2
    messages = M.objects.filter(key__startswith="status-update:")
    assert sorted(m.key for m in messages) == sorted(f"status-update:{u.pk}:email" for u in updates)
    assert sorted(m.body_text.split("\n\n")[1] for m in messages) == ["First", "Second"]
