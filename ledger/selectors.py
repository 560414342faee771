"""The ledger's read queries. Totals are summed by the database, per currency, over the `numeric`
column (exact; never across currencies): one query for an incident, one for any list of incidents.
Every query here is bounded and runs a fixed number of times whatever the number of entries."""

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, Sum

from portal.pagination import KeysetPage, keyset_page

from .models import ImpactEntry
from .money import amount_text, money_text

CONFIRMED = Q(status=ImpactEntry.Status.CONFIRMED)
ZERO = Decimal(0)

# What an entry's row shows: the people, and the entries it reverses, replaces or is reversed or replaced by.
ENTRY_RELATIONS = [
    "entered_by",
    "requested_by",
    "confirmed_by",
    "reverses",
    "reversal",
    "replaces",
    "replacement",
]
ENTRY_ORDER = ["-entered_at", "-id"]
PANEL_ROWS = 10  # the incident page's panel: the latest entries, the rest on the ledger page
PAGE_ROWS = 50
AWAITING_ROWS = 20
AWAITING_COUNT_CAP = 100


@dataclass(frozen=True)
class CurrencyTotal:
    """An incident's total in one currency: confirmed, not yet confirmed (estimates and entries whose
    confirmation was requested, reversals pending included) and both together, as the database summed them."""

    currency: str
    confirmed: Decimal
    unconfirmed: Decimal
    total: Decimal
    entries: int

    @property
    def confirmed_text(self) -> str:
        return money_text(self.confirmed, self.currency)

    @property
    def unconfirmed_text(self) -> str:
        return money_text(self.unconfirmed, self.currency)

    @property
    def total_text(self) -> str:
        return money_text(self.total, self.currency)

    @property
    def is_settled(self) -> bool:
        """Nothing awaits confirmation: the confirmed figure is the whole."""
        return self.unconfirmed == 0

    @property
    def compact(self) -> str:
        """≈ USD 15,500.00 est. (12,500.00 confirmed) · EUR 800.00 confirmed"""
        if self.is_settled:
            return f"{self.confirmed_text} confirmed"
        text = f"≈ {self.total_text} est."
        if self.confirmed != 0:
            text += f" ({amount_text(self.confirmed, self.currency)} confirmed)"
        return text


@dataclass(frozen=True)
class Totals:
    """An incident's totals, one per currency in code order."""

    currencies: list[CurrencyTotal]

    @property
    def entries(self) -> int:
        return sum(t.entries for t in self.currencies)

    @property
    def compact(self) -> str:
        return " · ".join(t.compact for t in self.currencies)

    def __bool__(self):
        return bool(self.currencies)

    def __iter__(self):
        return iter(self.currencies)


def _totals_rows(entries, *group):
    return (
        entries.values(*group, "currency")
        .annotate(
            confirmed=Sum("amount", filter=CONFIRMED, default=ZERO),
            unconfirmed=Sum("amount", filter=~CONFIRMED, default=ZERO),
            total=Sum("amount"),
            entries=Count("id"),
        )
        .order_by(*group, "currency")
    )


def _total(row) -> CurrencyTotal:
    return CurrencyTotal(row["currency"], row["confirmed"], row["unconfirmed"], row["total"], row["entries"])


def incident_totals(incident) -> Totals:
    """The incident's totals per currency, in one query."""
    return Totals([_total(row) for row in _totals_rows(ImpactEntry.objects.filter(incident=incident))])


def totals_for_incidents(incident_ids) -> dict[int, Totals]:
    """{incident id: its totals} for every incident of `incident_ids` that has entries, in one query."""
    ids = list(incident_ids)
    if not ids:
        return {}
    grouped: dict[int, list[CurrencyTotal]] = {}
    for row in _totals_rows(ImpactEntry.objects.filter(incident_id__in=ids), "incident_id"):
        grouped.setdefault(row["incident_id"], []).append(_total(row))
    return {incident_id: Totals(currencies) for incident_id, currencies in grouped.items()}


def totals_over(incidents) -> Totals:
    """The totals per currency of every entry of `incidents` (a queryset), in one query."""
    return Totals([_total(row) for row in _totals_rows(ImpactEntry.objects.filter(incident__in=incidents))])


def _entries():
    return ImpactEntry.objects.select_related(*ENTRY_RELATIONS)


def latest_entries(incident, limit: int = PANEL_ROWS) -> list[ImpactEntry]:
    """The incident's newest entries (its panel), one query."""
    return list(_entries().filter(incident=incident).order_by(*ENTRY_ORDER)[:limit])


def entries_page(incident, params, per_page: int = PAGE_ROWS) -> KeysetPage:
    """A page of the incident's ledger, newest first, from the cursor in `params`."""
    return keyset_page(_entries().filter(incident=incident), ENTRY_ORDER, params, per_page=per_page)


def awaiting_confirmation(user, cap: int = AWAITING_ROWS) -> tuple[list[ImpactEntry], int]:
    """The entries awaiting a confirmation that `user` may give (someone else entered them), oldest
    request first, at most `cap`; and how many there are, counted up to AWAITING_COUNT_CAP + 1.

    One query, however many there are: it reads at most AWAITING_COUNT_CAP + 1 rows (the partial
    index `impactentry_requested` gives them in order) and shows the first `cap`."""
    found = list(
        ImpactEntry.objects.awaiting_confirmation()
        .exclude(entered_by=user)
        .select_related("incident", "entered_by", "requested_by")
        .only(*AWAITING_COLUMNS)
        .order_by("requested_at", "id")[: max(cap, AWAITING_COUNT_CAP + 1)]
    )
    return found[:cap], len(found)


# What the awaiting list shows of an entry, its incident and its people.
AWAITING_COLUMNS = [
    "kind",
    "amount",
    "currency",
    "status",
    "reverses",
    "entered_by",
    "requested_by",
    "requested_at",
    "incident__reference",
    *(f"{who}__{name}" for who in ("entered_by", "requested_by") for name in ("first_name", "last_name", "username")),
]


def awaiting_page(user, params, per_page: int = PAGE_ROWS) -> KeysetPage:
    """The whole list of entries awaiting `user`'s confirmation, a page at a time."""
    pending = (
        ImpactEntry.objects.awaiting_confirmation()
        .exclude(entered_by=user)
        .select_related("incident", "entered_by", "requested_by")
    )
    return keyset_page(pending, ["requested_at", "id"], params, per_page=per_page)
