"""Fixtures for the post-mortem tests: a resolved Sev1 incident with its roles held."""

import pytest

from postmortems.tests.factories import make_user, resolve


@pytest.fixture
def commander(runbook):
    return make_user("cora", "Responders", first_name="Cora", last_name="Commander")


@pytest.fixture
def resolved_incident(incident, responder, other_responder, commander):
    """The Sev1 incident, with Cora as Incident Commander and Tom as Technical Lead, resolved by Rita."""
    from incidents.models import Role
    from incidents.services import role_assign

    role_assign(incident=incident, role=Role.objects.get(slug="incident-commander"), user=commander, actor=responder)
    role_assign(incident=incident, role=Role.objects.get(slug="technical-lead"), user=other_responder, actor=responder)
    return resolve(incident, responder)


@pytest.fixture
def postmortem(resolved_incident):
    return resolved_incident.postmortems.get()
