"""Every model has history, and every write path records who and why."""

import pytest
from django.apps import apps
from django.urls import reverse
from simple_history.models import registered_models

from incidents.models import Contact
from notifications.models import OutboxMessage
from portal.testing import wait_until


@pytest.mark.parametrize("app_label", ["notifications", "incidents", "alerts", "statuspage", "postmortems"])
def test_every_model_has_history(app_label):
    models = [m for m in apps.get_app_config(app_label).get_models() if not m.__name__.startswith("Historical")]
    missing = [m.__name__ for m in models if m not in registered_models.values() or not hasattr(m, "history")]
    assert missing == []


def test_m2m_changes_are_recorded(incident):
    from incidents.models import Service

    incident.services.add(Service.objects.get(slug="risk"))

    snapshot = incident.history.first()
    assert {s.service.slug for s in snapshot.services.all()} == {"executor", "risk"}


def test_admin_edit_records_the_admin_user(client, portal_admin):
    contact = Contact.objects.get(name="CTO")
    client.force_login(portal_admin)

    response = client.post(
        reverse("admin:incidents_contact_change", args=[contact.pk]),
        {
            "name": "CTO",
            "category": "emergency",
            "phone": "+1-555-0199",
            "email": "",
            "notes": "",
            "escalation_order": 2,
            "last_verified": "2026-11-20",
            "is_active": "on",
            "role": "",
        },
    )

    assert response.status_code == 302, response.content
    latest = contact.history.first()
    assert latest.phone == "+1-555-0199"
    assert latest.history_user == portal_admin
    assert latest.history_change_reason.startswith("admin: POST /admin/incidents/contact/")


def test_service_writes_record_actor_and_reason(incident, responder):
    latest = incident.history.first()
    assert latest.history_user == responder
    assert latest.history_change_reason == "Incident declared"


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_role_assignment_email_goes_through_a_real_worker_as_system(
    celery_worker, smtp_server, incident, other_responder
):
    from incidents.models import Role
    from incidents.services import role_assign

    role_assign(
        incident=incident,
        role=Role.objects.get(slug="technical-lead"),
        user=other_responder,
        actor=incident.declared_by,
    )

    # on_commit published the delivery task over Redis; the worker consumes it and speaks SMTP.
    received = smtp_server.wait_for(1)
    assert len(received) == 1
    assert received[0]["To"] == "tom@example.com"
    assert received[0]["Subject"] == f"[{incident.reference}] You are Technical Lead: {incident.title}"
    text = received[0].get_body(("plain",)).get_content()
    html = received[0].get_body(("html",)).get_content()
    assert "<strong>Technical Lead</strong>" in html
    assert "Rita Responder assigned you as Technical Lead" in text
    assert f"{incident.reference}/" in text

    # The worker marks the row sent when its transaction commits, just after SMTP accepted the mail.
    message = wait_until(lambda: OutboxMessage.objects.filter(key__startswith="role-assigned:", status="sent").first())
    sent = message.history.filter(status="sent").get()
    assert sent.history_user.username == "system"
    assert sent.history_change_reason == "Outbox delivery"


def test_admin_cannot_delete_users_so_history_keeps_its_authors(client, portal_admin):
    portal_admin.is_superuser = True
    portal_admin.save()
    client.force_login(portal_admin)

    response = client.post(reverse("admin:auth_user_delete", args=[portal_admin.pk]), {"post": "yes"})

    assert response.status_code == 403
    assert type(portal_admin).objects.filter(pk=portal_admin.pk).exists()


@pytest.mark.parametrize("app_label", ["notifications", "incidents", "alerts", "statuspage", "postmortems"])
def test_every_model_has_an_admin_with_history(app_label):
    from django.contrib import admin
    from simple_history.admin import SimpleHistoryAdmin

    models = [m for m in apps.get_app_config(app_label).get_models() if not m.__name__.startswith("Historical")]
    missing = [m.__name__ for m in models if not isinstance(admin.site._registry.get(m), SimpleHistoryAdmin)]
    assert missing == []


def test_admin_pages_open_for_every_model(client, portal_admin, incident):
    from django.contrib import admin

    portal_admin.is_superuser = True
    portal_admin.save()
    client.force_login(portal_admin)
    for model in admin.site._registry:
        if model._meta.app_label in {"notifications", "incidents", "alerts", "statuspage", "postmortems"}:
            url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
            assert client.get(url).status_code == 200, url
