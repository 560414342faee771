"""The ledger's rules: exact sums per currency, the second person, reversals, history and timeline."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from incidents.models import TimelineEntry
from ledger import selectors, services
from ledger.models import ImpactEntry

from .factories import add, confirmed

S = ImpactEntry.Status


def totals(incident) -> dict[str, tuple]:
    return {t.currency: (t.confirmed, t.unconfirmed, t.total) for t in selectors.incident_totals(incident)}


def test_tenths_add_up_exactly(incident, responder):
    for _ in range(10):
        add(incident, responder, "0.1")
    add(incident, responder, "0.2")

    [usd] = selectors.incident_totals(incident)
    assert usd.total == Decimal("1.2")  # 0.1 * 10 + 0.2: a float sum gives 1.2000000000000002
    assert usd.total_text == "USD 1.20"


def test_amounts_of_a_quadrillion_sum_exactly(incident, responder):
    for _ in range(12):
        add(incident, responder, "999999999999999.99")
    add(incident, responder, "1000000000000000")

    [usd] = selectors.incident_totals(incident)
    assert usd.total == Decimal("12999999999999999.88")  # past a float's 15-17 significant digits
    assert usd.total_text == "USD 12,999,999,999,999,999.88"


def test_totals_are_per_currency_never_mixed(incident, responder, other_responder):
    add(incident, responder, "100.00", "USD")
    add(incident, responder, "50.00", "USD")
    add(incident, responder, "80.00", "EUR")
    confirmed(incident, responder, other_responder, "1200", "JPY")
    confirmed(incident, responder, other_responder, "0.125", "KWD")

    assert totals(incident) == {
        "EUR": (Decimal(0), Decimal("80"), Decimal("80")),
        "JPY": (Decimal("1200"), Decimal(0), Decimal("1200")),
        "KWD": (Decimal("0.125"), Decimal(0), Decimal("0.125")),
        "USD": (Decimal(0), Decimal("150"), Decimal("150")),
    }
    compact = selectors.incident_totals(incident).compact
    assert compact == "≈ EUR 80.00 est. · JPY 1,200 confirmed · KWD 0.125 confirmed · ≈ USD 150.00 est."


def test_totals_of_many_incidents_come_from_one_query(incident, responder, django_assert_num_queries):
    from incidents.tests.factories import declare

    second = declare(responder, title="Second")
    add(incident, responder, "10.00", "USD")
    add(second, responder, "20.00", "EUR")

    with django_assert_num_queries(1):
        found = selectors.totals_for_incidents([incident.pk, second.pk, 0])

    assert {pk: t.compact for pk, t in found.items()} == {
        incident.pk: "≈ USD 10.00 est.",
        second.pk: "≈ EUR 20.00 est.",
    }


@pytest.mark.parametrize(
    ("amount", "currency", "reason"),
    [
        ("1.005", "USD", "USD has 2 decimals"),
        ("1200.5", "JPY", "JPY has no decimals"),
        ("10", "ABC", "not an ISO 4217 currency code"),
        ("10", "XAU", "without a minor unit"),
        ("0", "USD", "more than zero"),
        ("-10", "USD", "more than zero"),
        ("NaN", "USD", "finite"),
        ("Infinity", "USD", "finite"),
        ("1E+16", "USD", "16 digits"),
    ],
)
def test_bad_amounts_are_refused_and_nothing_is_written(incident, responder, amount, currency, reason):
    with pytest.raises(ValidationError) as refused:
        add(incident, responder, amount, currency)

    assert reason in " ".join(refused.value.messages)
    assert not ImpactEntry.objects.exists()


def test_a_float_is_not_an_amount(incident, responder):
    with pytest.raises(TypeError):
        services.impact_entry_add(incident=incident, actor=responder, kind="orders", amount=0.1, currency="USD")
    assert not ImpactEntry.objects.exists()


def test_an_entry_has_its_history_and_a_timeline_line(incident, responder):
    entry = add(incident, responder, "12500", quantity=120, note="From the executor's logs")

    [record] = entry.history.all()
    assert (record.history_type, record.history_user, record.history_change_reason) == (
        "+",
        responder,
        "Impact entry added",
    )
    line = TimelineEntry.objects.get(data__impact_entry=entry.pk)
    assert line.author == responder
    assert line.text == (
        f"Financial impact entered by Rita Responder (estimated): Orders, USD 12,500.00 (120). Entry #{entry.pk}. "
        "From the executor's logs"
    )


def test_the_enterer_cannot_confirm_their_own_entry(incident, responder):
    entry = add(incident, responder, "500", request=True)
    lines = TimelineEntry.objects.count()

    with pytest.raises(ValidationError, match="a second person must confirm it"):
        services.impact_entry_confirm(entry=entry, actor=responder)

    entry.refresh_from_db()
    assert (entry.status, entry.confirmed_by, entry.confirmed_at) == (S.REQUESTED, None, None)
    assert entry.history.count() == 1
    assert TimelineEntry.objects.count() == lines


def test_a_second_person_confirms(incident, responder, other_responder):
    entry = add(incident, responder, "500")
    services.impact_entry_request_confirmation(entry=entry, actor=responder)

    entry = services.impact_entry_confirm(entry=entry, actor=other_responder)

    entry.refresh_from_db()
    assert (entry.status, entry.confirmed_by, entry.entered_by) == (S.CONFIRMED, other_responder, responder)
    assert entry.confirmed_at >= entry.requested_at >= entry.entered_at
    assert entry.amount == Decimal("500")  # the figure is as entered
    history = list(entry.history.order_by("history_date", "history_id"))
    assert [(h.history_user, h.history_change_reason, h.status) for h in history] == [
        (responder, "Impact entry added", "estimated"),
        (responder, "Impact entry: confirmation requested", "requested"),
        (other_responder, "Impact entry confirmed", "confirmed"),
    ]
    line = TimelineEntry.objects.filter(data__impact_entry=entry.pk).order_by("-id").first()
    assert line.text == f"Tom Tech confirmed impact entry #{entry.pk}: Orders, USD 500.00, entered by Rita Responder."
    assert totals(incident) == {"USD": (Decimal("500"), Decimal(0), Decimal("500"))}


def test_confirming_needs_the_permission(incident, responder, viewer):
    entry = add(incident, responder, "500", request=True)

    with pytest.raises(ValidationError, match="may not confirm"):
        services.impact_entry_confirm(entry=entry, actor=viewer)
    entry.refresh_from_db()
    assert entry.status == S.REQUESTED


def test_an_estimate_is_confirmed_only_once_confirmation_was_requested(incident, responder, other_responder):
    entry = add(incident, responder, "500")

    with pytest.raises(ValidationError, match="must be requested first"):
        services.impact_entry_confirm(entry=entry, actor=other_responder)
    services.impact_entry_request_confirmation(entry=entry, actor=responder)
    services.impact_entry_confirm(entry=entry, actor=other_responder)
    with pytest.raises(ValidationError, match="already confirmed by Tom Tech"):
        services.impact_entry_confirm(entry=entry, actor=other_responder)
    with pytest.raises(ValidationError, match="already confirmed"):
        services.impact_entry_request_confirmation(entry=entry, actor=responder)


def test_the_database_holds_the_second_person_rule(incident, responder):
    entry = add(incident, responder, "500", request=True)

    with pytest.raises(IntegrityError), transaction.atomic():
        # Past the service on purpose: the constraint is the last line.
        ImpactEntry.objects.filter(pk=entry.pk).update(
            status=S.CONFIRMED, confirmed_by=responder, confirmed_at=entry.entered_at
        )


def test_reversing_an_estimate_takes_effect_at_once(incident, responder):
    entry = add(incident, responder, "300.00", quantity=3)

    reversal, replacement = services.impact_entry_reverse(entry=entry, actor=responder, reason="Wrong incident")

    assert replacement is None
    assert (reversal.amount, reversal.status, reversal.reverses, reversal.quantity) == (
        Decimal("-300.00"),
        S.ESTIMATED,
        entry,
        3,
    )
    entry.refresh_from_db()
    assert (entry.amount, entry.status, entry.reversed_by) == (Decimal("300.00"), S.ESTIMATED, reversal)
    assert totals(incident) == {"USD": (Decimal(0), Decimal(0), Decimal(0))}
    with pytest.raises(ValidationError, match="needs no confirmation"):
        services.impact_entry_request_confirmation(entry=reversal, actor=responder)


def test_a_confirmed_entry_is_corrected_by_a_reversal_and_a_replacement(incident, responder, other_responder):
    entry = confirmed(incident, responder, other_responder, "1000.00", kind="trades", quantity=10)

    reversal, replacement = services.impact_entry_reverse(
        entry=entry, actor=responder, reason="Fees were counted twice", corrected_amount=Decimal("800.00")
    )

    # The confirmed figure stands until a second person confirms the reversal and the correction.
    assert (reversal.amount, reversal.status) == (Decimal("-1000.00"), S.REQUESTED)
    assert (replacement.amount, replacement.status, replacement.replaces, replacement.kind) == (
        Decimal("800.00"),
        S.REQUESTED,
        entry,
        "trades",
    )
    assert totals(incident) == {"USD": (Decimal("1000"), Decimal("-200"), Decimal("800"))}
    entry.refresh_from_db()
    assert (entry.amount, entry.status, entry.confirmed_by) == (Decimal("1000.00"), S.CONFIRMED, other_responder)

    with pytest.raises(ValidationError, match="a second person must confirm it"):
        services.impact_entry_confirm(entry=reversal, actor=responder)
    services.impact_entry_confirm(entry=reversal, actor=other_responder)
    services.impact_entry_confirm(entry=replacement, actor=other_responder)

    assert totals(incident) == {"USD": (Decimal("800"), Decimal(0), Decimal("800"))}
    line = TimelineEntry.objects.get(data__impact_entry=reversal.pk, text__contains="reversed")
    assert "lowers the confirmed total once a second person confirms it: Fees were counted twice." in line.text
    assert f"Corrected figure entered as #{replacement.pk} (confirmation requested): USD 800.00." in line.text
    created = reversal.history.get(history_type="+")
    assert (created.history_user, created.history_change_reason) == (
        responder,
        "Impact entry reversed: Fees were counted twice",
    )


def test_an_entry_is_reversed_once_and_a_reversal_never(incident, responder):
    entry = add(incident, responder, "10")
    reversal, _ = services.impact_entry_reverse(entry=entry, actor=responder, reason="Duplicate")

    with pytest.raises(ValidationError, match=f"already reversed by #{reversal.pk}"):
        services.impact_entry_reverse(entry=entry, actor=responder, reason="Again")
    with pytest.raises(ValidationError, match="cannot itself be reversed"):
        services.impact_entry_reverse(entry=reversal, actor=responder, reason="Undo")
    assert ImpactEntry.objects.count() == 2


def test_a_reversed_request_can_no_longer_be_confirmed(incident, responder, other_responder):
    entry = add(incident, responder, "10", request=True)
    reversal, _ = services.impact_entry_reverse(entry=entry, actor=responder, reason="Duplicate")

    with pytest.raises(ValidationError, match=f"reversed by #{reversal.pk}: nothing to confirm"):
        services.impact_entry_confirm(entry=entry, actor=other_responder)
    assert selectors.awaiting_confirmation(other_responder) == ([], 0)


def test_a_reversal_needs_a_reason_and_a_valid_correction(incident, responder):
    entry = add(incident, responder, "10", "JPY")

    with pytest.raises(ValidationError, match="reason is required"):
        services.impact_entry_reverse(entry=entry, actor=responder, reason="  ")
    with pytest.raises(ValidationError, match="JPY has no decimals"):
        services.impact_entry_reverse(entry=entry, actor=responder, reason="x", corrected_amount=Decimal("9.5"))
    assert ImpactEntry.objects.count() == 1


def test_awaiting_confirmation_lists_others_entries_oldest_first_and_counts_up_to_a_cap(
    incident, responder, other_responder, monkeypatch
):
    mine = add(incident, other_responder, "1", request=True)
    theirs = [add(incident, responder, f"{i + 1}", request=True) for i in range(5)]
    add(incident, responder, "99")  # an estimate: nobody's to confirm yet

    rows, count = selectors.awaiting_confirmation(other_responder, cap=3)
    assert rows == theirs[:3]
    assert count == 5
    rows, count = selectors.awaiting_confirmation(responder)
    assert (rows, count) == ([mine], 1)

    monkeypatch.setattr(selectors, "AWAITING_COUNT_CAP", 3)
    assert selectors.awaiting_confirmation(other_responder, cap=2)[1] == 4  # "3+"
