"""Accounts and groups have history too: who put whom in which group, who gave which permission,
kept in the audit chain, shown in the admin without the password."""

from io import StringIO

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from audit.admin import NoRevertHistoryAdmin, PortalGroupAdmin, PortalUserAdmin

pytestmark = pytest.mark.django_db(transaction=True)


def user_form(user, **changes):
    """The admin change form's POST for `user`, as the page would send it unchanged, with `changes`."""
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "groups": [group.pk for group in user.groups.all()],
        "user_permissions": [perm.pk for perm in user.user_permissions.all()],
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
    }
    data.update({flag: "on" for flag in ("is_active", "is_staff", "is_superuser") if getattr(user, flag)})
    data.update(changes)
    return data


def verify_exit_code() -> int:
    try:
        call_command("verify_audit", stdout=StringIO())
    except CommandError as exc:
        return exc.returncode
    return 0


def test_accounts_and_groups_show_their_history_in_the_admin():
    assert issubclass(PortalUserAdmin, NoRevertHistoryAdmin)
    assert issubclass(PortalGroupAdmin, NoRevertHistoryAdmin)


def test_adding_someone_to_a_group_in_the_admin_records_who_did_it(client, superuser, responder):
    admins = Group.objects.get(name="Admins")
    client.force_login(superuser)

    response = client.post(
        f"/admin/auth/user/{responder.pk}/change/",
        user_form(responder, groups=[g.pk for g in responder.groups.all()] + [admins.pk]),
    )

    assert response.status_code == 302, response.content
    latest = responder.history.order_by("-history_date", "-history_id").first()
    assert latest.history_user == superuser
    assert latest.history_change_reason == f"admin: POST /admin/auth/user/{responder.pk}/change/"
    assert {row.group.name for row in latest.groups.all()} == {"Responders", "Admins"}
    earliest = responder.history.order_by("history_date", "history_id").first()
    assert {row.group.name for row in earliest.groups.all()} <= {"Responders"}
    assert all(row.audit_seq for row in responder.history.all())
    assert verify_exit_code() == 0


def test_a_permission_given_to_a_group_or_a_person_is_recorded_with_who_gave_it(client, superuser, responder):
    group = Group.objects.get(name="Viewers")
    export = Permission.objects.get(codename="change_incident")
    client.force_login(superuser)

    group_response = client.post(
        f"/admin/auth/group/{group.pk}/change/",
        {"name": group.name, "permissions": [*group.permissions.values_list("pk", flat=True), export.pk]},
    )
    user_response = client.post(
        f"/admin/auth/user/{responder.pk}/change/", user_form(responder, user_permissions=[export.pk])
    )

    assert group_response.status_code == 302, group_response.content
    assert user_response.status_code == 302, user_response.content
    group_row = group.history.order_by("-history_date", "-history_id").first()
    assert group_row.history_user == superuser
    assert export.pk in {row.permission_id for row in group_row.permissions.all()}
    user_row = responder.history.order_by("-history_date", "-history_id").first()
    assert (user_row.history_user, [row.permission_id for row in user_row.user_permissions.all()]) == (
        superuser,
        [export.pk],
    )
    assert verify_exit_code() == 0


def test_the_admins_account_history_never_shows_the_password(client, superuser, responder):
    client.force_login(superuser)
    client.post(f"/admin/auth/user/{responder.pk}/change/", user_form(responder, first_name="Rita-Renamed"))
    responder.refresh_from_db()
    hashed = responder.password.split("$")[-1]
    version = responder.history.order_by("history_date", "history_id").first()

    change_page = client.get(f"/admin/auth/user/{responder.pk}/change/")
    history_page = client.get(f"/admin/auth/user/{responder.pk}/history/")
    version_page = client.get(f"/admin/auth/user/{responder.pk}/history/{version.history_id}/")

    # The change page shows the password field (its hash summary); a past version must not, nor the list.
    assert change_page.status_code == 200 and b"id_password" in change_page.content
    assert history_page.status_code == 200 and b"Rita-Renamed" in history_page.content
    assert version_page.status_code == 200 and b'name="username"' in version_page.content
    for page in (history_page, version_page):
        assert b"id_password" not in page.content and b"algorithm" not in page.content
        assert hashed[:6].encode() not in page.content
    # History never copied the password hash.
    with connection.cursor() as cursor:
        columns = connection.introspection.get_table_description(cursor, responder.history.model._meta.db_table)
    assert "password" not in {column.name for column in columns}
