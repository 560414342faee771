"""Subscribers in the admin: read-only, no adding or deleting; erasing on request goes through the service."""

from django.urls import reverse

from notifications.models import OutboxMessage
from statuspage.models import StatusSubscriber

from .conftest import FAN

CHANGELIST = reverse("admin:statuspage_statussubscriber_changelist")


def test_staff_erase_a_subscriber_on_request_and_the_history_names_them(client, portal_admin, fan):
    client.force_login(portal_admin)

    response = client.post(CHANGELIST, {"action": "unsubscribe_and_erase", "_selected_action": [fan.pk]})

    assert response.status_code == 302
    fan.refresh_from_db()
    assert fan.is_erased and not fan.is_receiving
    record = fan.history.first()
    assert (record.history_user, record.history_change_reason) == (
        portal_admin,
        "Status page: unsubscribed, address erased",
    )
    assert not OutboxMessage.objects.filter(recipients__contains=[FAN]).exists()
    assert FAN not in client.get(CHANGELIST).content.decode()


def test_subscribers_cannot_be_added_edited_or_deleted_in_the_admin(client, portal_admin, fan):
    client.force_login(portal_admin)
    change = client.get(reverse("admin:statuspage_statussubscriber_change", args=[fan.pk]))

    assert client.get(reverse("admin:statuspage_statussubscriber_add")).status_code == 403
    assert (
        client.post(reverse("admin:statuspage_statussubscriber_delete", args=[fan.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert {"email", "email_hash", "confirmed_at", "unsubscribed_at"} <= set(
        change.context["adminform"].readonly_fields
    )
    assert "email" not in change.context["adminform"].form.fields
    assert StatusSubscriber.objects.get(pk=fan.pk).email == FAN
