"""ISO 4217 currencies, shipped with the portal (nothing is downloaded): the alphabetic codes an
amount may be entered in, and how many decimals (minor units) each has.

The list is ISO 4217 List One as of 2025: HRK (replaced by EUR in 2023) and ZWL (replaced by ZWG in
2024) are gone, XCG (Caribbean guilder, 2025) and ZWG are in, ANG and SLL are kept while their
replacements take over. Update it here when ISO publishes an amendment that matters to the firm.
"""

# Every active ISO 4217 alphabetic code, currencies, fund codes and the X-codes alike.
ISO_4217_CODES = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP
    BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB
    EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY
    KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR
    MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB
    RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD
    TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XAG XAU XBA XBB XBC XBD XCD XCG
    XDR XOF XPD XPF XPT XSU XTS XUA XXX YER ZAR ZMW ZWG
    """.split()  # noqa: SIM905 (a block of codes reads and compares against ISO's table; a list literal does not)
)

# Minor units where ISO 4217 gives other than 2; every other code in ISO_4217_CODES has 2.
_MINOR_UNITS_NOT_TWO = {
    **dict.fromkeys(
        ["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV"]
        + ["XAF", "XOF", "XPF"],
        0,
    ),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
    **dict.fromkeys(["CLF", "UYW"], 4),
}

# Codes ISO 4217 gives no minor unit ("N.A."): precious metals, the IMF's SDR, bond-market units,
# the testing code and "no currency". They are not money an incident loses, so no amount is entered in them.
NO_MINOR_UNIT = frozenset(["XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU", "XTS", "XUA", "XXX"])

# Offered first by the entry form (any code of ISO_4217_CODES may be typed).
COMMON_CURRENCIES = [
    "USD",
    "EUR",
    "GBP",
    "CHF",
    "JPY",
    "CAD",
    "AUD",
    "CNY",
    "HKD",
    "SGD",
    "KRW",
    "INR",
    "AED",
    "BRL",
    "MXN",
    "SEK",
    "NOK",
    "DKK",
    "PLN",
    "ZAR",
    "KWD",
    "BHD",
]

# The most decimals any currency an amount is entered in has (CLF, UYW): the amount column's scale.
MAX_MINOR_UNITS = 4


def minor_units(code: str) -> int | None:
    """How many decimals `code` has by ISO 4217; None for a code with no minor unit.
    KeyError for a string that is not an ISO 4217 code."""
    if code not in ISO_4217_CODES:
        raise KeyError(code)
    if code in NO_MINOR_UNIT:
        return None
    return _MINOR_UNITS_NOT_TWO.get(code, 2)
