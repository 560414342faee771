"""Every write to the ledger goes through here: one function per action, keyword-only arguments, an
actor, one transaction, history attributed (`audit.actors.acting_as`), and a line on the incident's
timeline saying who did what. A refusal raises ValidationError with the reason and changes nothing.

The rules:
- An entry is entered as an estimate or with its confirmation requested; an estimate's
  confirmation can be requested later. Its figures are never edited.
- Confirming needs the `ledger.confirm_impactentry` permission and a second person: whoever
  entered an entry cannot confirm it (the database holds this rule too).
- A wrong entry is reversed: a new entry of the opposite amount points at it, optionally with a
  replacement carrying the right figure. Reversing a confirmed entry lowers the confirmed total
  only once a second person confirms the reversal; reversing an estimate takes effect at once.
"""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.actors import acting_as
from incidents.models import Incident
from incidents.services import timeline_record
from portal.display import person_name

from .models import ImpactEntry
from .money import MAX_AMOUNT_DIGITS, MAX_QUANTITY, check_decimals, clean_currency

S = ImpactEntry.Status
CONFIRM_PERMISSION = "ledger.confirm_impactentry"
NOTE_MAX_LENGTH = 2000
REASON_MAX_LENGTH = 1000


def _text(value: str, *, what: str, max_length: int, required: bool = False) -> str:
    value = (value or "").strip()
    if "\x00" in value:
        raise ValidationError(f"The {what} cannot contain null characters.")
    if len(value) > max_length:
        raise ValidationError(f"The {what} is at most {max_length:,} characters; this one has {len(value):,}.")
    if required and not value:
        raise ValidationError(f"A {what} is required.")
    return value


def _checked_amount(amount, currency: str) -> Decimal:
    """`amount` as the ledger stores it, or ValidationError: a Decimal (never a float), finite,
    more than zero, within the column, with no more decimals than `currency` has."""
    if not isinstance(amount, Decimal):
        raise TypeError(f"An amount is a Decimal, not {type(amount).__name__}.")
    if not amount.is_finite():
        raise ValidationError("An amount is a finite number.")
    if amount <= 0:
        raise ValidationError("An amount must be more than zero.")
    if amount.adjusted() >= MAX_AMOUNT_DIGITS:
        raise ValidationError(f"Amounts go up to {MAX_AMOUNT_DIGITS} digits before the decimal point.")
    check_decimals(amount, currency)
    return amount


def _checked_quantity(quantity) -> int | None:
    if quantity is None:
        return None
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise TypeError(f"A quantity is a whole number, not {type(quantity).__name__}.")
    if not 0 <= quantity <= MAX_QUANTITY:
        raise ValidationError(f"The quantity is a whole number from 0 to {MAX_QUANTITY:,}.")
    return quantity


def _describe(entry: ImpactEntry) -> str:
    """Orders, USD 12,500.00 (120)"""
    quantity = f" ({entry.quantity:,})" if entry.quantity is not None else ""
    return f"{entry.get_kind_display()}, {entry.money}{quantity}"


def _record(entry: ImpactEntry, *, actor, text: str) -> None:
    timeline_record(incident=entry.incident, actor=actor, text=text, data={"impact_entry": entry.pk})


def impact_entry_add(
    *,
    incident: Incident,
    actor,
    kind: str,
    amount: Decimal,
    currency: str,
    quantity: int | None = None,
    note: str = "",
    request_confirmation: bool = False,
) -> ImpactEntry:
    """Enter a line of the incident's financial impact, as an estimate or with a second person's
    confirmation requested."""
    if kind not in ImpactEntry.Kind.values:
        raise ValidationError("Choose what was affected.")
    currency = clean_currency(currency)
    amount = _checked_amount(amount, currency)
    quantity = _checked_quantity(quantity)
    note = _text(note, what="note", max_length=NOTE_MAX_LENGTH)
    with transaction.atomic(), acting_as(actor, "Impact entry added"):
        entry = _create(
            incident=incident,
            actor=actor,
            kind=kind,
            amount=amount,
            currency=currency,
            quantity=quantity,
            note=note,
            request_confirmation=request_confirmation,
        )
        state = "confirmation requested" if request_confirmation else "estimated"
        text = f"Financial impact entered by {person_name(actor)} ({state}): {_describe(entry)}. Entry #{entry.pk}."
        _record(entry, actor=actor, text=f"{text} {note}".strip())
    return entry


def _create(*, incident, actor, request_confirmation: bool, **fields) -> ImpactEntry:
    now = timezone.now()
    requested = {"status": S.REQUESTED, "requested_by": actor, "requested_at": now} if request_confirmation else {}
    return ImpactEntry.objects.create(incident=incident, entered_by=actor, entered_at=now, **requested, **fields)


def _locked(entry: ImpactEntry) -> ImpactEntry:
    """The entry re-read under its row's lock, by a statement of its own table only: one that
    waited for the lock sees the row as the transaction before it left it."""
    return ImpactEntry.objects.select_for_update().get(pk=entry.pk)


def _reversal_id(entry: ImpactEntry) -> int | None:
    """The reversal of `entry`, read after its lock (so a reversal committed meanwhile is seen)."""
    return ImpactEntry.objects.filter(reverses_id=entry.pk).values_list("pk", flat=True).first()


def impact_entry_request_confirmation(*, entry: ImpactEntry, actor) -> ImpactEntry:
    """Ask a second person to confirm an estimate's figure."""
    with transaction.atomic(), acting_as(actor, "Impact entry: confirmation requested"):
        entry = _locked(entry)
        if reversal_id := _reversal_id(entry):
            raise ValidationError(f"Entry #{entry.pk} was reversed by #{reversal_id}: nothing to confirm.")
        if entry.status != S.ESTIMATED:
            raise ValidationError(f"Entry #{entry.pk} is already {entry.get_status_display().lower()}.")
        if entry.is_reversal:
            raise ValidationError("The reversal of an estimate needs no confirmation: it takes effect at once.")
        entry.status = S.REQUESTED
        entry.requested_by = actor
        entry.requested_at = timezone.now()
        entry.save()
        _record(
            entry,
            actor=actor,
            text=f"{person_name(actor)} asked for a second person to confirm impact entry #{entry.pk}: "
            f"{_describe(entry)}.",
        )
    return entry


def impact_entry_confirm(*, entry: ImpactEntry, actor) -> ImpactEntry:
    """Confirm an entry whose confirmation was requested. Refused to whoever entered it."""
    with transaction.atomic(), acting_as(actor, "Impact entry confirmed"):
        entry = _locked(entry)
        if not actor.has_perm(CONFIRM_PERMISSION):
            raise ValidationError("You may not confirm impact entries.")
        if entry.status == S.CONFIRMED:
            raise ValidationError(
                f"Entry #{entry.pk} was already confirmed by {person_name(entry.confirmed_by)}. Nothing was changed."
            )
        if reversal_id := _reversal_id(entry):
            raise ValidationError(f"Entry #{entry.pk} was reversed by #{reversal_id}: nothing to confirm.")
        if entry.status != S.REQUESTED:
            raise ValidationError(
                f"Entry #{entry.pk} is an estimate: its confirmation must be requested first. Nothing was changed."
            )
        if entry.entered_by_id == actor.pk:
            raise ValidationError(
                f"You entered entry #{entry.pk} yourself: a second person must confirm it. Nothing was changed."
            )
        entry.status = S.CONFIRMED
        entry.confirmed_by = actor
        entry.confirmed_at = timezone.now()
        entry.save()
        what = f"impact entry #{entry.pk}"
        if entry.is_reversal:
            what = f"reversal #{entry.pk} of entry #{entry.reverses_id}"
        _record(
            entry,
            actor=actor,
            text=f"{person_name(actor)} confirmed {what}: {_describe(entry)}, "
            f"entered by {person_name(entry.entered_by)}.",
        )
    return entry


def impact_entry_reverse(
    *, entry: ImpactEntry, actor, reason: str, corrected_amount: Decimal | None = None
) -> tuple[ImpactEntry, ImpactEntry | None]:
    """Take an entry back with a reversal (the opposite amount), and with `corrected_amount` enter the
    right figure as its replacement (same kind, currency and quantity). Returns (reversal, replacement).

    The reversal of a confirmed entry needs a second person's confirmation like any confirmed figure,
    and so does a replacement of an entry whose confirmation was requested or given."""
    reason = _text(reason, what="reason", max_length=REASON_MAX_LENGTH, required=True)
    with transaction.atomic(), acting_as(actor, f"Impact entry reversed: {reason}"):
        entry = _locked(entry)
        if entry.is_reversal:
            raise ValidationError(
                f"Entry #{entry.pk} is a reversal and cannot itself be reversed: add a new entry instead."
            )
        if reversal_id := _reversal_id(entry):
            raise ValidationError(f"Entry #{entry.pk} was already reversed by #{reversal_id}.")
        if corrected_amount is not None:
            corrected_amount = _checked_amount(corrected_amount, entry.currency)
        needs_confirmation = entry.status != S.ESTIMATED
        reversal = _create(
            incident=entry.incident,
            actor=actor,
            kind=entry.kind,
            amount=-entry.amount,
            currency=entry.currency,
            quantity=entry.quantity,
            note=reason,
            reverses=entry,
            request_confirmation=entry.status == S.CONFIRMED,
        )
        text = f"{person_name(actor)} reversed impact entry #{entry.pk} ({_describe(entry)}) with entry #{reversal.pk}"
        if reversal.status == S.REQUESTED:
            text += ", which lowers the confirmed total once a second person confirms it"
        text += f": {reason.rstrip('.')}."
        replacement = None
        if corrected_amount is not None:
            replacement = _create(
                incident=entry.incident,
                actor=actor,
                kind=entry.kind,
                amount=corrected_amount,
                currency=entry.currency,
                quantity=entry.quantity,
                note=f"Corrects #{entry.pk}: {reason}",
                replaces=entry,
                request_confirmation=needs_confirmation,
            )
            state = "confirmation requested" if needs_confirmation else "estimated"
            text += f" Corrected figure entered as #{replacement.pk} ({state}): {replacement.money}."
        _record(reversal, actor=actor, text=text)
    return reversal, replacement
