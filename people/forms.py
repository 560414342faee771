from django import forms

from portal.widgets import Select

from .models import Profile, time_zone_choices


class ProfileForm(forms.Form):
    time_zone = forms.ChoiceField(
        choices=time_zone_choices,
        label="Time zone",
        help_text=Profile._meta.get_field("time_zone").help_text,
        widget=Select,
    )
