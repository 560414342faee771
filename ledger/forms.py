"""The ledger's forms. Amounts, quantities and currencies arrive as text and are read by
`ledger.money` (exactly, as Decimal, with a reason for every refusal); the services check again."""

from django import forms

from .currencies import COMMON_CURRENCIES
from .models import ImpactEntry
from .money import check_decimals, clean_currency, parse_amount, parse_quantity
from .services import NOTE_MAX_LENGTH, REASON_MAX_LENGTH

# Generous bounds on what is read at all; the real limits are checked with their own messages.
TEXT_INPUT_MAX = 100


class _MoneyInput(forms.TextInput):
    """Digits typed by hand: a numeric keyboard on phones, no browser spinner and no float rounding."""

    def __init__(self, attrs=None):
        super().__init__({"inputmode": "decimal", "autocomplete": "off", **(attrs or {})})


class ImpactEntryForm(forms.Form):
    kind = forms.ChoiceField(label="Affected", choices=ImpactEntry.Kind.choices)
    quantity = forms.CharField(
        label="How many",
        required=False,
        max_length=TEXT_INPUT_MAX,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        help_text="Orders, trades, positions… affected; a whole number.",
    )
    amount = forms.CharField(
        max_length=TEXT_INPUT_MAX,
        widget=_MoneyInput(),
        help_text="For example 12500.00 or 12,500.00.",
    )
    currency = forms.CharField(
        max_length=TEXT_INPUT_MAX,
        initial="USD",
        widget=forms.TextInput(attrs={"list": "impact-currencies", "autocomplete": "off", "size": 4}),
        help_text="ISO 4217 code, such as USD, EUR, JPY.",
    )
    confirmation = forms.ChoiceField(
        label="This figure is",
        choices=[
            ("estimated", "An estimate"),
            ("requested", "Final: ask a second person to confirm it"),
        ],
        initial="estimated",
        widget=forms.RadioSelect,
    )
    note = forms.CharField(
        required=False,
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="How the figure was arrived at, its source.",
    )

    common_currencies = COMMON_CURRENCIES

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "id_impact_%s")  # the incident page has a "note" of its own
        super().__init__(*args, **kwargs)

    def clean_quantity(self):
        return parse_quantity(self.cleaned_data["quantity"])

    def clean_amount(self):
        return parse_amount(self.cleaned_data["amount"])

    def clean_currency(self):
        return clean_currency(self.cleaned_data["currency"])

    def clean(self):
        data = super().clean()
        if "amount" in data and "currency" in data:
            try:
                check_decimals(data["amount"], data["currency"])
            except forms.ValidationError as exc:
                self.add_error("amount", exc)
        return data


class ReverseForm(forms.Form):
    """Take an entry back; with a corrected amount, enter the right figure in its place."""

    reason = forms.CharField(
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Why the figure is wrong. It goes on the ledger and the incident's timeline.",
    )
    corrected_amount = forms.CharField(
        label="Corrected amount",
        required=False,
        max_length=TEXT_INPUT_MAX,
        widget=_MoneyInput(),
        help_text="The right figure, if known: entered as a new entry in the same currency.",
    )

    def __init__(self, *args, entry: ImpactEntry, **kwargs):
        kwargs.setdefault("auto_id", f"id_reverse_{entry.pk}_%s")
        super().__init__(*args, **kwargs)
        self.entry = entry

    def clean_corrected_amount(self):
        text = self.cleaned_data["corrected_amount"]
        if not text.strip():
            return None
        amount = parse_amount(text)
        check_decimals(amount, self.entry.currency)
        return amount


def attach_reverse_forms(entries, bound: ReverseForm | None = None) -> None:
    """Give each entry that can still be reversed its reversal form (`entry.reverse_form`): `bound`,
    with what was typed and what is wrong, for its own entry, an empty one for the others."""
    for entry in entries:
        if entry.is_reversal or entry.reversed_by is not None:
            entry.reverse_form = None
        elif bound is not None and bound.entry.pk == entry.pk:
            entry.reverse_form = bound
        else:
            entry.reverse_form = ReverseForm(entry=entry)
