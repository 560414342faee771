"""The approvals' forms: a comment each. The services still enforce the rules,
and their refusals are shown on the form."""

from django import forms

from .services import COMMENT_MAX


def _comment(label: str, *, required: bool = True, help_text: str = "") -> forms.CharField:
    return forms.CharField(
        label=label,
        required=required,
        max_length=COMMENT_MAX,
        help_text=help_text,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class RequestForm(forms.Form):
    """Ask for a second person's approval."""

    comment = _comment("Why should it be approved?", help_text="The second person reads this before deciding.")


class DecisionForm(forms.Form):
    """Approve or reject, with a comment; the button pressed (name "decision") says which."""

    APPROVE, REJECT = "approve", "reject"

    comment = _comment("Your comment", help_text="What you checked, or why you reject it.")
    decision = forms.ChoiceField(
        choices=[(APPROVE, "Approve"), (REJECT, "Reject")],
        error_messages={"required": "Press Approve or Reject.", "invalid_choice": "Press Approve or Reject."},
    )


class WithdrawForm(forms.Form):
    comment = _comment("Why withdraw it?", required=False)
