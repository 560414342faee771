"""Ledger entries for tests, through the services so that they carry history and timeline lines."""

from decimal import Decimal

from ledger import services


def add(incident, actor, amount="100.00", currency="USD", *, kind="orders", quantity=None, note="", request=False):
    return services.impact_entry_add(
        incident=incident,
        actor=actor,
        kind=kind,
        amount=Decimal(amount),
        currency=currency,
        quantity=quantity,
        note=note,
        request_confirmation=request,
    )


def confirmed(incident, actor, confirmer, amount="100.00", currency="USD", **kwargs):
    entry = add(incident, actor, amount, currency, request=True, **kwargs)
    return services.impact_entry_confirm(entry=entry, actor=confirmer)


def busy_ledger(incident, actor, other, n):
    """n entries of every standing: estimates, requested, confirmed, reversals with replacements, two currencies."""
    for i in range(n):
        currency = "USD" if i % 2 else "EUR"
        if i % 4 == 0:
            add(incident, actor, f"{i + 1}.25", currency, quantity=i)
        elif i % 4 == 1:
            add(incident, actor, f"{i + 1}.50", currency, request=True, note=f"Entry {i}")
        elif i % 4 == 2:
            confirmed(incident, actor, other, f"{i + 1}.75", currency, kind="fees")
        else:
            entry = confirmed(incident, other, actor, f"{i + 1}.00", currency, kind="refunds")
            services.impact_entry_reverse(
                entry=entry, actor=actor, reason="Double counted", corrected_amount=Decimal(f"{i}.00")
            )
