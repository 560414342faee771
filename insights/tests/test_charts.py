"""The charts render for any figures (empty periods, weeks without a resolution, a single
week, a year of weeks), and never with anything the CSP would refuse."""

import re
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from incidents.models import Severity
from insights import charts
from insights.selectors import Target, Week

SEVERITIES = [Severity(level=level, name=f"Level {level}") for level in (1, 2, 3, 4)]


def refused_by_the_csp(svg: str) -> list[str]:
    return re.findall(r"<script|<style|\sstyle=|<\?xml|href=", svg)


durations = st.none() | st.integers(min_value=0, max_value=60 * 24 * 90).map(lambda m: timedelta(minutes=m))
weeks = st.lists(
    st.tuples(st.lists(st.integers(min_value=0, max_value=500), min_size=4, max_size=4), durations, durations),
    min_size=1,
    max_size=54,
).map(
    lambda rows: [
        Week(start=date(2026, 1, 5) + timedelta(weeks=n), total=sum(counts), by_severity=counts, ack_mean=a, res_mean=r)
        for n, (counts, a, r) in enumerate(rows)
    ]
)
targets = st.lists(
    st.builds(Target, st.text(max_size=40), st.integers(0, 10_000), st.integers(0, 10_000)), min_size=4, max_size=4
)


@settings(deadline=None, max_examples=60)
@given(weeks, targets)
def test_any_figures_render_without_script_or_style(weeks, targets):
    for svg in (charts.severity_chart(weeks, SEVERITIES), charts.trend_chart(weeks), charts.rates_chart(targets)):
        assert svg.startswith("<svg")
        assert refused_by_the_csp(svg) == []


def test_a_period_without_incidents_draws_empty_charts():
    empty = [
        Week(start=date(2026, 6, 1), by_severity=[0, 0, 0, 0]),
        Week(start=date(2026, 6, 8), by_severity=[0, 0, 0, 0]),
    ]
    for svg in (
        charts.severity_chart(empty, SEVERITIES),
        charts.trend_chart(empty),
        charts.rates_chart([Target("x", 0, 0)]),
    ):
        assert "No incidents in this period" in svg


@pytest.mark.parametrize("acknowledged", [None, timedelta(minutes=7)])
@pytest.mark.parametrize("resolved", [None, timedelta(hours=3)])
def test_the_trend_chart_draws_what_there_is(acknowledged, resolved):
    svg = charts.trend_chart([Week(start=date(2026, 6, 1), ack_mean=acknowledged, res_mean=resolved)])
    assert ("<title>Mean time to acknowledge (min), 1 Jun, 7 min</title>" in svg) == bool(acknowledged)
    assert ("<title>Mean time to resolve (h), 1 Jun, 3 h</title>" in svg) == bool(resolved)
    assert ("No incidents in this period" in svg) == (not acknowledged and not resolved)


def test_the_rates_chart_shows_shares_rounded_down_and_leaves_out_what_was_not_measured():
    svg = charts.rates_chart(
        [Target("Ack", 2, 1), Target("Investigation", 0, 0), Target("Cadence", 1, 0), Target("Milestones", 0, 3)]
    )
    assert "<title>On time, Ack, 66.6 %</title>" in svg
    assert "<title>On time, Cadence, 100 %</title>" in svg
    assert "<title>On time, Milestones, 0 %</title>" in svg
    assert "Investigation, " not in svg


def test_a_year_of_weeks_labels_at_most_a_readable_number_of_them():
    year = [Week(start=date(2025, 6, 2) + timedelta(weeks=n), by_severity=[1, 0, 0, 0], total=1) for n in range(53)]
    svg = charts.severity_chart(year, SEVERITIES)
    shown = re.findall(r"<text [^>]*>(\d+ \w{3})</text>", svg)
    assert 4 <= len(shown) <= charts.MAX_X_LABELS + 1, shown
