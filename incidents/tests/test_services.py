from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from incidents import services
from incidents.events import incident_closing, incident_resolved
from incidents.models import ChecklistItem, Incident, IncidentType, Role, RoleAssignment, Severity, TimelineEntry
from incidents.runbook_data import GENERAL_STEPS

T0 = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


def declare(actor, level=1, type_slug="trade-execution-failure", **extra):
    return services.incident_declare(
        actor=actor,
        title=extra.pop("title", "Trades failing"),
        severity=Severity.objects.get(level=level),
        incident_type=IncidentType.objects.get(slug=type_slug),
        detection_source=Incident.DetectionSource.USER_REPORT,
        **extra,
    )


def test_declare_gives_reference_responder_checklist_and_first_event(responder):
    with time_machine.travel(T0, tick=False):
        first = declare(responder)
        second = declare(responder, level=3)

    assert first.reference == "INC-2026-0001"
    assert second.reference == "INC-2026-0002"
    assert first.initial_responder == responder
    assert first.status == Incident.Status.DETECTED
    sections = list(first.checklist.values_list("section", flat=True))
    # The general runbook's steps, then the type's own in each section.
    assert sections.count("initial_response") == 9
    assert sections.count("symptom") == 3
    assert sections.count("investigation") == 12 + 5
    assert sections.count("resolution") == 12 + 5
    assert sections.count("post_incident") == 8
    assert first.checklist.get(section="investigation", position=1).text == "Gather information: check service logs"
    assert first.checklist.get(section="investigation", position=13).text == "Check executor service logs"
    assert first.timeline.get().text.startswith("Incident declared as Sev1")
    assert first.next_update_due_at == T0 + timedelta(minutes=30)
    assert second.next_update_due_at == T0 + timedelta(hours=2)


def test_sev4_has_no_update_cadence(responder):
    assert declare(responder, level=4).next_update_due_at is None


def test_references_restart_each_year(responder):
    with time_machine.travel(T0, tick=False):
        declare(responder)
    with time_machine.travel(T0.replace(year=2027), tick=False):
        assert declare(responder).reference == "INC-2027-0001"


def test_declare_is_all_or_nothing(responder, monkeypatch):
    def broken(incident, *args, **kwargs):
        raise RuntimeError("checklist failed")

    monkeypatch.setattr(services, "_build_checklist", broken)
    with pytest.raises(RuntimeError):
        declare(responder)

    assert Incident.objects.count() == 0
    assert Incident.history.count() == 0


@pytest.mark.usefixtures("postmortems_not_required")
def test_full_lifecycle_stamps_each_phase(responder, incident):
    for action, status in [
        ("acknowledge", "acknowledged"),
        ("investigate", "investigating"),
        ("mitigate", "mitigating"),
    ]:
        incident = services.incident_transition(incident=incident, action=action, actor=responder)
        assert incident.status == status
    incident = services.incident_transition(
        incident=incident, action="resolve", actor=responder, note="Dashboards green"
    )

    assert incident.status == Incident.Status.RESOLVED
    assert incident.acknowledged_at and incident.investigating_at and incident.mitigating_at and incident.resolved_at
    assert incident.resolution_note == "Dashboards green"
    assert incident.next_update_due_at is None
    texts = list(incident.timeline.filter(kind="event").values_list("text", flat=True))
    assert "Status changed to post-incident. Dashboards green" in texts

    incident = services.incident_transition(incident=incident, action="close", actor=responder)
    assert incident.status == Incident.Status.CLOSED and incident.closed_at


@pytest.mark.parametrize(
    "action, note, message",
    [
        ("close", "", "Cannot close an incident that is detected."),
        ("resolve", "", "Cannot resolve an incident that is detected."),
        ("reopen", "why", "Cannot reopen an incident that is detected."),
        ("explode", "", "Unknown action “explode”."),
    ],
)
def test_invalid_transition_is_refused_and_changes_nothing(incident, responder, action, note, message):
    history_rows = incident.history.count()

    with pytest.raises(services.TransitionNotAllowed) as raised:
        services.incident_transition(incident=incident, action=action, actor=responder, note=note)

    assert raised.value.messages == [message]
    incident.refresh_from_db()
    assert incident.status == "detected"
    assert incident.history.count() == history_rows


def test_resolve_needs_a_verification_note(incident, responder):
    services.incident_transition(incident=incident, action="acknowledge", actor=responder)

    with pytest.raises(services.TransitionNotAllowed, match="verified"):
        services.incident_transition(incident=incident, action="resolve", actor=responder, note="  ")


def test_resolve_sends_the_domain_event_inside_the_transaction(incident, responder):
    seen = []

    def receiver(sender, incident, actor, **kwargs):
        seen.append((incident.status, actor, transaction.get_connection().in_atomic_block))

    incident_resolved.connect(receiver)
    try:
        services.incident_transition(incident=incident, action="acknowledge", actor=responder)
        services.incident_transition(incident=incident, action="resolve", actor=responder, note="ok")
    finally:
        incident_resolved.disconnect(receiver)

    assert seen == [("resolved", responder, True)]


@pytest.mark.usefixtures("postmortems_not_required")
def test_closure_checks_block_closing_with_their_reasons(incident, responder):
    services.incident_transition(incident=incident, action="acknowledge", actor=responder)
    services.incident_transition(incident=incident, action="resolve", actor=responder, note="ok")

    def objection(sender, *, incident, **kwargs):
        return [f"{incident.reference} has no post-mortem yet."]

    incident_closing.connect(objection)
    try:
        with pytest.raises(services.TransitionNotAllowed) as raised:
            services.incident_transition(incident=incident, action="close", actor=responder)
    finally:
        incident_closing.disconnect(objection)

    assert raised.value.messages == [f"{incident.reference} has no post-mortem yet."]


def test_reopen_needs_a_reason_and_restarts_the_cadence(incident, responder):
    services.incident_transition(incident=incident, action="acknowledge", actor=responder)
    services.incident_transition(incident=incident, action="resolve", actor=responder, note="ok")
    with pytest.raises(services.TransitionNotAllowed, match="reason"):
        services.incident_transition(incident=incident, action="reopen", actor=responder)

    with time_machine.travel(T0, tick=False):
        incident = services.incident_transition(incident=incident, action="reopen", actor=responder, note="Back again")

    assert incident.status == "investigating"
    assert incident.resolved_at is None
    assert incident.next_update_due_at == T0 + timedelta(minutes=30)


def test_severity_change_needs_a_reason_and_lands_on_the_timeline(incident, responder):
    sev2 = Severity.objects.get(level=2)
    with pytest.raises(ValidationError):
        services.incident_change_severity(incident=incident, severity=sev2, actor=responder, reason="")

    incident = services.incident_change_severity(
        incident=incident, severity=sev2, actor=responder, reason="Only some pairs affected"
    )

    assert incident.severity == sev2
    assert incident.timeline.filter(text="Severity changed from Sev1 to Sev2: Only some pairs affected").exists()
    assert incident.next_update_due_at == incident.detected_at + timedelta(hours=1)
    assert incident.history.first().history_change_reason == "Severity changed: Only some pairs affected"


def test_role_hand_off_keeps_the_previous_holder(incident, responder, other_responder):
    ic = Role.objects.get(slug="incident-commander")
    services.role_assign(incident=incident, role=ic, user=responder, actor=responder)
    services.role_assign(incident=incident, role=ic, user=other_responder, actor=responder, note="shift change")

    holders = list(RoleAssignment.objects.filter(incident=incident, role=ic).order_by("started_at"))
    assert [h.user for h in holders] == [responder, other_responder]
    assert holders[0].ended_at is not None and holders[1].ended_at is None
    assert incident.timeline.filter(
        text="Incident Commander handed off from Rita Responder to Tom Tech. shift change"
    ).exists()
    with pytest.raises(ValidationError, match="already Incident Commander"):
        services.role_assign(incident=incident, role=ic, user=other_responder, actor=responder)


def test_database_holds_one_active_holder_per_role(incident, responder, other_responder):
    ic = Role.objects.get(slug="incident-commander")
    RoleAssignment.objects.create(incident=incident, role=ic, user=responder)

    with pytest.raises(IntegrityError), transaction.atomic():
        RoleAssignment.objects.create(incident=incident, role=ic, user=other_responder)


def test_backdated_note_sorts_by_when_it_happened(incident, responder):
    earlier = incident.detected_at - timedelta(minutes=10)

    note = services.timeline_add_note(
        incident=incident, actor=responder, text="First report in chat", occurred_at=earlier
    )

    assert list(incident.timeline.all())[0] == note
    assert note.is_backdated
    with pytest.raises(ValidationError, match="future"):
        services.timeline_add_note(
            incident=incident, actor=responder, text="later", occurred_at=timezone.now() + timedelta(hours=1)
        )
    with pytest.raises(ValidationError, match="empty"):
        services.timeline_add_note(incident=incident, actor=responder, text="   ")


def test_status_update_moves_the_next_due_time(incident, responder):
    with time_machine.travel(incident.detected_at + timedelta(minutes=20), tick=False):
        update = services.status_update_post(incident=incident, actor=responder, audience="customers", body="Looking")

    incident.refresh_from_db()
    assert incident.next_update_due_at == update.posted_at + timedelta(minutes=30)
    assert incident.timeline.filter(kind=TimelineEntry.Kind.STATUS_UPDATE, data__status_update=update.pk).exists()


def test_overdue_and_unacknowledged_querysets(incident, responder):
    assert list(Incident.objects.update_overdue(incident.detected_at + timedelta(minutes=29))) == []
    assert list(Incident.objects.update_overdue(incident.detected_at + timedelta(minutes=30))) == [incident]
    assert list(Incident.objects.unacknowledged_since(incident.detected_at)) == [incident]
    services.incident_transition(incident=incident, action="acknowledge", actor=responder)
    assert list(Incident.objects.unacknowledged_since(incident.detected_at)) == []


def test_phase_targets(incident, responder):
    assert incident.phase_deadline() == incident.detected_at + timedelta(minutes=15)
    assert not incident.is_phase_overdue(incident.detected_at + timedelta(minutes=15))
    assert incident.is_phase_overdue(incident.detected_at + timedelta(minutes=16))
    incident = services.incident_transition(incident=incident, action="acknowledge", actor=responder)
    assert incident.phase_deadline() == incident.detected_at + timedelta(hours=2)


def test_checklist_tick_records_who_and_when(incident, responder):
    item = incident.checklist.get(text="Check executor service logs")

    item = services.checklist_item_set_done(item=item, actor=responder, done=True)

    assert item.done_by == responder and item.done_at
    assert incident.timeline.filter(text="Done: Check executor service logs").exists()
    item = services.checklist_item_set_done(item=item, actor=responder, done=False)
    assert item.done_at is None and item.done_by is None


def test_database_refuses_a_tick_without_who(incident):
    item = incident.checklist.filter(done_at__isnull=True).first()
    item.done_at = timezone.now()

    with pytest.raises(IntegrityError), transaction.atomic():
        item.save()


def test_database_refuses_resolution_before_detection(incident):
    incident.resolved_at = incident.detected_at - timedelta(seconds=1)

    with pytest.raises(IntegrityError), transaction.atomic():
        incident.save()


def test_checklist_items_written_with_history(incident):
    assert (
        ChecklistItem.history.filter(incident_id=incident.pk).count()
        == incident.checklist.count()
        == len(GENERAL_STEPS) + 13
    )


def test_numbering_goes_on_past_9999_a_year(responder):
    from incidents.models import ReferenceCounter

    year = timezone.now().year
    ReferenceCounter.objects.create(year=year, last_number=9998)

    references = [declare(responder).reference for _ in range(3)]

    assert references == [f"INC-{year}-9999", f"INC-{year}-10000", f"INC-{year}-10001"]


def test_the_counter_starts_from_existing_references_numerically(responder):
    """A database from before counters existed: INC-…-10000 sorts before INC-…-9999 as text."""
    from incidents.models import ReferenceCounter

    year = timezone.now().year
    first = declare(responder)
    second = declare(responder)
    Incident.objects.filter(pk=first.pk).update(reference=f"INC-{year}-9999")  # test setup: an old database
    Incident.objects.filter(pk=second.pk).update(reference=f"INC-{year}-10000")
    ReferenceCounter.objects.all().delete()

    assert declare(responder).reference == f"INC-{year}-10001"


def test_each_year_has_its_own_numbers(responder):
    last_year = timezone.now().year - 1
    old = declare(responder, detected_at=datetime(last_year, 12, 31, 23, 0, tzinfo=UTC))
    new = declare(responder)

    assert old.reference == f"INC-{last_year}-0001"
    assert new.reference == f"INC-{timezone.now().year}-0001"


def test_history_rows_carry_the_reason_the_person_typed(incident, responder):
    services.incident_transition(incident=incident, action="acknowledge", actor=responder)
    services.incident_transition(incident=incident, action="resolve", actor=responder, note="Fill rate back to 99%")

    reasons = list(incident.history.order_by("history_id").values_list("history_change_reason", flat=True))

    assert reasons[-2:] == ["Incident: acknowledge", "Incident: resolve: Fill rate back to 99%"]
