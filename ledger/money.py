"""Money as the ledger reads and shows it: amounts are `Decimal` from the text typed to the database's
`numeric` and back, never binary floating point, and each is shown with its currency's decimals.

Parsing is strict and says what is wrong: digits with an optional decimal point and optional
thousands separators (commas or spaces in groups of three), nothing else: no sign, no exponent,
no NaN or Infinity. A comma is never read as a decimal point ("12,50" is refused, not 1,250).
"""

import re
from decimal import Decimal, localcontext

from django.core.exceptions import ValidationError

from .currencies import ISO_4217_CODES, MAX_MINOR_UNITS, NO_MINOR_UNIT, minor_units

# Amounts go up to 16 digits before the decimal point (9,999,999,999,999,999): past any loss an
# incident of this firm could have, yet far inside the column (numeric(20, 4)), so that a reversal
# (the same amount, negative) and any total fit too.
MAX_AMOUNT_DIGITS = 16
AMOUNT_MAX_DIGITS = MAX_AMOUNT_DIGITS + MAX_MINOR_UNITS  # the column's precision
MAX_AMOUNT = 10**MAX_AMOUNT_DIGITS - 1  # and any decimals
MAX_QUANTITY = 10**15 - 1

_SPACES = str.maketrans({" ": ",", "\u00a0": ",", "\u202f": ",", "\u2009": ","})
# ASCII digits only: Python's \d and Decimal() would also take other scripts' digits.
_NUMBER = re.compile(r"(?P<whole>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)?(?:\.(?P<fraction>[0-9]*))?")
_CODE = re.compile(r"[A-Z]{3}")
_NOT_A_NUMBER = {"nan", "snan", "inf", "infinity"}

EXAMPLE = "such as 12500.00 or 12,500.00"


def _number(text: str, *, what: str) -> tuple[str, str]:
    """The whole and fraction digits of `text` (grouping removed), or ValidationError saying why not."""
    value = str(text).strip()
    bare = value.lstrip("+-").strip().lower()
    if bare in _NOT_A_NUMBER:
        raise ValidationError(f"Enter the {what} as digits, {EXAMPLE}: “{value}” is not a number.", code="invalid")
    if value.startswith("-"):
        hint = " To take back an entry, reverse it." if what == "amount" else ""
        raise ValidationError(f"The {what} cannot be negative.{hint}", code="negative")
    if "e" in bare and bare.replace("e", "").replace(".", "").replace("+", "").replace("-", "").isdigit():
        raise ValidationError(f"Enter the {what} as digits, {EXAMPLE}: exponents such as 1e6 are not accepted.")
    match = _NUMBER.fullmatch(value.translate(_SPACES))
    if not value or match is None or (match["whole"] is None and not match["fraction"]):
        raise ValidationError(
            f"Enter the {what} as digits with a decimal point, {EXAMPLE} "
            "(a comma only groups thousands, it is never the decimal point).",
            code="invalid",
        )
    whole = (match["whole"] or "0").replace(",", "").lstrip("0") or "0"
    return whole, (match["fraction"] or "").rstrip("0")


def parse_amount(text) -> Decimal:
    """A positive amount from what was typed, exactly; its decimals are checked against a currency
    by `check_decimals`. ValidationError with a reason for anything else."""
    whole, fraction = _number(text, what="amount")
    if len(whole) > MAX_AMOUNT_DIGITS:
        raise ValidationError(
            f"Amounts go up to {MAX_AMOUNT:,} ({MAX_AMOUNT_DIGITS} digits before the decimal point); "
            f"this one has {len(whole)} digits.",
            code="max_digits",
        )
    if len(fraction) > MAX_MINOR_UNITS:
        raise ValidationError(
            f"No currency has more than {MAX_MINOR_UNITS} decimals; this amount has {len(fraction)}.",
            code="max_decimal_places",
        )
    amount = Decimal(f"{whole}.{fraction}" if fraction else whole)
    if amount == 0:
        raise ValidationError("An amount must be more than zero.", code="zero")
    return amount


def check_decimals(amount: Decimal, currency: str) -> None:
    """Refuse more decimals than ISO 4217 gives `currency` (JPY none, USD 2, KWD 3)."""
    places = minor_units(currency)
    if places is None:
        raise ValidationError(f"{currency} has no minor unit in ISO 4217.", code="currency")
    decimals = _decimals(amount)
    if decimals > places:
        if places == 0:
            message = f"{currency} has no decimals (ISO 4217): enter a whole amount."
        else:
            plural = "s" if places > 1 else ""
            message = f"{currency} has {places} decimal{plural} (ISO 4217); this amount has {decimals}."
        raise ValidationError(message, code="decimal_places")


def _decimals(amount: Decimal) -> int:
    """Decimals that carry a value (12.50 has 1)."""
    sign, digits, exponent = amount.as_tuple()
    if exponent >= 0:
        return 0
    fraction = "".join(map(str, digits))[exponent:].rjust(-exponent, "0").rstrip("0")
    return len(fraction)


def clean_currency(text) -> str:
    """An ISO 4217 alphabetic code from what was typed ("usd" is USD), or ValidationError."""
    code = str(text).strip().upper()
    if not _CODE.fullmatch(code):
        raise ValidationError("Enter a three-letter ISO 4217 currency code, such as USD or EUR.", code="invalid")
    if code not in ISO_4217_CODES:
        raise ValidationError(f"{code} is not an ISO 4217 currency code.", code="unknown")
    if code in NO_MINOR_UNIT:
        raise ValidationError(
            f"{code} is an ISO 4217 unit without a minor unit (a precious metal, the SDR, a bond-market, "
            "test or “no currency” code): enter the amount in a currency.",
            code="no_minor_unit",
        )
    return code


def parse_quantity(text) -> int | None:
    """How many orders, trades, positions… were affected: a whole number from 0 up, or None if left empty."""
    if text is None or not str(text).strip():
        return None
    whole, fraction = _number(text, what="quantity")
    if fraction:
        raise ValidationError("The quantity is a whole number (how many orders, trades, positions…).", code="whole")
    if len(whole) > len(str(MAX_QUANTITY)) or int(whole) > MAX_QUANTITY:
        raise ValidationError(f"The quantity goes up to {MAX_QUANTITY:,}.", code="max_value")
    return int(whole)


def amount_text(value: Decimal | None, currency: str) -> str:
    """`value` with `currency`'s decimals and thousands separators: 12,500.00, 1,200 (JPY), −0.500 (KWD).
    Exact: the value is quantized as a Decimal (with room for any total), never rounded through a float."""
    if value is None:
        value = Decimal(0)
    try:
        places = minor_units(currency)
    except KeyError:
        places = None
    if places is None:
        places = MAX_MINOR_UNITS
    with localcontext() as context:
        context.prec = 80  # wider than any sum of numeric(20, 4) amounts the database can return
        quantized = value.quantize(Decimal(1).scaleb(-places))
    text = f"{quantized.copy_abs():,f}"  # copy_abs, not abs(): no rounding to the default 28 digits
    return f"−{text}" if quantized < 0 else text


def money_text(value: Decimal | None, currency: str) -> str:
    """USD 12,500.00"""
    return f"{currency} {amount_text(value, currency)}"
