"""Sev1 post-mortem escalations page the emergency contacts (executives, phone only), once."""

from incidents.models import TimelineEntry
from notifications.models import OutboxMessage
from notifications.tests.test_paging import TOKEN
from postmortems import services
from postmortems.models import Reminder

M = OutboxMessage
EMERGENCY_PHONES = ["+1-555-0110", "+1-555-0111", "+1-555-0112"]


def _escalation_due(postmortem, kind=Reminder.Kind.ESCALATION):
    reminder = Reminder.objects.filter(milestone__postmortem=postmortem, kind=kind).order_by("due_at").first()
    assert reminder is not None
    return reminder


def test_sev1_escalation_pages_the_emergency_contacts_once(postmortem, settings):
    settings.PAGING_WEBHOOK_URL, settings.PAGING_TOKEN = "http://127.0.0.1:9/pages", TOKEN
    reminder = _escalation_due(postmortem)
    assert postmortem.incident.severity.level == 1

    services.deadlines_claim_batch(now=reminder.due_at, batch_size=100)
    services.deadlines_claim_batch(now=reminder.due_at, batch_size=100)  # a second sweep: nothing more

    pages = M.objects.filter(channel=M.Channel.PAGE, key__startswith=f"postmortem-escalation:{reminder.pk}:")
    assert sorted(p.recipients[0] for p in pages) == EMERGENCY_PHONES
    queued = postmortem.incident.timeline.filter(kind=TimelineEntry.Kind.OUTREACH)
    assert queued.count() == 3
    assert all(": queued." in entry.text for entry in queued)
    assert all(entry.history.get().history_user.username == "system" for entry in queued)


def test_escalations_of_lower_severities_page_nobody(postmortem, settings, responder):
    from incidents.models import Severity
    from incidents.services import incident_change_severity

    settings.PAGING_WEBHOOK_URL, settings.PAGING_TOKEN = "http://127.0.0.1:9/pages", TOKEN
    incident_change_severity(
        incident=postmortem.incident, severity=Severity.objects.get(level=2), actor=responder, reason="Smaller"
    )
    reminder = _escalation_due(postmortem)

    services.deadlines_claim_batch(now=reminder.due_at, batch_size=100)

    assert not M.objects.filter(channel=M.Channel.PAGE).exists()


def test_sev1_escalation_with_paging_off_says_so_once(postmortem, settings):
    settings.PAGING_WEBHOOK_URL = ""
    reminder = _escalation_due(postmortem)

    services.deadlines_claim_batch(now=reminder.due_at, batch_size=100)
    services.deadlines_claim_batch(now=reminder.due_at, batch_size=100)

    [entry] = postmortem.incident.timeline.filter(kind=TimelineEntry.Kind.OUTREACH)
    assert entry.text.startswith("Paging is not configured: CEO (+1-555-0110), CTO (+1-555-0111)")
    assert not M.objects.filter(channel=M.Channel.PAGE).exists()
