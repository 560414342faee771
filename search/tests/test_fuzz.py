"""Whatever is typed into the search box, or put in the CSV export's query string, the
answer is never a server error (the form fuzz's values: NUL and control characters,
any text, operators, numbers past what the database holds)."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.tests.test_form_fuzz import EXAMPLES, form, value

OPERATORS = st.text(alphabet="\"-!&|():*<>\\' ORANDornot\x00\x02\x03", max_size=40)


@pytest.mark.fuzz
def test_no_search_makes_a_server_error(client, responder, corpus):
    client.force_login(responder)

    @settings(max_examples=EXAMPLES * 3, deadline=None, suppress_health_check=list(HealthCheck))
    @given(q=value | OPERATORS | st.text(max_size=250))
    def check(q):
        response = client.get("/search/", {"q": q})
        assert response.status_code in {200, 400}, (q, response.status_code)

    check()


@pytest.mark.fuzz
def test_no_filter_makes_the_csv_export_fail(client, responder, corpus):
    client.force_login(responder)

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    @given(data=form(["q", "status", "severity", "type", "service", "detected_from", "detected_to", "sort"]))
    def check(data):
        response = client.get("/incidents/", {**data, "format": "csv"})
        assert response.status_code in {200, 400}, (data, response.status_code)
        if response.status_code == 200:
            b"".join(response.streaming_content)

    check()
