"""The incident page's communication aids: update drafts from the templates, the conference bridge,
links to the alerts' sources and the services' dashboards; bad input refused with a message, changing
nothing; the page's query count constant."""

from datetime import UTC

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from incidents import drafts, services
from incidents.models import Incident, Service, StatusUpdate, TimelineEntry, UpdateTemplate
from incidents.seeding import seed_runbook
from notifications.models import OutboxMessage

from .factories import declare

A = StatusUpdate.Audience
BRIDGE = "https://meet.example.com/incident-bridge"


@pytest.fixture
def rclient(client, responder):
    client.force_login(responder)
    return client


def page_text(response) -> str:
    return response.content.decode()


# --- update templates ----------------------------------------------------------------------------


def test_the_seed_loads_templates_and_a_reseed_keeps_staff_edits(runbook):
    edited = UpdateTemplate.objects.get(audience=A.INTERNAL, phase="")
    edited.body = "Our own wording for {reference}"
    edited.save()

    seed_runbook()

    assert UpdateTemplate.objects.get(pk=edited.pk).body == "Our own wording for {reference}"
    assert set(UpdateTemplate.objects.filter(phase="").values_list("audience", flat=True)) == set(A.values)


def test_the_phase_template_comes_before_the_any_phase_one(responder):
    incident = declare(responder, title="Fees spike")  # detected

    assert drafts.template_for(incident, A.INTERNAL).phase == "detected"
    assert drafts.template_for(incident, A.STAKEHOLDERS).phase == ""
    UpdateTemplate.objects.filter(audience=A.REGULATORS).delete()
    assert drafts.update_draft(incident, A.REGULATORS) is None


def test_placeholders_are_filled_and_unknown_ones_left_alone(responder, settings):
    settings.CONFERENCE_BRIDGE_URL = BRIDGE
    incident = declare(responder, title="Fees spike")
    incident.user_impact = "All traders"

    text = drafts.fill(
        "{reference} {title} {severity} {phase} {services} {user_impact} {bridge_url} {next_update} {nope} {",
        drafts.placeholders(incident),
    )

    due = incident.next_update_due_at.astimezone(UTC)
    assert text == (
        f"{incident.reference} Fees spike Sev1 (Critical) Detected Trade executor All traders {BRIDGE} "
        f"{due:%H:%M} UTC {{nope}} {{"
    )


def test_pressing_a_template_button_fills_an_empty_box_and_posts_nothing(rclient, responder):
    incident = declare(responder, title="Fees spike")
    url = reverse("incidents:update_post", args=[incident.reference])

    response = rclient.post(url, {"draft": A.STAKEHOLDERS, "audience": A.INTERNAL, "body": ""})

    assert response.status_code == 200
    form = response.context["update_form"]
    assert form.initial["audience"] == A.STAKEHOLDERS
    assert form.initial["body"].startswith(f"Incident {incident.reference} (Sev1 (Critical)): Fees spike")
    assert "Started from the Stakeholders template" in page_text(response)
    assert not StatusUpdate.objects.exists()


def test_typed_text_is_never_replaced_by_a_template(rclient, responder):
    incident = declare(responder)
    url = reverse("incidents:update_post", args=[incident.reference])

    response = rclient.post(url, {"draft": A.CUSTOMERS, "audience": A.INTERNAL, "body": "My own words"})

    assert response.status_code == 200
    assert response.context["update_form"].initial == {"audience": A.CUSTOMERS, "body": "My own words"}
    assert "Your text is kept" in page_text(response)
    assert not StatusUpdate.objects.exists()


def test_the_draft_link_prefills_the_form(rclient, responder):
    incident = declare(responder)

    response = rclient.get(incident.get_absolute_url() + "?draft=regulators")

    assert response.status_code == 200
    assert response.context["update_form"].initial["body"].startswith(f"Incident {incident.reference}, severity Sev1")


@pytest.mark.parametrize("audience", ["press", "", "internal\x00", "<script>"])
def test_an_unknown_audience_is_refused_with_a_message(rclient, responder, audience):
    incident = declare(responder)
    url = reverse("incidents:update_post", args=[incident.reference])

    response = rclient.post(url, {"draft": audience, "body": "kept"})

    assert response.status_code == 400
    assert "Unknown audience" in page_text(response)
    assert "<script>”" not in page_text(response)
    assert not StatusUpdate.objects.exists()


def test_a_missing_template_says_so(rclient, responder):
    incident = declare(responder)
    UpdateTemplate.objects.filter(audience=A.CUSTOMERS).delete()

    response = rclient.get(incident.get_absolute_url() + "?draft=customers")

    assert response.status_code == 200
    assert "No Customers (status page) template for this phase yet" in page_text(response)


# --- conference bridge and links -----------------------------------------------------------------


def test_the_bridge_comes_from_settings_and_is_in_the_declaration_notices(responder, settings, distribution_lists):
    settings.CONFERENCE_BRIDGE_URL = BRIDGE
    settings.SLACK_WEBHOOK_URL = "https://hooks.slack.example/services/T/B/X"

    incident = declare(responder)

    assert incident.bridge_url == BRIDGE
    email = OutboxMessage.objects.get(key=f"incident-declared:{incident.pk}:email")
    slack = OutboxMessage.objects.get(key=f"incident-declared:{incident.pk}:slack")
    assert f"Conference bridge: {BRIDGE}" in email.body_text
    assert f'href="{BRIDGE}"' in email.body_html
    assert BRIDGE in slack.body_text


def test_the_bridge_is_edited_on_the_page_with_history_and_timeline(rclient, responder):
    incident = declare(responder)

    response = rclient.post(reverse("incidents:bridge", args=[incident.reference]), {"bridge_url": BRIDGE})

    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.bridge_url == BRIDGE
    record = incident.history.first()
    assert record.history_user == responder and record.history_change_reason == "Incident details edited"
    assert incident.timeline.filter(text=f"Conference bridge set to {BRIDGE}.", author=responder).exists()
    page = page_text(rclient.get(incident.get_absolute_url()))
    assert f'<a href="{BRIDGE}"' in page


@pytest.mark.parametrize(
    "value", ["javascript:alert(1)", "ftp://files.example.com/x", "meet.example.com", "https://", "x" * 600]
)
def test_a_bad_bridge_is_refused_and_changes_nothing(rclient, responder, value):
    incident = declare(responder)
    history = incident.history.count()

    response = rclient.post(reverse("incidents:bridge", args=[incident.reference]), {"bridge_url": value})

    assert response.status_code == 400
    assert response.context["bridge_form"].errors["bridge_url"]
    incident.refresh_from_db()
    assert incident.bridge_url == "" and incident.history.count() == history


def test_the_service_refuses_a_non_web_bridge(responder):
    from django.core.exceptions import ValidationError

    incident = declare(responder)
    with pytest.raises(ValidationError):
        services.incident_update_details(incident=incident, actor=responder, bridge_url="javascript:alert(1)")
    incident.refresh_from_db()
    assert incident.bridge_url == ""


def test_viewers_cannot_change_the_bridge(client, viewer, responder):
    incident = declare(responder)
    client.force_login(viewer)

    response = client.post(reverse("incidents:bridge", args=[incident.reference]), {"bridge_url": BRIDGE})

    assert response.status_code == 403
    incident.refresh_from_db()
    assert incident.bridge_url == ""


def add_alerts(incident, count, start=0):
    for i in range(start, start + count):
        incident.alerts.create(  # the reverse relation: incidents imports no app built on it
            group_key="g",
            fingerprint=f"fp{i}",
            starts_at=timezone.now(),
            status="firing",
            labels={"alertname": f"ExecutorErrors{i}"},
            generator_url="javascript:alert(1)" if i == 1 else f"https://prometheus.example.com/graph?g0.expr=up{i}",
            payload={},
        )


def test_alert_sources_and_dashboards_are_linked_only_when_they_are_web_links(rclient, responder):
    Service.objects.filter(slug="executor").update(dashboard_url="https://grafana.example.com/d/executor")
    incident = declare(responder)
    add_alerts(incident, 3)

    page = page_text(rclient.get(incident.get_absolute_url()))

    assert 'href="https://grafana.example.com/d/executor"' in page
    assert 'href="https://prometheus.example.com/graph?g0.expr=up0"' in page
    assert 'href="https://prometheus.example.com/graph?g0.expr=up2"' in page
    assert "javascript:" not in page


def count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("suffix", ["", "?draft=internal"])
def test_the_page_queries_do_not_grow_with_alerts_and_services(rclient, responder, suffix):
    many = Service.objects.bulk_create(
        [Service(slug=f"svc-{i}", name=f"Service {i}", dashboard_url=f"https://g.example.com/{i}") for i in range(50)]
    )
    small = declare(responder, services=many[:5])
    big = declare(responder, services=many)
    add_alerts(small, 5)
    add_alerts(big, 50, start=100)

    assert count_queries(rclient, small.get_absolute_url() + suffix) == count_queries(
        rclient, big.get_absolute_url() + suffix
    )


# --- fuzz ------------------------------------------------------------------------------------------

EDGES = ["", " ", "https://meet.example.com/a", "http://[", "https://exa mple.com", "javascript:x", "\x00", "Ω" * 300]
bridge_values = st.one_of(
    st.sampled_from(EDGES),
    st.text(max_size=80),
    st.builds(lambda s: f"https://{s}", st.text(max_size=40)),
    st.lists(st.sampled_from(EDGES), max_size=3),
)


@pytest.mark.fuzz
def test_the_bridge_form_with_any_input(rclient, responder):
    incident = declare(responder)
    url = reverse("incidents:bridge", args=[incident.reference])

    @hsettings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
    @given(value=st.one_of(bridge_values, st.none()))
    def check(value):
        with transaction.atomic():
            response = rclient.post(url, {} if value is None else {"bridge_url": value})
            assert response.status_code in {302, 400}, (value, response.status_code)
            saved = Incident.objects.values_list("bridge_url", flat=True).get(pk=incident.pk)
            edits = TimelineEntry.objects.filter(incident=incident, text__startswith="Conference bridge").count()
            if response.status_code == 400:
                assert (saved, edits) == ("", 0)
                assert response.context["bridge_form"].errors
            else:
                assert saved.startswith(("https://", "http://")) or saved == ""
                assert edits == 1
            transaction.set_rollback(True)

    check()


# --- admin -----------------------------------------------------------------------------------------


def test_staff_edit_update_templates_in_the_admin_with_history(portal_admin_client, portal_admin):
    url = reverse("admin:incidents_updatetemplate_add")
    assert portal_admin_client.get(reverse("admin:incidents_updatetemplate_changelist")).status_code == 200
    UpdateTemplate.objects.filter(audience=A.CUSTOMERS, phase="investigating").delete()

    response = portal_admin_client.post(
        url, {"audience": A.CUSTOMERS, "phase": "investigating", "body": "Still looking into {services}."}
    )

    assert response.status_code == 302
    template = UpdateTemplate.objects.get(audience=A.CUSTOMERS, phase="investigating")
    assert template.history.get().history_user == portal_admin
    again = portal_admin_client.post(url, {"audience": A.CUSTOMERS, "phase": "investigating", "body": "Twice"})
    assert again.status_code == 200 and "already has a template for this phase" in page_text(again)


def test_the_incident_admin_refuses_a_non_web_bridge(portal_admin_client, responder):
    from incidents.tests.test_admin import change_form_data, change_url

    incident = declare(responder)
    data = change_form_data(portal_admin_client, change_url(incident))
    data["bridge_url"] = "ftp://files.example.com/bridge"

    response = portal_admin_client.post(change_url(incident), data)

    assert response.status_code == 200 and "Enter an http:// or https:// link." in page_text(response)
    incident.refresh_from_db()
    assert incident.bridge_url == ""
    data["bridge_url"] = BRIDGE
    assert portal_admin_client.post(change_url(incident), data).status_code == 302
    incident.refresh_from_db()
    assert incident.bridge_url == BRIDGE


def test_the_service_admin_edits_the_dashboard_link(portal_admin_client):
    from incidents.tests.test_admin import change_form_data, change_url

    service = Service.objects.get(slug="executor")
    data = change_form_data(portal_admin_client, change_url(service))
    data["dashboard_url"] = "https://grafana.example.com/d/executor"

    assert portal_admin_client.post(change_url(service), data).status_code == 302
    service.refresh_from_db()
    assert service.dashboard_url == "https://grafana.example.com/d/executor"
