"""The lists' filters are the pages' own FilterSets (same names, values, orders and
rules); only the way a related row is named differs. The pages pick from a menu and
send ids; the API names things as its bodies do: a severity by level (`severity=1`),
an incident type and a service by slug, a person by username."""

import django_filters

from incidents import filters as incident_filters
from incidents.models import IncidentType, Service, Severity
from postmortems import filters as postmortem_filters
from postmortems.forms import staff_users


class IncidentFilterSet(incident_filters.IncidentFilterSet):
    severity = django_filters.ModelChoiceFilter(queryset=Severity.objects.order_by("level"), to_field_name="level")
    type = django_filters.ModelChoiceFilter(
        field_name="incident_type", queryset=IncidentType.objects.all(), to_field_name="slug"
    )
    service = django_filters.ModelChoiceFilter(
        field_name="services", queryset=Service.objects.all(), to_field_name="slug"
    )


class PostMortemFilterSet(postmortem_filters.PostMortemFilterSet):
    owner = postmortem_filters.OwnerFilter(
        queryset=staff_users(), to_field_name="username", null_label="Me", null_value="me", method="filter_owner"
    )


ActionItemFilterSet = postmortem_filters.ActionItemFilterSet
