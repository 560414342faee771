"""The post-mortem and action-item lists' filters, as FilterSets that the pages, a
CSV export and an API can share. "Me" and "mine" are the request's user, so pass
`request=`. A value that does not validate is reported and left out."""

import django_filters
from django import forms
from django.utils import timezone

from portal.widgets import Select

from .forms import UserChoiceMixin, staff_users
from .models import ActionItem, Milestone, PostMortem
from .selectors import ACTION_ITEM_ORDER, POSTMORTEM_ORDER


def _request_user(filterset):
    user = getattr(filterset.request, "user", None)
    return user if user is not None and user.is_authenticated else None


class OwnerChoiceField(UserChoiceMixin, django_filters.fields.ModelChoiceField):
    """A user shown by name, or the filter's null choice ("me")."""


class OwnerFilter(django_filters.ModelChoiceFilter):
    field_class = OwnerChoiceField


class PostMortemFilterSet(django_filters.FilterSet):
    """?overdue=1, ?milestone=<kind still open>, ?owner=<user id>|me."""

    overdue = django_filters.BooleanFilter(
        label="Overdue only", widget=forms.CheckboxInput(attrs={"value": "1"}), method="filter_overdue"
    )
    milestone = django_filters.ChoiceFilter(
        label="Open milestone",
        choices=Milestone.Kind.choices,
        empty_label="Any",
        method="filter_milestone",
        widget=Select,
    )
    # The users the edit form offers as owner: asking which users own a post-mortem
    # would be a DISTINCT over every post-mortem on every page view.
    owner = OwnerFilter(
        label="Owner",
        queryset=staff_users(),
        empty_label="Anyone",
        null_label="Me",
        null_value="me",
        method="filter_owner",
    )

    class Meta:
        model = PostMortem
        fields = []

    @property
    def ordering(self) -> list[str]:
        """The list's one order, which its cursor pages through."""
        return POSTMORTEM_ORDER

    def filter_overdue(self, queryset, name, value):
        return queryset.overdue(timezone.now()) if value else queryset

    def filter_milestone(self, queryset, name, value):
        return queryset.with_open_milestone(value)

    def filter_owner(self, queryset, name, value):
        owner = _request_user(self) if value == "me" else value
        return queryset.filter(owner=owner) if owner is not None else queryset.none()


class ActionItemFilterSet(django_filters.FilterSet):
    """?view=all (the default), mine (mine and still open), overdue, to_verify (awaiting verification)
    or mine_to_verify (awaiting verification on post-mortems I own, neither mine nor marked done by me)."""

    VIEWS = [
        ("all", "All"),
        ("mine", "Mine"),
        ("overdue", "Overdue"),
        ("to_verify", "Awaiting verification"),
        ("mine_to_verify", "Mine to verify"),
    ]

    view = django_filters.ChoiceFilter(
        label="Show", choices=VIEWS, empty_label=None, method="filter_view", widget=Select
    )

    class Meta:
        model = ActionItem
        fields = []

    @property
    def ordering(self) -> list[str]:
        """The list's one order, which its cursor pages through."""
        return ACTION_ITEM_ORDER

    @property
    def current_view(self) -> str:
        """The view shown: the one asked for if it is valid, else all."""
        if not self.is_bound:
            return "all"
        self.form.is_valid()
        return self.form.cleaned_data.get("view") or "all"

    def filter_view(self, queryset, name, value):
        if value == "mine":
            user = _request_user(self)
            return queryset.owned_by(user).open() if user is not None else queryset.none()
        if value == "overdue":
            return queryset.overdue(timezone.now())
        if value == "to_verify":
            return queryset.awaiting_verification()
        if value == "mine_to_verify":
            user = _request_user(self)
            return queryset.to_verify_by(user) if user is not None else queryset.none()
        return queryset
