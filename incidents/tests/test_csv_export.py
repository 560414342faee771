"""The incident list as CSV (`?format=csv`): the list's filters and order, every
matching row, streamed a chunk at a time, with cells that no spreadsheet runs as formulas."""

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext

from incidents import exports, services
from incidents.models import Role, Service, Severity
from portal.testing import report_figures

from .factories import declare

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 3, 4, 5, tzinfo=UTC)


def export(client, params=None, status=200):
    response = client.get("/incidents/", {**(params or {}), "format": "csv"})
    assert response.status_code == status
    return response


def rows(response) -> list[dict]:
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def rclient(client, responder):
    client.force_login(responder)
    return client


@pytest.fixture
def listed(responder, other_responder):
    """sev1: executor and risk, acknowledged and resolved, Tom commanding; sev2 and sev3: open."""
    with time_machine.travel(T0, tick=False):
        sev1 = declare(
            responder, title="Executor reverts", level=1, services=Service.objects.filter(slug__in=["executor", "risk"])
        )
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        services.incident_transition(incident=sev1, action="acknowledge", actor=responder)
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        services.incident_transition(incident=sev1, action="resolve", actor=responder, note="Verified")
    services.role_assign(
        incident=sev1, role=Role.objects.get(slug=Role.INCIDENT_COMMANDER), user=other_responder, actor=responder
    )
    with time_machine.travel(T0 + timedelta(days=1), tick=False):
        sev2 = declare(responder, title="Signals late", level=2, type_slug="signal-processing-delay")
    with time_machine.travel(T0 + timedelta(days=2), tick=False):
        sev3 = declare(responder, title="Risk blocks pairs", level=3, type_slug="risk-control-block")
    return {"sev1": sev1, "sev2": sev2, "sev3": sev3}


def test_the_export_has_every_column_a_reader_wants(rclient, listed):
    response = export(rclient)

    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(r'attachment; filename="incidents-\d{8}-\d{4}\.csv"', response["Content-Disposition"])
    [sev1] = [row for row in rows(export(rclient)) if row["Reference"] == listed["sev1"].reference]
    assert sev1 == {
        "Reference": listed["sev1"].reference,
        "Title": "Executor reverts",
        "Severity": "Sev1",
        "Type": "Trade execution failures",
        "Status": "Post-incident",
        "Services": "Risk service, Trade executor",
        "Detected (UTC)": "2026-03-02T03:04:05Z",
        "Acknowledged (UTC)": "2026-03-02T03:09:05Z",
        "Resolved (UTC)": "2026-03-02T05:04:05Z",
        "Incident Commander": "Tom Tech",
        "URL": f"http://testserver/incidents/{listed['sev1'].reference}/",
    }


def test_the_list_filters_and_order_apply(rclient, listed):
    assert [r["Reference"] for r in rows(export(rclient))] == [
        listed[name].reference for name in ["sev3", "sev2", "sev1"]
    ]  # newest first, as the list
    assert [r["Reference"] for r in rows(export(rclient, {"sort": "oldest"}))] == [
        listed[name].reference for name in ["sev1", "sev2", "sev3"]
    ]
    assert [r["Reference"] for r in rows(export(rclient, {"status": "open", "sort": "severity"}))] == [
        listed[name].reference for name in ["sev2", "sev3"]
    ]
    sev3 = Severity.objects.get(level=3)
    assert [r["Title"] for r in rows(export(rclient, {"severity": sev3.pk}))] == ["Risk blocks pairs"]
    assert [r["Title"] for r in rows(export(rclient, {"q": "signals"}))] == ["Signals late"]
    assert rows(export(rclient, {"q": "nothing matches this"})) == []


def test_every_matching_row_is_exported_not_a_page(rclient, responder):
    for i in range(60):
        declare(responder, title=f"Incident {i}")
    assert len(rows(export(rclient))) == 60
    assert len(rows(export(rclient, {"q": "Incident 1"}))) == 11  # 1, 10–19


def test_rows_are_read_a_chunk_at_a_time(rclient, responder, listed, monkeypatch):
    monkeypatch.setattr(exports, "CSV_CHUNK", 2)
    for i in range(4):
        declare(responder, title=f"Incident {i}", services=Service.objects.filter(slug="database"))

    exported = rows(export(rclient))

    assert len(exported) == 7
    assert {r["Services"] for r in exported} == {"Database", "Trade executor", "Risk service, Trade executor"}
    assert [r["Incident Commander"] for r in exported].count("Tom Tech") == 1


def test_queries_grow_only_with_chunks(rclient, responder):
    def measure():
        with CaptureQueriesContext(connection) as ctx:
            exported = rows(export(rclient))
        return len(exported), len(ctx.captured_queries)

    for i in range(5):
        declare(responder, title=f"Incident {i}")
    five = measure()
    for i in range(45):
        declare(responder, title=f"More {i}")
    fifty = measure()
    report_figures("queries /incidents/?format=csv", rows_5=five, rows_50=fifty)
    assert five[0] == 5 and fifty[0] == 50
    assert five[1] == fifty[1]


@pytest.mark.parametrize(
    ("title", "cell"),
    [
        ('=HYPERLINK("http://evil.example","x")', '\'=HYPERLINK("http://evil.example","x")'),
        ("+1 555 0100 down", "'+1 555 0100 down"),
        ("-2 nodes", "'-2 nodes"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("Plain = fine", "Plain = fine"),
    ],
)
def test_cells_never_start_a_formula(rclient, responder, title, cell):
    declare(responder, title=title)
    [row] = rows(export(rclient))
    assert row["Title"] == cell


def test_the_guard_covers_every_text_cell():
    assert exports.csv_cell("=1+1") == "'=1+1"
    assert exports.csv_cell("\t=1") == "'\t=1"
    assert exports.csv_cell("\r=1") == "'\r=1"
    assert exports.csv_cell(None) == ""
    assert exports.csv_cell("a=b") == "a=b"


def test_commas_quotes_and_newlines_survive(rclient, responder):
    declare(responder, title='Gas "spike", again\nand again')
    [row] = rows(export(rclient))
    assert row["Title"] == 'Gas "spike", again\nand again'


def test_filters_that_do_not_validate_export_nothing_and_say_why(rclient, listed):
    response = export(rclient, {"severity": "999999", "detected_from": "not a date"}, status=400)
    text = response.content.decode()
    assert "severity:" in text and "detected_from:" in text


def test_the_export_needs_a_login(client, listed):
    response = client.get("/incidents/", {"format": "csv"})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_viewers_may_export(client, viewer, listed):
    client.force_login(viewer)
    assert len(rows(export(client))) == 3


def test_the_list_links_to_the_export_with_its_filters(rclient, listed):
    body = rclient.get("/incidents/", {"status": "open", "sort": "severity", "q": "a b"}).content.decode()
    [href] = re.findall(r'<p class="csv-export"><a href="\?([^"]+)"', body)
    assert href.replace("&amp;", "&") == "status=open&sort=severity&q=a+b&format=csv"


def test_the_export_link_leaves_out_the_page_cursor(rclient, responder):
    for i in range(30):
        declare(responder, title=f"Incident {i}")
    first = rclient.get("/incidents/").content.decode()
    next_href = re.search(r'<a href="\?([^"]*)" rel="next"', first).group(1).replace("&amp;", "&")
    body = rclient.get("/incidents/?" + next_href).content.decode()
    [href] = re.findall(r'<p class="csv-export"><a href="\?([^"]+)"', body)
    assert "after=" not in href and "before=" not in href and href.endswith("format=csv")
    assert len(rows(rclient.get("/incidents/?" + href.replace("&amp;", "&")))) == 30
