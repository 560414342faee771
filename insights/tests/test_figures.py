"""Every figure of the Insights page against the story in conftest.py, worked out by hand.

Minutes are from detection. The targets are the seeded severities' own: acknowledge within
15 min, end the investigation within 2 h, updates every 30 min (Sev1), 1 h (Sev2), 2 h (Sev3)."""

from datetime import date, timedelta

import pytest
import time_machine

from incidents.models import IncidentType, Service, Severity

from .conftest import NOW


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


@pytest.fixture
def figures(client, responder, story):
    """The page's figures for a query string, read at NOW."""
    client.force_login(responder)

    def get(query=""):
        with time_machine.travel(NOW, tick=False):
            response = client.get("/insights/" + query)
        assert response.status_code == 200, response.content[:2000]
        return response.context["figures"]

    get.story = story
    return get


def targets(figures) -> list[tuple[int, int, int]]:
    return [(t.met, t.missed, t.pending) for t in figures.targets]


def test_counts_over_the_last_30_days(figures):
    s = figures().summary
    assert s.total == 5  # A B C D E; F is older
    assert s.open == 2  # D E
    assert [(row.severity.level, row.count) for row in s.by_severity] == [(1, 2), (2, 1), (3, 1), (4, 1)]


def test_mean_and_median_times_from_detection(figures):
    ack, investigate, resolve = figures().summary.timings
    # Acknowledged: A 5, B 25, C 40 (straight to investigating), E 10; D not yet.
    assert (ack.measured, ack.mean, ack.median) == (4, minutes(20), minutes(17.5))
    # Investigating: A 10, B 30, C 40.
    assert (investigate.measured, investigate.mean, investigate.median) == (3, minutes(80 / 3), minutes(30))
    # Resolved: A 180, B 150, C 300.
    assert (resolve.measured, resolve.mean, resolve.median) == (3, minutes(210), minutes(180))


def test_response_targets(figures):
    f = figures()
    # Acknowledged within 15 min: A (5), E (10); missed: B (25), C (40); D has until 12:05.
    assert (f.summary.acknowledge.met, f.summary.acknowledge.missed, f.summary.acknowledge.pending) == (2, 2, 1)
    # Investigation over within 2 h: A (resolving at 60), C (resolving at 90); missed: B (resolved at 150),
    # E (still not over at 3 h); D has until 13:50.
    assert (f.summary.investigate.met, f.summary.investigate.missed, f.summary.investigate.pending) == (2, 2, 1)
    assert f.summary.acknowledge.share_text == "50 %"


def test_status_update_cadence_and_its_worst_gaps(figures):
    c = figures().cadence
    # Gaps: A 20 30 50(late), B 70(late) 30, C 120 (= its 2 h target, so within), E 20; D (Sev4) has no
    # cadence. E has been silent since 09:20: 2 h 40 min against 30 min, a late gap still running.
    assert (c.target.met, c.target.missed) == (5, 3)
    assert c.ongoing_late == 1
    assert c.target.share_text == "62.5 %"
    assert [(g.reference, g.length, g.target, g.overrun, g.ongoing) for g in c.worst] == [
        (figures.story.e.reference, minutes(160), minutes(30), minutes(130), True),
        (figures.story.a.reference, minutes(50), minutes(30), minutes(20), False),
        (figures.story.b.reference, minutes(70), minutes(60), minutes(10), False),
    ]
    a_gap = c.worst[1]
    assert (a_gap.start, a_gap.end) == (
        figures.story.a.detected_at + minutes(50),
        figures.story.a.detected_at + minutes(100),
    )


def test_postmortem_milestones_and_action_items(figures):
    pm = figures().postmortems
    # A: meeting on time, analysis late, preventive not yet due. B: meeting and analysis overdue,
    # preventive not yet due. C, D, E have no post-mortem.
    assert [(m.target.met, m.late, m.overdue, m.target.pending) for m in pm.milestones] == [
        (1, 0, 1, 0),  # meeting
        (0, 1, 1, 0),  # analysis
        (0, 0, 0, 2),  # preventive measures
    ]
    total = pm.milestones_total
    assert (total.target.met, total.target.missed, total.target.pending) == (1, 3, 2)
    assert total.target.share_text == "25 %"
    assert (pm.action_items_open, pm.action_items_overdue, pm.action_items_done, pm.action_items_deferred) == (
        2,
        1,
        1,
        1,
    )


def test_the_on_time_chart_has_the_four_rates(figures):
    assert targets(figures()) == [(2, 2, 1), (2, 2, 1), (5, 3, 0), (1, 3, 2)]


def test_weekly_counts_and_times(figures):
    weeks = {week.start: week for week in figures().weeks}
    # The last 30 days run from Sat 16 May; weeks start on Monday.
    assert list(weeks) == [date(2026, 5, 11) + timedelta(weeks=n) for n in range(6)]
    assert weeks[date(2026, 5, 18)].total == 0
    first, second, third = weeks[date(2026, 6, 1)], weeks[date(2026, 6, 8)], weeks[date(2026, 6, 15)]
    assert (first.total, first.by_severity) == (2, [1, 1, 0, 0])
    assert (first.ack_mean, first.ack_median, first.res_mean, first.res_median) == (
        minutes(15),
        minutes(15),
        minutes(165),
        minutes(165),
    )
    assert (second.total, second.by_severity, second.ack_mean, second.res_mean) == (
        1,
        [0, 0, 1, 0],
        minutes(40),
        minutes(300),
    )
    assert (third.total, third.by_severity, third.ack_mean, third.res_mean) == (2, [1, 0, 0, 1], minutes(10), None)


def test_a_longer_period_takes_in_the_older_incident(figures):
    f = figures("?period=90")
    assert f.summary.total == 6
    ack = f.summary.timings[0]
    assert (ack.measured, ack.mean, ack.median) == (5, minutes(36), minutes(25))  # F took 100
    # F's post-mortem (resolved 1 Apr): all three milestones open and overdue.
    assert [m.overdue for m in f.postmortems.milestones] == [2, 2, 1]
    # F: detection to its update 300 min (late), against 30.
    assert (f.cadence.target.met, f.cadence.target.missed) == (5, 4)
    assert f.cadence.worst[0].reference == figures.story.f.reference


def test_two_dates_bound_the_figures(figures):
    f = figures("?period=custom&start=2026-06-08&end=2026-06-08")
    assert f.summary.total == 1  # C alone
    assert [w.start for w in f.weeks] == [date(2026, 6, 8)]
    assert figures("?start=2026-06-01&end=9999-12-31").summary.total == 5  # up to now


def test_a_severity_narrows_every_figure(figures):
    f = figures(f"?severity={Severity.objects.get(level=1).pk}")
    assert f.summary.total == 2  # A E
    assert [row.count for row in f.summary.by_severity] == [2, 0, 0, 0]
    ack = f.summary.timings[0]
    assert (ack.mean, ack.median) == (minutes(7.5), minutes(7.5))
    assert (f.cadence.target.met, f.cadence.target.missed) == (3, 2)  # A 20 30 50, E 20 and its silence
    assert targets(f)[:2] == [(2, 0, 0), (1, 1, 0)]
    assert (f.postmortems.milestones_total.target.met, f.postmortems.milestones_total.target.missed) == (1, 1)
    assert (f.postmortems.action_items_open, f.postmortems.action_items_deferred) == (2, 0)


def test_a_type_or_a_service_narrows_the_figures_as_on_the_incident_list(figures, client):
    risk = IncidentType.objects.get(slug="risk-control-block")
    f = figures(f"?type={risk.pk}")
    assert f.summary.total == 1  # C
    assert targets(f)[:3] == [(0, 1, 0), (1, 0, 0), (1, 0, 0)]

    signals = Service.objects.get(slug="signal-processing")
    f = figures(f"?service={signals.pk}")
    assert f.summary.total == 1  # B
    assert f.summary.timings[2].mean == minutes(150)
    assert (f.postmortems.action_items_deferred, f.postmortems.milestones_total.overdue) == (1, 2)
    # The same query string on the incident list shows the same incidents.
    with time_machine.travel(NOW, tick=False):
        listed = client.get(f"/incidents/?service={signals.pk}&detected_from=2026-05-16").context["incidents"]
    assert [i.reference for i in listed] == [figures.story.b.reference]


def test_the_page_shows_durations_as_the_rest_of_the_portal_does(client, responder, story):
    client.force_login(responder)
    with time_machine.travel(NOW, tick=False):
        html = client.get("/insights/").content.decode()
    assert 'data-testid="incident-count">5<' in html
    assert '<td data-label="Mean">3 h 30 min</td>' in html  # MTTR 210 min
    assert '<td data-label="Median">17 min</td>' in html  # 17.5 min, as portal.display shows it
    assert "62.5 %" in html
    assert f'href="/incidents/{story.e.reference}/#cadence"' in html
    assert "now (no update yet)" in html


def test_no_incidents_no_figures_but_no_error(client, responder, runbook):
    client.force_login(responder)
    response = client.get("/insights/?period=365")
    assert response.status_code == 200
    f = response.context["figures"]
    assert f.summary.total == 0
    assert all(t.share is None for t in f.targets)
    assert f.summary.timings[0].mean is None
    assert "No incidents in this period" in response.content.decode()
