from django import forms

from portal.widgets import Select

from .models import MAX_LIFETIME, PersonalToken

# How long a new token lives, in days: a choice rather than a date, so nobody types a year 9999.
LIFETIMES = [7, 30, 90, 180, MAX_LIFETIME.days]


class TokenCreateForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What it is for, so that you can tell your tokens apart.")
    scope = forms.ChoiceField(
        choices=PersonalToken.Scope.choices,
        initial=PersonalToken.Scope.READ,
        widget=forms.RadioSelect,
        help_text="A token never does more than your account may: read and write only adds what your "
        "permissions allow.",
    )
    expires_in = forms.TypedChoiceField(
        coerce=int,
        choices=[(days, f"{days} days") for days in LIFETIMES],
        initial=90,
        label="Expires in",
        widget=Select,
    )
