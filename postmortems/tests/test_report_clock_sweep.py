"""A report clock's reminders go out through the post-mortems' deadline sweep, with the clock moved:
each at its time and not a second earlier, to the Incident Commander and the Communications Lead, the
escalation further; and none once the report is recorded as submitted."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail

from conftest import make_user
from incidents.models import Contact, Role
from incidents.tests.factories import declare
from notifications.services import outbox_deliver
from postmortems import services as sweep
from postmortems.models import Reminder
from regulatory import services
from regulatory.models import ReportClock
from regulatory.tests.factories import assign, obligation

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


@pytest.fixture
def clock(responder, other_responder):
    obligation("Initial notification", levels=(1,), due_after=timedelta(hours=4), addressee="The regulator")
    commander = make_user("cora", "Responders", first_name="Cora", last_name="Commander")
    comms = make_user("cleo", "Responders", first_name="Cleo", last_name="Comms")
    with time_machine.travel(T0, tick=False):
        incident = declare(responder, level=1, title="Client funds delayed")
        assign(incident, Role.INCIDENT_COMMANDER, commander, responder)
        assign(incident, Role.COMMUNICATIONS_LEAD, comms, responder)
        assign(incident, Role.TECHNICAL_LEAD, other_responder, responder)
    Contact.objects.filter(name="CTO").update(email="cto@example.com")  # reference data, no history needed
    return ReportClock.objects.get(incident=incident)


def sweep_at(moment):
    with time_machine.travel(moment, tick=False):
        return sweep.deadlines_sweep()


def sent(clock):
    rows = Reminder.objects.filter(report_clock=clock, status="queued").select_related("outbox_message")
    return {r.kind: r.outbox_message.recipients for r in rows}


def test_each_reminder_goes_out_at_its_time_to_the_right_people(clock):
    leads = ["cleo@example.com", "cora@example.com"]
    due = clock.due_at
    assert sweep_at(due - timedelta(hours=1) - SECOND) == {}
    assert sweep_at(due - timedelta(hours=1)) == {"queued": 1}
    assert sent(clock) == {"before": leads}
    assert sweep_at(due - SECOND) == {}
    assert sweep_at(due) == {"queued": 1}
    assert sweep_at(due + timedelta(hours=1) - SECOND) == {}
    assert sweep_at(due + timedelta(hours=1)) == {"queued": 1}
    assert sent(clock) == {
        "before": leads,
        "overdue": leads,
        "escalation": ["cleo@example.com", "cora@example.com", "cto@example.com", "tom@example.com"],
    }
    assert sweep_at(due + timedelta(days=3)) == {}  # each once


def test_the_emails_name_the_report_its_regulator_and_the_emergency_contacts(clock):
    sweep_at(clock.due_at + timedelta(hours=1))
    for reminder in Reminder.objects.filter(report_clock=clock, status="queued").order_by("due_at"):
        outbox_deliver(message_id=reminder.outbox_message_id)
    subjects = [m.subject for m in mail.outbox]
    reference = clock.incident.reference
    assert subjects == [
        f"[{reference}] Overdue regulatory report: Initial notification",
        f"[{reference}] Escalation: regulatory report overdue: Initial notification",
    ]
    assert "To: The regulator" in mail.outbox[0].body
    assert "CTO +1-555-0111" in mail.outbox[1].body
    assert clock.get_absolute_url() in mail.outbox[1].body


def test_a_before_reminder_the_sweep_missed_is_skipped_for_the_overdue_notice(clock):
    assert sweep_at(clock.due_at + SECOND) == {"skipped": 1, "queued": 1}
    assert sent(clock) == {"overdue": ["cleo@example.com", "cora@example.com"]}


def test_no_reminder_once_the_report_is_submitted(clock, responder):
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        services.report_submit(
            clock=clock, actor=responder, submitted_at=T0 + timedelta(hours=2), regulator_reference="R-1", text="x"
        )
    assert sweep_at(clock.due_at + timedelta(days=1)) == {}
    assert sent(clock) == {}
    assert set(Reminder.objects.filter(report_clock=clock).values_list("status", flat=True)) == {"cancelled"}


def test_submitted_between_claim_and_due_the_sweep_cancels_rather_than_sends(clock, responder):
    # Recorded behind the service's back (no reminder cancelled): the sweep still sees the report was sent.
    ReportClock.objects.filter(pk=clock.pk).update(
        submitted_at=T0 + timedelta(hours=1), submitted_by=responder, recorded_at=T0 + timedelta(hours=1)
    )
    assert sweep_at(clock.due_at) == {"cancelled": 2}


def test_without_leads_the_technical_lead_is_told_and_without_anyone_it_is_skipped(responder):
    obligation(levels=(1,), due_after=timedelta(hours=4))
    tech = make_user("tess", "Responders")
    with time_machine.travel(T0, tick=False):
        told = declare(responder, level=1, title="With a technical lead")
        assign(told, Role.TECHNICAL_LEAD, tech, responder)
        nobody = declare(responder, level=1, title="Nobody assigned")
    assert sweep_at(T0 + timedelta(hours=4)) == {"queued": 1, "skipped": 3}  # and both before-reminders
    assert sent(ReportClock.objects.get(incident=told)) == {"overdue": ["tess@example.com"]}
    skipped = Reminder.objects.get(report_clock__incident=nobody, kind="overdue")
    assert (skipped.status, skipped.note) == ("skipped", "Nobody with an email address to tell")
