from django import forms

from notifications.addresses import validate_deliverable_email

from .services import normalise_email


class SubscribeForm(forms.Form):
    email = forms.EmailField(label="Email address", max_length=254)

    def clean_email(self):
        """The address as it is stored and sent to, refused unless SMTP can send to it."""
        address = normalise_email(self.cleaned_data["email"])
        validate_deliverable_email(address)
        return address
