"""Who may read the Insights page, and what its charts hold."""

import re

import pytest
import time_machine
from django.contrib.auth import get_user_model

from .conftest import NOW


def test_anonymous_visitors_go_to_the_login_page(client, db):
    response = client.get("/insights/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/insights/")


@pytest.mark.parametrize("user", ["responder", "viewer", "portal_admin"])
def test_everyone_who_may_read_the_incident_list_may_read_insights(client, request, user):
    client.force_login(request.getfixturevalue(user))
    assert client.get("/insights/").status_code == 200
    assert client.get("/incidents/").status_code == 200


def test_a_signed_in_user_without_the_incident_view_permission_is_refused(client, runbook):
    nobody = get_user_model().objects.create_user("nobody", password="correct-horse-battery")
    client.force_login(nobody)
    assert client.get("/incidents/").status_code == 403
    assert client.get("/insights/").status_code == 403


def test_the_page_only_reads(client, responder):
    client.force_login(responder)
    assert client.post("/insights/").status_code == 405


def test_a_filter_value_that_does_not_exist_is_a_400_with_the_form(client, responder):
    client.force_login(responder)
    response = client.get("/insights/?severity=999&period=90")
    assert response.status_code == 400
    assert b"Select a valid choice" in response.content
    assert b'<option value="90" selected>' in response.content  # what was chosen stays chosen


def test_the_charts_are_inline_svg_with_nothing_the_csp_refuses(client, responder, story):
    client.force_login(responder)
    with time_machine.travel(NOW, tick=False):
        response = client.get("/insights/")
    html = response.content.decode()
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    svgs = re.findall(r"<svg.*?</svg>", html, flags=re.S)
    assert len(svgs) == 3
    for svg in svgs:
        assert "<script" not in svg
        assert "<style" not in svg
        assert "style=" not in svg
        assert "<?xml" not in svg
        assert 'role="img"' in svg
    assert not re.search(r"<script|\sstyle=|<style", html)  # nor anywhere else on the page
    severity_chart = svgs[0]
    assert 'class="pygal-chart chart-severity"' in severity_chart
    # A tooltip without script: each bar says what it is.
    assert "<title>Sev1, 1 Jun, 1</title>" in severity_chart
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids))  # unique, though pygal gives every chart's legend the same ones


def test_the_figures_beside_each_chart_are_a_table_with_headers(client, responder, story):
    client.force_login(responder)
    with time_machine.travel(NOW, tick=False):
        html = client.get("/insights/").content.decode()
    for name in ("severity", "trend", "rates"):
        table = re.search(rf'<table data-testid="table-{name}">(.*?)</table>', html, flags=re.S).group(1)
        assert "<caption>" in table
        assert '<th scope="col">' in table
    rates = re.search(r'<table data-testid="table-rates">(.*?)</table>', html, flags=re.S).group(1)
    assert '<th scope="row">Status updates on cadence</th><td>5</td><td>3</td><td>62.5 %</td>' in rates
