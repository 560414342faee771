from django import forms


class SubscribeForm(forms.Form):
    email = forms.EmailField(label="Email address", max_length=254)
