"""Reading and showing money: exact Decimal, the currency's decimals, clear refusals."""

from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from ledger.currencies import COMMON_CURRENCIES, ISO_4217_CODES, NO_MINOR_UNIT, minor_units
from ledger.money import (
    MAX_QUANTITY,
    amount_text,
    check_decimals,
    clean_currency,
    money_text,
    parse_amount,
    parse_quantity,
)


@pytest.mark.parametrize(
    ("typed", "amount"),
    [
        ("12500", Decimal("12500")),
        ("12,500.00", Decimal("12500")),
        ("12 500.5", Decimal("12500.5")),
        (" 0.1 ", Decimal("0.1")),
        (".25", Decimal("0.25")),
        ("7.", Decimal("7")),
        ("1000000000000000", Decimal(10**15)),
        ("9,999,999,999,999,999.9999", Decimal("9999999999999999.9999")),
    ],
)
def test_amounts_are_read_exactly(typed, amount):
    parsed = parse_amount(typed)

    assert parsed == amount
    assert isinstance(parsed, Decimal)


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("", "as digits"),
        ("-5", "cannot be negative"),
        ("+5", "as digits"),
        ("0", "more than zero"),
        ("0.000", "more than zero"),
        ("NaN", "is not a number"),
        ("-Infinity", "is not a number"),
        ("inf", "is not a number"),
        ("1e400", "exponents"),
        ("2.5E-3", "exponents"),
        ("12,50", "never the decimal point"),
        ("1,2345.00", "never the decimal point"),
        ("１２", "as digits"),  # full-width digits: not ASCII
        ("12 USD", "as digits"),
        ("10000000000000000", "16 digits"),
        ("9" * 5000, "16 digits"),
        ("1.00001", "more than 4 decimals"),
        ("a\x00b", "as digits"),
    ],
)
def test_bad_amounts_are_refused_with_a_reason(typed, reason):
    with pytest.raises(ValidationError) as refused:
        parse_amount(typed)

    assert reason in " ".join(refused.value.messages)


def test_a_currency_gets_no_more_decimals_than_iso_gives_it():
    check_decimals(Decimal("12.34"), "USD")
    check_decimals(Decimal("12.340"), "USD")  # a trailing zero carries no value
    check_decimals(Decimal("1200"), "JPY")
    check_decimals(Decimal("1.005"), "KWD")
    check_decimals(Decimal("0.0001"), "CLF")
    with pytest.raises(ValidationError, match="USD has 2 decimals"):
        check_decimals(Decimal("12.345"), "USD")
    with pytest.raises(ValidationError, match="JPY has no decimals"):
        check_decimals(Decimal("1200.5"), "JPY")
    with pytest.raises(ValidationError, match="KWD has 3 decimals"):
        check_decimals(Decimal("1.0005"), "KWD")


@pytest.mark.parametrize(("typed", "code"), [("USD", "USD"), (" eur ", "EUR"), ("jpy", "JPY"), ("XCG", "XCG")])
def test_currency_codes_are_iso_4217(typed, code):
    assert clean_currency(typed) == code


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("ABC", "not an ISO 4217 currency code"),
        ("HRK", "not an ISO 4217 currency code"),  # withdrawn in 2023
        ("BTC", "not an ISO 4217 currency code"),
        ("XAU", "without a minor unit"),
        ("XXX", "without a minor unit"),
        ("US", "three-letter"),
        ("USDT", "three-letter"),
        ("€", "three-letter"),
        ("U\x00S", "three-letter"),
        ("", "three-letter"),
    ],
)
def test_other_currencies_are_refused(typed, reason):
    with pytest.raises(ValidationError) as refused:
        clean_currency(typed)

    assert reason in " ".join(refused.value.messages)


def test_the_code_list_is_complete_and_well_formed():
    assert len(ISO_4217_CODES) == 181
    assert all(len(code) == 3 and code.isascii() and code.isupper() for code in ISO_4217_CODES)
    assert set(COMMON_CURRENCIES) <= ISO_4217_CODES - NO_MINOR_UNIT
    assert NO_MINOR_UNIT <= ISO_4217_CODES
    assert [minor_units(c) for c in ("USD", "EUR", "JPY", "KRW", "BHD", "CLF", "XAU")] == [2, 2, 0, 0, 3, 4, None]
    with pytest.raises(KeyError):
        minor_units("ABC")


def test_amounts_are_shown_with_the_currencys_decimals():
    assert money_text(Decimal("12500"), "USD") == "USD 12,500.00"
    assert money_text(Decimal("1200"), "JPY") == "JPY 1,200"
    assert money_text(Decimal("0.5"), "KWD") == "KWD 0.500"
    assert money_text(Decimal("-800"), "EUR") == "EUR −800.00"
    assert amount_text(Decimal("0.1") + Decimal("0.2"), "USD") == "0.30"
    # Far past a float's 15-17 significant digits, and past Decimal's default 28-digit context.
    assert (
        amount_text(Decimal("123456789012345678901234567890.12"), "USD") == "123,456,789,012,345,678,901,234,567,890.12"
    )


@pytest.mark.parametrize(("typed", "quantity"), [("", None), ("  ", None), ("0", 0), ("1,200", 1200), ("12.0", 12)])
def test_quantities_are_whole_numbers(typed, quantity):
    assert parse_quantity(typed) == quantity


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("12.5", "whole number"),
        ("-1", "cannot be negative"),
        (str(MAX_QUANTITY + 1), "goes up to"),
        ("1e3", "exponents"),
    ],
)
def test_bad_quantities_are_refused(typed, reason):
    with pytest.raises(ValidationError) as refused:
        parse_quantity(typed)

    assert reason in " ".join(refused.value.messages)


def test_no_float_anywhere_in_the_ledger():
    sources = [path for path in Path(__file__).parents[1].glob("*.py")]
    assert sources
    for path in sources:
        text = path.read_text()
        assert "float(" not in text and "FloatField" not in text, path.name
