"""Money lost on the Insights page: the impact ledgers of the period's incidents, per currency,
confirmed apart from estimates, never converted or added across currencies."""

from decimal import Decimal

import pytest
import time_machine

from ledger import services as ledger_services
from ledger.models import ImpactEntry

from .conftest import NOW

pytestmark = pytest.mark.django_db


def insights_page(client, query):
    with time_machine.travel(NOW, tick=False):
        return client.get("/insights/", query)


def test_the_period_s_losses_are_summed_per_currency_from_the_ledger(client, responder, other_responder, story):
    add = ledger_services.impact_entry_add
    kind = ImpactEntry.Kind.values[0]
    confirmed = add(
        incident=story.a,
        actor=responder,
        kind=kind,
        amount=Decimal("12500.10"),
        currency="USD",
        request_confirmation=True,
    )
    ledger_services.impact_entry_confirm(entry=confirmed, actor=other_responder)
    add(incident=story.b, actor=responder, kind=kind, amount=Decimal("0.20"), currency="USD")  # an estimate
    add(incident=story.c, actor=responder, kind=kind, amount=Decimal("800"), currency="EUR")
    add(incident=story.f, actor=responder, kind=kind, amount=Decimal("99999"), currency="USD")  # before the period

    client.force_login(responder)
    response = insights_page(client, {"period": "30"})

    assert response.status_code == 200
    impact = {t.currency: t for t in response.context["impact"]}
    assert set(impact) == {"EUR", "USD"}
    assert (impact["USD"].confirmed, impact["USD"].unconfirmed, impact["USD"].total) == (
        Decimal("12500.10"),
        Decimal("0.20"),
        Decimal("12500.30"),
    )
    assert (impact["EUR"].confirmed, impact["EUR"].total) == (0, Decimal("800"))
    page = response.content.decode()
    assert "12,500.10" in page and "12,500.30" in page


def test_the_severity_filter_narrows_the_losses(client, responder, story):
    kind = ImpactEntry.Kind.values[0]
    ledger_services.impact_entry_add(incident=story.a, actor=responder, kind=kind, amount=Decimal("5"), currency="USD")
    ledger_services.impact_entry_add(incident=story.b, actor=responder, kind=kind, amount=Decimal("7"), currency="USD")
    client.force_login(responder)
    severity = story.b.severity.pk
    response = insights_page(client, {"period": "30", "severity": severity})
    [usd] = list(response.context["impact"])
    assert usd.total == Decimal("7")


def test_without_entries_the_section_says_so(client, responder, story):
    client.force_login(responder)
    response = insights_page(client, {"period": "30"})
    assert not response.context["impact"]
    assert "No impact entries for these incidents." in response.content.decode()
