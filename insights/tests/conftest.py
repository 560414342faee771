"""A fortnight of incidents with every moment set by hand (the clock moved with
time-machine while the services write), so that each figure of the Insights page can
be worked out on paper. The expected figures are in the tests, next to the sums.

All times are UTC (the test users' zone). "Now" is Monday 15 June 2026, 12:00.

    A  Sev1 trade execution, executor    detected Mon 1 Jun 10:00
       acknowledged +5, investigating +10, resolving +60, resolved +180 (min)
       updates at +20, +50, +100        -> gaps 20 (ok), 30 (ok, = target), 50 (late)
       post-mortem: meeting done 2 Jun 10:00 (due 2 Jun 13:00: on time),
       analysis done 9 Jun 10:00 (due 8 Jun 13:00: late), preventive due 1 Jul (pending)
       action items: due 20 Jun open, due 10 Jun open (overdue), one done
    B  Sev2 signal processing, signal-processing   detected Tue 2 Jun 10:00
       acknowledged +25, investigating +30, resolved +150 (no resolving phase)
       updates at +70, +100             -> gaps 70 (late), 30 (ok)
       post-mortem: nothing completed; meeting due 3 Jun, analysis due 9 Jun (both
       overdue), preventive due 2 Jul (pending); one action item deferred
    C  Sev3 risk control, risk          detected Mon 8 Jun 10:00
       straight to investigating +40 (never "acknowledged"), resolving +90, resolved +300
       update at +120                   -> gap 120 (ok, = target)
    D  Sev4 other, database             detected Mon 15 Jun 11:50, still detected
    E  Sev1 trade execution, executor   detected Mon 15 Jun 09:00
       acknowledged +10, still open; update at +20 -> gap 20 (ok), then silent 2 h 40 min (late)
    F  Sev1 trade execution, executor   detected Wed 1 Apr 10:00 (outside the last 30 days)
       acknowledged +100, investigating +110, resolved +600, update at +300
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from incidents import services
from incidents.models import Incident, IncidentType, Service, Severity
from postmortems import services as pm_services
from postmortems.models import ActionItem, Milestone, PostMortem

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0, month: int = 6) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@dataclass
class Story:
    a: Incident
    b: Incident
    c: Incident
    d: Incident
    e: Incident
    f: Incident


class Clock:
    """Writes through the services at given moments."""

    def __init__(self, traveller, actor):
        self.traveller = traveller
        self.actor = actor

    def declare(self, detected_at, *, level, type_slug, service, title):
        self.traveller.move_to(detected_at)
        return services.incident_declare(
            actor=self.actor,
            title=title,
            severity=Severity.objects.get(level=level),
            incident_type=IncidentType.objects.get(slug=type_slug),
            detection_source=Incident.DetectionSource.ALERT,
            services=Service.objects.filter(slug=service),
            detected_at=detected_at,
        )

    def transition(self, incident, action, minutes, note=""):
        self.traveller.move_to(incident.detected_at + timedelta(minutes=minutes))
        if action == "resolve":
            note = note or "Error rate back to baseline."
        return services.incident_transition(incident=incident, action=action, actor=self.actor, note=note)

    def update(self, incident, minutes):
        self.traveller.move_to(incident.detected_at + timedelta(minutes=minutes))
        services.status_update_post(incident=incident, actor=self.actor, audience="internal", body="Still on it.")

    def complete(self, postmortem, kind, moment):
        self.traveller.move_to(moment)
        milestone = postmortem.milestones.get(kind=kind)
        if kind == Milestone.Kind.MEETING:
            return pm_services.postmortem_complete_milestone(
                milestone=milestone, actor=self.actor, meeting_held_at=moment, attendees=[self.actor]
            )
        if kind == Milestone.Kind.ANALYSIS:
            pm_services.postmortem_update(
                postmortem=postmortem,
                actor=self.actor,
                **{name: "Written." for _, names in PostMortem.DELIVERABLES[:2] for name in names},
            )
        return pm_services.postmortem_complete_milestone(milestone=milestone, actor=self.actor)

    def action_item(self, postmortem, due_at, status=ActionItem.Status.OPEN):
        item = pm_services.action_item_create(
            postmortem=postmortem, actor=self.actor, title=f"Fix due {due_at:%d %b}", owner=self.actor, due_at=due_at
        )
        if status != ActionItem.Status.OPEN:
            pm_services.action_item_set_status(
                item=item, actor=self.actor, status=status, deferred_reason="Superseded by the migration."
            )
        return item


@pytest.fixture
def story(responder, four_eyes_off) -> Story:
    # The story's post-mortems are Sev1 and Sev2 ones: Sev3 and Sev4 are switched to need none (an admin's choice).
    Severity.objects.filter(level__gte=3).update(postmortem_required=False)  # reference data, no history in a test
    with time_machine.travel(at(1, 10, month=4), tick=False) as traveller:
        clock = Clock(traveller, responder)

        f = clock.declare(
            at(1, 10, month=4), level=1, type_slug="trade-execution-failure", service="executor", title="F"
        )
        clock.transition(f, "acknowledge", 100)
        clock.transition(f, "investigate", 110)
        clock.update(f, 300)
        clock.transition(f, "resolve", 600)

        a = clock.declare(at(1, 10), level=1, type_slug="trade-execution-failure", service="executor", title="A")
        clock.transition(a, "acknowledge", 5)
        clock.transition(a, "investigate", 10)
        clock.update(a, 20)
        clock.update(a, 50)
        clock.transition(a, "mitigate", 60)
        clock.update(a, 100)
        clock.transition(a, "resolve", 180)  # opens its post-mortem: meeting due 2 Jun 13:00

        b = clock.declare(
            at(2, 10), level=2, type_slug="signal-processing-delay", service="signal-processing", title="B"
        )
        clock.transition(b, "acknowledge", 25)
        clock.transition(b, "investigate", 30)
        clock.update(b, 70)
        clock.update(b, 100)
        clock.transition(b, "resolve", 150)

        pm_a = PostMortem.objects.get(incident=a)
        pm_b = PostMortem.objects.get(incident=b)
        clock.complete(pm_a, Milestone.Kind.MEETING, at(2, 10))
        clock.action_item(pm_a, at(20, 12))
        clock.action_item(pm_a, at(10, 12))
        clock.action_item(pm_a, at(5, 12), status=ActionItem.Status.DONE)
        clock.action_item(pm_b, at(25, 12), status=ActionItem.Status.DEFERRED)

        c = clock.declare(at(8, 10), level=3, type_slug="risk-control-block", service="risk", title="C")
        clock.transition(c, "investigate", 40)
        clock.transition(c, "mitigate", 90)
        clock.update(c, 120)
        clock.transition(c, "resolve", 300)

        clock.complete(pm_a, Milestone.Kind.ANALYSIS, at(9, 10))

        e = clock.declare(at(15, 9), level=1, type_slug="trade-execution-failure", service="executor", title="E")
        clock.transition(e, "acknowledge", 10)
        clock.update(e, 20)

        d = clock.declare(at(15, 11, 50), level=4, type_slug="other", service="database", title="D")
    assert not PostMortem.objects.filter(incident__in=[c, d, e]).exists()
    return Story(a=a, b=b, c=c, d=d, e=e, f=f)
