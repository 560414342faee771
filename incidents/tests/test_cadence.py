"""The communication schedule: overdue-update reminders, unacknowledged escalation, adherence panel."""

from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings as django_settings
from django.test import RequestFactory

from conftest import make_user
from incidents import cadence, services, tasks
from incidents.models import Contact, Incident, IncidentType, Role, Severity, StatusUpdate
from notifications.models import OutboxMessage

T0 = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


@pytest.fixture
def at(time_machine):
    """Move the clock to T0 + minutes."""

    def move(minutes):
        time_machine.move_to(T0 + timedelta(minutes=minutes), tick=False)

    move(0)
    return move


def declare(actor, level=1):
    return services.incident_declare(
        actor=actor,
        title="Signal backlog",
        severity=Severity.objects.get(level=level),
        incident_type=IncidentType.objects.get(slug="signal-processing-delay"),
        detection_source=Incident.DetectionSource.MANUAL_CHECK,
    )


def reminders():
    return list(
        OutboxMessage.objects.filter(key__startswith="update-overdue:").order_by("id").values_list("key", "recipients")
    )


def test_overdue_update_reminds_once_per_missed_slot(responder, at):
    incident = declare(responder)  # Sev1: an update every 30 minutes

    at(29)
    assert tasks.remind_overdue_updates() == 0
    at(31)
    assert tasks.remind_overdue_updates() == 1
    assert tasks.remind_overdue_updates() == 0  # a second run (or a second beat) sends nothing
    at(55)
    assert tasks.remind_overdue_updates() == 0  # still the 03:30 slot
    at(61)
    assert tasks.remind_overdue_updates() == 1  # the 04:00 slot is missed too

    assert reminders() == [
        (f"update-overdue:{incident.pk}:20261127T033000", ["rita@example.com"]),
        (f"update-overdue:{incident.pk}:20261127T040000", ["rita@example.com"]),
    ]
    message = OutboxMessage.objects.get(key__endswith="T033000")
    assert "was due at 2026-11-27 03:30" in message.body_text
    assert "every 30 min" in message.body_text


def test_posting_an_update_moves_the_next_slot(responder, at):
    incident = declare(responder)
    at(20)
    services.status_update_post(incident=incident, actor=responder, audience="internal", body="Scaling up workers")

    at(40)
    assert tasks.remind_overdue_updates() == 0  # next due at 03:50
    at(51)
    assert tasks.remind_overdue_updates() == 1
    assert reminders()[0][0].endswith("T035000")


def test_reminder_goes_to_the_comms_lead_else_the_incident_commander(responder, other_responder, at):
    incident = declare(responder)
    commander = Role.objects.get(slug="incident-commander")
    comms = Role.objects.get(slug="communications-lead")
    services.role_assign(incident=incident, role=commander, user=other_responder, actor=responder)

    at(31)
    tasks.remind_overdue_updates()
    carla = make_user("carla", "Responders", first_name="Carla", last_name="Comms")
    services.role_assign(incident=incident, role=comms, user=carla, actor=responder)
    at(61)
    tasks.remind_overdue_updates()

    assert [recipients for _, recipients in reminders()] == [["tom@example.com"], ["carla@example.com"]]


def test_no_reminders_for_sev4_or_closed_incidents(responder, at):
    declare(responder, level=4)  # "as needed"
    resolved = declare(responder, level=2)
    services.incident_transition(incident=resolved, action="acknowledge", actor=responder)
    services.incident_transition(incident=resolved, action="resolve", actor=responder, note="Verified")

    at(24 * 60)

    assert tasks.remind_overdue_updates() == 0


@pytest.mark.parametrize("count", [5, 25])
def test_a_repeated_sweep_costs_constant_queries(responder, at, count, django_assert_num_queries):
    for _ in range(count):
        declare(responder)
    at(31)
    assert cadence.remind_overdue_updates() == count

    at(40)
    # Due incidents, their leads, the keys already queued: nothing per row once reminded.
    with django_assert_num_queries(3):
        assert cadence.remind_overdue_updates() == 0


def test_unacknowledged_incident_escalates_once_to_support_and_the_commander(responder, other_responder, at):
    Contact.objects.create(
        category=Contact.Category.SUPPORT, name="24/7 desk mailbox", email="desk@example.com", escalation_order=3
    )
    incident = declare(responder, level=2)
    services.role_assign(
        incident=incident, role=Role.objects.get(slug="incident-commander"), user=other_responder, actor=responder
    )

    at(14)
    assert tasks.escalate_unacknowledged() == 0
    at(16)
    assert tasks.escalate_unacknowledged() == 1
    at(30)
    assert tasks.escalate_unacknowledged() == 0

    message = OutboxMessage.objects.get(key=f"unacknowledged:{incident.pk}")
    assert message.recipients == ["desk@example.com", "ic@snippingbot.com", "tom@example.com"]
    assert "+1-555-0100" in message.body_text  # the 24/7 lines to phone
    assert "ESCALATION" in message.subject
    entry = incident.timeline.get(text__startswith="Not acknowledged within 15 min:")
    assert entry.author.username == "system"


def test_acknowledged_incident_is_not_escalated(responder, at):
    incident = declare(responder)
    at(5)
    services.incident_transition(incident=incident, action="acknowledge", actor=responder)

    at(60)

    assert tasks.escalate_unacknowledged() == 0
    assert not OutboxMessage.objects.filter(key__startswith="unacknowledged:").exists()


def test_cadence_sweeps_are_on_the_beat_schedule():
    scheduled = {entry["task"] for entry in django_settings.CELERY_BEAT_SCHEDULE.values()}

    assert {"incidents.tasks.remind_overdue_updates", "incidents.tasks.escalate_unacknowledged"} <= scheduled


def test_gaps_are_measured_from_detection_against_the_target(responder, at):
    incident = declare(responder)  # Sev1, 30 minutes
    for minute, body in [(20, "Investigating"), (70, "Cause found"), (90, "Fix deploying")]:
        at(minute)
        services.status_update_post(incident=incident, actor=responder, audience="customers", body=body)
    at(125)

    gaps = cadence_context(incident)["gaps"]

    assert [(g.label, int(g.length.total_seconds() // 60), g.late) for g in gaps] == [
        ("Detection → update 1", 20, False),
        ("Update 1 → 2", 50, True),
        ("Update 2 → 3", 20, False),
        ("Since the last update", 35, True),
    ]


def cadence_context(incident):
    incident = Incident.objects.select_related("severity").get(pk=incident.pk)
    return cadence.cadence_panel(Incident, request=RequestFactory().get("/"), incident=incident).context


@pytest.mark.parametrize("updates", [5, 50])
def test_panel_context_runs_one_query_whatever_the_updates(responder, updates, django_assert_num_queries):
    incident = declare(responder)
    for number in range(updates):
        StatusUpdate.objects.create(
            incident=incident, audience="internal", body=f"u{number}", posted_at=incident.detected_at
        )
    incident = Incident.objects.select_related("severity").get(pk=incident.pk)

    with django_assert_num_queries(1):
        context = cadence.cadence_panel(Incident, request=None, incident=incident).context

    assert len(context["gaps"]) == updates + 1


def test_panel_is_registered_and_shows_on_the_incident_page(client, responder, at):
    incident = declare(responder)
    at(45)
    services.status_update_post(incident=incident, actor=responder, audience="internal", body="Still digging")
    at(50)
    client.force_login(responder)

    html = client.get(incident.get_absolute_url()).content.decode()

    assert "Update cadence" in html
    assert "Sev1 target: a status update at least every 30 min" in html
    assert "1 gap over target" in html
    assert "45 min" in html and "Late" in html
