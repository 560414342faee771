"""The period form: presets, two dates in the reader's zone, and every bad input refused
with a message (or, for an end date past today, read as "up to now")."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from insights.forms import MAX_DAYS, PeriodForm

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


def period(**data):
    form = PeriodForm(data)
    assert form.is_valid(), form.errors
    return form.get_period(NOW)


def errors(**data) -> dict:
    form = PeriodForm(data)
    assert not form.is_valid()
    return form.errors


def test_the_last_30_days_are_the_default():
    assert period() == period(period="30")
    assert period().start == NOW - timedelta(days=30)
    assert period().end == NOW
    assert period().label == "Last 30 days"


@pytest.mark.parametrize("days", [30, 90, 365])
def test_a_preset_ends_now_and_ignores_the_dates(days):
    result = period(period=str(days), start="2020-01-01", end="2020-01-02")
    assert (result.start, result.end) == (NOW - timedelta(days=days), NOW)


def test_two_dates_run_from_the_start_of_the_first_to_the_end_of_the_last_day():
    result = period(period="custom", start="2026-03-01", end="2026-03-31")
    assert result.start == datetime(2026, 3, 1, tzinfo=UTC)
    assert result.end == datetime(2026, 4, 1, tzinfo=UTC)
    assert result.label == "1 Mar 2026 to 31 Mar 2026"


def test_dates_without_a_period_mean_the_dates():
    assert period(start="2026-06-01").start == datetime(2026, 6, 1, tzinfo=UTC)


def test_the_days_are_the_readers_own():
    with timezone.override(ZoneInfo("Asia/Singapore")):
        result = period(period="custom", start="2026-03-01", end="2026-03-01")
    assert result.start == datetime(2026, 2, 28, 16, 0, tzinfo=UTC)
    assert result.end == datetime(2026, 3, 1, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize("end", ["", "2026-06-15", "2026-12-31", "9999-12-31"])
def test_an_end_today_or_later_means_up_to_now(end):
    result = period(period="custom", start="2026-06-01", end=end)
    assert (result.start, result.end) == (datetime(2026, 6, 1, tzinfo=UTC), NOW)


def test_a_whole_leap_year_is_allowed_and_a_day_more_is_not():
    assert period(period="custom", start="2024-01-01", end="2024-12-31").end == datetime(2025, 1, 1, tzinfo=UTC)
    assert errors(period="custom", start="2024-01-01", end="2025-01-01") == {
        "end": [f"A period can be at most {MAX_DAYS} days long; this one is 367."]
    }


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"period": "custom", "start": "2026-03-01", "end": "2026-02-01"},
            {"end": ["The end date is before the start date."]},
        ),
        ({"period": "custom"}, {"start": ["Give the first day of the period."]}),
        ({"period": "custom", "end": "2026-02-01"}, {"start": ["Give the first day of the period."]}),
        ({"period": "custom", "start": "0001-01-01"}, {"start": ["A start date before 2000 cannot be right."]}),
        ({"period": "custom", "start": "9999-12-31"}, {"start": ["The start date is in the future."]}),
        ({"period": "custom", "start": "2026-06-16"}, {"start": ["The start date is in the future."]}),
        (
            {"period": "custom", "start": "2000-01-01", "end": "9999-12-31"},
            {"end": ["A period can be at most 366 days long; this one is 9663."]},
        ),
        ({"period": "custom", "start": "yesterday"}, {"start": ["Enter a valid date."]}),
        ({"period": "custom", "start": "2026-02-30"}, {"start": ["Enter a valid date."]}),
        ({"period": "custom", "start": "10000-01-01"}, {"start": ["Enter a valid date."]}),
        ({"period": "7"}, {"period": ["Select a valid choice. 7 is not one of the available choices."]}),
    ],
)
def test_bad_periods_are_refused_with_a_reason(data, expected):
    assert errors(**data) == expected


@pytest.mark.parametrize("query", ["?period=custom&start=0001-01-01", "?start=2026-03-01&end=2026-02-01", "?end=%00"])
def test_the_page_answers_a_bad_period_with_400_and_the_form(client, responder, query):
    client.force_login(responder)
    response = client.get("/insights/" + query)
    assert response.status_code == 400
    assert b"errorlist" in response.content
    assert b"Correct the period or filters above" in response.content
    assert "figures" not in response.context


EDGES = [
    "",
    " ",
    "0001-01-01",
    "9999-12-31",
    "2000-01-01",
    "1999-12-31",
    "2026-06-15",
    "2026-06-16",
    "2026-02-29",
    "2024-02-29",
    "2026-13-01",
    "10000-01-01",
    "-1",
    "\x00",
    "custom",
    "30",
    "365",
    "1e9",
    "Ω" * 50,
]
value = st.one_of(
    st.sampled_from(EDGES),
    st.text(max_size=20),
    st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)).map(date.isoformat),
)


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "period": st.one_of(st.sampled_from(["30", "90", "365", "custom"]), value),
            "start": value,
            "end": value,
        },
    ),
    st.sampled_from(["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago", "America/Santiago"]),
)
def test_any_input_gives_a_bounded_period_or_errors(data, zone):
    with timezone.override(ZoneInfo(zone)):
        form = PeriodForm(data)
        if not form.is_valid():
            assert form.errors
            return
        result = form.get_period(NOW)
    assert result.start < result.end <= NOW
    assert result.end - result.start <= timedelta(days=MAX_DAYS, hours=2)  # a DST day is 25 hours
    assert result.start >= datetime(1999, 12, 31, tzinfo=UTC)


@pytest.mark.fuzz
@settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.fixed_dictionaries(
        {},
        optional={
            name: value | st.integers(min_value=-(10**20), max_value=10**20).map(str)
            for name in ("period", "start", "end", "severity", "type", "service")
        },
    )
)
def test_the_page_never_fails_whatever_the_query_string(client, responder, params):
    client.force_login(responder)
    response = client.get("/insights/", params)
    assert response.status_code in (200, 400)
    assert (response.status_code == 400) == ("figures" not in response.context)
