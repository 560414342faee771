"""The entry and reversal forms, fuzzed: whatever is sent, the answer is never a server error, a
refusal writes nothing, and an accepted amount is stored exactly as typed. HYPOTHESIS_PROFILE=slow
runs many more examples (make fuzz)."""

import os
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incidents.models import TimelineEntry
from ledger.models import ImpactEntry
from ledger.money import MAX_AMOUNT

from .factories import add

EXAMPLES = 1000 if os.environ.get("HYPOTHESIS_PROFILE") == "slow" else 120

AMOUNT_EDGES = [
    "",
    " ",
    "0",
    "0.00",
    "0.01",
    "0.1",
    "-0.01",
    "-1",
    "+1",
    "9999",
    "10000",
    "10,000",
    "12 500.00",
    "12,50",
    "1,2,3",
    str(MAX_AMOUNT),
    f"{MAX_AMOUNT}.99",
    f"{MAX_AMOUNT}.9999",
    str(MAX_AMOUNT + 1),
    "1" + "0" * 15,
    "9" * 40,
    "9" * 5000,
    "1e3",
    "1e400",
    "1E-400",
    "-1e400",
    "NaN",
    "nan",
    "sNaN",
    "-NaN",
    "Infinity",
    "-Infinity",
    "inf",
    "0x10",
    "1_000",
    "١٢٣",  # Arabic-Indic digits
    "１２",  # full-width digits
    "12.",
    ".5",
    ".",
    "1.2.3",
    "1.005",
    "1.0001",
    "1.00001",
    "\x00",
    "1\x00",
    "<script>",
]
CURRENCY_EDGES = [
    "USD",
    "usd",
    " EUR ",
    "JPY",
    "KWD",
    "CLF",
    "XAU",
    "XXX",
    "XTS",
    "ABC",
    "BTC",
    "US",
    "USDT",
    "",
    "€",
    "\x00SD",
    "Ω" * 3,
]
QUANTITY_EDGES = ["", "0", "1", "-1", "1.5", "1,000", "999999999999999", "1000000000000000", "9" * 30, "1e3", "NaN"]

text = st.text(max_size=40)
amount = st.sampled_from(AMOUNT_EDGES) | text | st.decimals(allow_nan=True, allow_infinity=True).map(str)
amount |= st.integers(min_value=-(10**20), max_value=10**20).map(str)
currency = st.sampled_from(CURRENCY_EDGES) | st.text(max_size=5)
quantity = st.sampled_from(QUANTITY_EDGES) | text | st.integers(min_value=-(10**20), max_value=10**20).map(str)
kind = st.sampled_from([*ImpactEntry.Kind.values, "", "loss", "\x00"])
confirmation = st.sampled_from(["estimated", "requested", "confirmed", "", "x"])
note = st.sampled_from(["", "ok", "a\x00b", "x" * 2001]) | text
# Amounts near and past the limits, with up to 4 decimals, as a person would type them.
plausible_amount = st.sampled_from(AMOUNT_EDGES) | st.integers(0, 5).flatmap(
    lambda places: st.decimals(min_value=Decimal("-1"), max_value=Decimal(MAX_AMOUNT) * 10, places=places)
).map(str)
plausible_amount |= st.integers(min_value=0, max_value=MAX_AMOUNT * 10).map(lambda n: f"{n:,}")


def entry_form():
    """Anything at all, or a plausible form whose amount and quantity are fuzzed."""
    wild = st.fixed_dictionaries(
        {}, optional={"kind": kind, "amount": amount, "currency": currency, "quantity": quantity, "note": note}
    )
    plausible = st.fixed_dictionaries(
        {
            "kind": st.sampled_from(ImpactEntry.Kind.values),
            "amount": plausible_amount,
            "currency": st.sampled_from(["USD", "usd", "JPY", "KWD", "CLF", "EUR"]),
            "confirmation": st.sampled_from(["estimated", "requested"]),
        },
        optional={"quantity": st.sampled_from(QUANTITY_EDGES), "note": note},
    )
    return wild | plausible


def expected_amount(typed: str) -> Decimal:
    """What an accepted amount must be stored as: the digits typed, separators dropped."""
    digits = typed.strip()
    for separator in (",", " ", "\u00a0", "\u202f", "\u2009"):
        digits = digits.replace(separator, "")
    return Decimal(digits if not digits.endswith(".") else digits[:-1] or "0")


@pytest.mark.fuzz
def test_no_entry_form_input_makes_a_server_error_or_a_half_write(client, responder, incident):
    client.force_login(responder)
    url = f"/impact/{incident.reference}/entries/"

    outcomes = set()

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    @given(data=entry_form())
    def check(data):
        entries, lines = ImpactEntry.objects.count(), TimelineEntry.objects.count()
        response = client.post(url, data)
        assert response.status_code in (302, 400), (data, response.status_code)
        outcomes.add(response.status_code)
        if response.status_code == 400:
            assert (ImpactEntry.objects.count(), TimelineEntry.objects.count()) == (entries, lines), data
            return
        entry = ImpactEntry.objects.latest("id")
        assert ImpactEntry.objects.count() == entries + 1
        assert entry.amount == expected_amount(data["amount"]), data
        assert entry.currency == data["currency"].strip().upper()
        assert 0 < entry.amount <= MAX_AMOUNT + 1

    check()
    assert outcomes == {302, 400}  # the fuzz reached both sides


@pytest.mark.fuzz
def test_no_reversal_input_makes_a_server_error_or_a_half_write(client, responder, incident):
    client.force_login(responder)

    @settings(max_examples=EXAMPLES // 2, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        data=st.fixed_dictionaries({}, optional={"reason": note, "corrected_amount": amount}),
        currency=st.sampled_from(["USD", "JPY", "KWD"]),
    )
    def check(data, currency):
        entry = add(incident, responder, "100", currency)
        entries = ImpactEntry.objects.count()
        response = client.post(f"/impact/{incident.reference}/entries/{entry.pk}/reverse/", data)
        assert response.status_code in (302, 400), (data, response.status_code)
        if response.status_code == 400:
            assert ImpactEntry.objects.count() == entries, data
        else:
            assert entry.reversed_by is not None or ImpactEntry.objects.filter(reverses=entry).exists()
            corrected = (data.get("corrected_amount") or "").strip()
            assert ImpactEntry.objects.count() == entries + (2 if corrected else 1), data

    check()
