from django import forms

# Longer searches are refused: nobody types one, and each word costs an index lookup.
MAX_QUERY_LENGTH = 200


class SearchForm(forms.Form):
    """The search box. Django's CharField refuses NUL characters, which PostgreSQL cannot take."""

    q = forms.CharField(
        label="Search",
        required=False,
        max_length=MAX_QUERY_LENGTH,
        widget=forms.TextInput(attrs={"type": "search", "autofocus": True}),
    )
