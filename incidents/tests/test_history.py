"""An incident's history page lists every change, notes included, with the reason typed."""

from incidents import services
from incidents.history import incident_history


def test_notes_are_in_the_incident_history_with_their_author(incident, responder, other_responder):
    services.timeline_add_note(incident=incident, actor=other_responder, text="Pod 3 crash-looping since 09:12")

    [entry] = [e for e in incident_history(incident) if e.subject == "Timeline note"]

    assert entry.user == other_responder
    assert entry.action == "created"
    assert entry.reason == "Timeline note added"
    assert any(change.new == "Pod 3 crash-looping since 09:12" for change in entry.changes)


def test_a_severity_change_shows_the_reason_typed(incident, responder):
    from incidents.models import Severity

    services.incident_change_severity(
        incident=incident, severity=Severity.objects.get(level=2), actor=responder, reason="One desk only"
    )

    changes = [e for e in incident_history(incident) if e.subject == "Incident" and e.action == "changed"]
    [entry] = [e for e in changes if any(c.label == "Severity" for c in e.changes)]
    assert entry.reason == "Severity changed: One desk only"
    assert [(c.label, c.old, c.new) for c in entry.changes if c.label == "Severity"] == [
        ("Severity", "Sev1 – Critical", "Sev2 – High")
    ]


def test_a_long_reason_is_kept_whole_in_the_history_row(incident, responder):
    from incidents.models import Severity

    reason = "Only the EU desk is affected; " * 15  # ~450 characters, as the form allows 500
    services.incident_change_severity(
        incident=incident, severity=Severity.objects.get(level=2), actor=responder, reason=reason
    )

    assert incident.history.first().history_change_reason == f"Severity changed: {reason.strip()}"


def test_times_in_the_history_name_their_zone(incident, responder):
    from datetime import timedelta

    from django.utils import timezone

    services.timeline_add_note(
        incident=incident, actor=responder, text="Earlier", occurred_at=timezone.now() - timedelta(minutes=5)
    )

    [entry] = [e for e in incident_history(incident) if e.subject == "Timeline note"]
    [occurred] = [c.new for c in entry.changes if c.label == "Occurred at"]
    assert occurred.endswith(" UTC")
