"""The app split (outbox, alerts and status subscribers leaving `incidents`) on a
database that already holds data: migrated back to before the split, filled through
the models as they were then, and migrated forward again, nothing is lost."""

from datetime import UTC, datetime, timedelta
from importlib import import_module

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder

from portal.testing import report_figures

BEFORE_SPLIT = [
    ("incidents", "0002_alerts_and_subscribers"),
    ("postmortems", "0001_initial"),
    ("notifications", None),
    ("alerts", None),
    ("statuspage", None),
]
RENAMED = {
    "incidents_outboxmessage": "notifications_outboxmessage",
    "incidents_historicaloutboxmessage": "notifications_historicaloutboxmessage",
    "incidents_alert": "alerts_alert",
    "incidents_historicalalert": "alerts_historicalalert",
    "incidents_statussubscriber": "statuspage_statussubscriber",
    "incidents_historicalstatussubscriber": "statuspage_historicalstatussubscriber",
}
T0 = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


def _row_counts() -> dict[str, int]:
    # django_migrations is what migrating changes; every other table must keep its rows.
    with connection.cursor() as cursor:
        tables = [name for name in connection.introspection.table_names(cursor) if name != "django_migrations"]
        counts = {}
        for table in tables:
            cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608 - introspected names
            counts[table] = cursor.fetchone()[0]
    return counts


def _migrate(targets) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()  # the graph now knows what is applied
    return executor


class _OldPortal:
    """Rows written through the models as they were before the split, each with its history row."""

    def __init__(self, apps):
        self.apps = apps

    def create(self, label: str, **values):
        app_label, model_name = label.split(".")
        obj = self.apps.get_model(app_label, model_name).objects.create(**values)
        history = self.apps.get_model(app_label, f"Historical{model_name}")
        history.objects.create(
            **{field.attname: getattr(obj, field.attname) for field in obj._meta.concrete_fields},
            history_date=T0,
            history_type="+",
            history_user_id=self.user.pk,
            history_change_reason="Before the app split",
        )
        return obj

    def fill(self) -> dict:
        apps = self.apps
        self.user = apps.get_model("auth", "User").objects.create(
            username="upgrade-ic", email="upgrade-ic@example.com", password="!"
        )
        # The runbook seed may be gone (transactional tests flush it): make what is missing.
        severities = [
            apps.get_model("incidents", "Severity").objects.get_or_create(
                level=level, defaults={"name": f"Sev{level}", "criteria": "Upgrade test", "postmortem_required": True}
            )[0]
            for level in (1, 2)
        ]
        incident_type = self.create("incidents.IncidentType", slug="upgrade-test", name="Upgrade test")
        commander = self.create("incidents.Role", slug="upgrade-commander", name="Commander", responsibilities="Lead")
        scribe = self.create("incidents.Role", slug="upgrade-scribe", name="Scribe", responsibilities="Write")

        incidents = []
        for number in range(1, 4):
            resolved = number == 3
            incident = self.create(
                "incidents.Incident",
                reference=f"UPG-{number:04d}",
                title=f"Upgrade incident {number}",
                detection_source="alert",
                severity=severities[number % 2],
                incident_type=incident_type,
                status="resolved" if resolved else "investigating",
                detected_at=T0,
                acknowledged_at=T0 + timedelta(minutes=5),
                investigating_at=T0 + timedelta(minutes=10),
                resolved_at=T0 + timedelta(hours=2) if resolved else None,
                declared_by=self.user,
                initial_responder=self.user,
            )
            incidents.append(incident)
            for role in (commander, scribe):
                self.create(
                    "incidents.RoleAssignment", incident=incident, role=role, user=self.user, assigned_by=self.user
                )
            for minutes, text in ((0, "Declared"), (10, "Investigating")):
                self.create(
                    "incidents.TimelineEntry",
                    incident=incident,
                    kind="event",
                    occurred_at=T0 + timedelta(minutes=minutes),
                    text=text,
                    data={"number": number},
                    author=self.user,
                )
            self.create("incidents.StatusUpdate", incident=incident, audience="customers", body="We are on it.")

        alerts = [
            self.create(
                "incidents.Alert",
                incident=incidents[0] if fingerprint != "c0ffee03" else None,
                group_key='{}:{alertname="ExecutorDown"}',
                fingerprint=fingerprint,
                starts_at=T0,
                status="firing",
                labels={"alertname": "ExecutorDown", "severity": "critical"},
                payload={"fingerprint": fingerprint},
            )
            for fingerprint in ("c0ffee01", "c0ffee02", "c0ffee03")
        ]

        outbox = [
            self.create(
                "incidents.OutboxMessage",
                key=f"upgrade:{number}",
                channel="email",
                recipients=[f"oncall{number}@example.com", "lead@example.com"],
                subject=f"Message {number}",
                body_text="Body",
                status=status,
                attempts=1 if status == "sent" else 0,
                sent_at=T0 if status == "sent" else None,
            )
            for number, status in enumerate(("pending", "pending", "sent", "sent"), start=1)
        ]

        subscribers = [
            self.create("incidents.StatusSubscriber", email=email, confirmed_at=confirmed, unsubscribed_at=left)
            for email, confirmed, left in (
                ("reader1@example.com", T0, None),
                ("reader2@example.com", None, None),
                ("reader3@example.com", T0, T0 + timedelta(days=1)),
            )
        ]

        resolved_at = incidents[2].resolved_at
        postmortem = self.create(
            "postmortems.PostMortem",
            incident=incidents[2],
            clock_started_at=resolved_at,
            opened_by=self.user,
            owner=self.user,
            primary_cause="Upgrade test",
        )
        milestones = [
            self.create("postmortems.Milestone", postmortem=postmortem, kind=kind, due_at=resolved_at + due)
            for kind, due in (
                ("meeting", timedelta(hours=24)),
                ("analysis", timedelta(days=7)),
                ("preventive", timedelta(days=30)),
            )
        ]
        action_item = self.create(
            "postmortems.ActionItem",
            postmortem=postmortem,
            title="Alert on executor lag",
            due_at=resolved_at + timedelta(days=14),
            owner=self.user,
        )
        reminder = self.create(
            "postmortems.Reminder",
            milestone=milestones[0],
            kind="before",
            due_at=milestones[0].due_at - timedelta(hours=4),
            status="queued",
            handled_at=T0,
            recipients=["upgrade-ic@example.com"],
            outbox_message=outbox[2],
        )
        self.create(
            "postmortems.Reminder",
            action_item=action_item,
            kind="before",
            due_at=action_item.due_at - timedelta(days=1),
        )

        # Permissions hang on the content type: give a group one on the outbox's.
        content_type, _ = apps.get_model("contenttypes", "ContentType").objects.get_or_create(
            app_label="incidents", model="outboxmessage"
        )
        permission, _ = apps.get_model("auth", "Permission").objects.get_or_create(
            content_type=content_type, codename="view_outboxmessage", defaults={"name": "Can view outbox message"}
        )
        group = apps.get_model("auth", "Group").objects.create(name="Upgrade auditors")
        group.permissions.add(permission)

        return {
            "user": self.user.pk,
            "incident": incidents[0].pk,
            "alert": alerts[0].pk,
            "outbox": outbox[2].pk,
            "subscriber": subscribers[0].pk,
            "reminder": reminder.pk,
            "postmortem": postmortem.pk,
            "content_type": content_type.pk,
            "permission": permission.pk,
            "group": group.pk,
        }


@pytest.mark.django_db(transaction=True)
def test_app_split_moves_existing_rows_history_and_permissions():
    if connection.vendor != "postgresql":
        pytest.fail(f"This test renames PostgreSQL tables; the database is {connection.vendor}.")

    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    try:
        executor = _migrate(BEFORE_SPLIT)
        # The state before the split: the two targets, and every other app (contenttypes, auth …) at its latest.
        split_apps = {app for app, _ in BEFORE_SPLIT}
        # Apps built on a later incidents (approvals, regulatory …) were migrated back out with it: left out.
        applied = set(MigrationRecorder(connection).applied_migrations())
        old_state = executor.loader.project_state(
            [target for target in BEFORE_SPLIT if target[1]]
            + [node for node in latest if node[0] not in split_apps and node in applied]
        )
        portal = _OldPortal(old_state.apps)
        ids = portal.fill()
        before = _row_counts()
        assert set(RENAMED) <= set(before), "the backward migration did not restore the old tables"
        with connection.cursor() as cursor:  # the rows went into the old tables, through the old models
            cursor.execute("SELECT count(*) FROM incidents_historicaloutboxmessage WHERE key LIKE 'upgrade:%%'")
            assert cursor.fetchone()[0] == 4

        executor = _migrate(latest)
        after = _row_counts()
        ContentType.objects.clear_cache()  # ids were cached under the old app label

        # Every row kept; incidents 0011 adds the runbook's general steps (none existed before it).
        general_steps = len(import_module("incidents.migrations.0011_communication_plan").GENERAL_STEPS)
        expected = {**before, "incidents_runbookstep": before["incidents_runbookstep"] + general_steps}
        assert {table: after.get(RENAMED.get(table, table)) for table in before} == expected
        assert not set(RENAMED) & set(after)
        _assert_moved_rows_read_through_current_models(ids)

        call_command("makemigrations", "--check", "--dry-run", verbosity=0)
    finally:
        executor = MigrationExecutor(connection)
        if executor.migration_plan(latest):  # a failure above left the database behind
            executor.migrate(latest)
        ContentType.objects.clear_cache()

    history = [table for table in before if "historical" in table]
    report_figures(
        "upgrade",
        rows_before=sum(count for table, count in before.items() if table not in history),
        rows_after=sum(after[RENAMED.get(table, table)] for table in before if table not in history),
        history_before=sum(before[table] for table in history),
        history_after=sum(after[RENAMED.get(table, table)] for table in history),
        tables=len(before),
        renamed=len(RENAMED),
    )


def _assert_moved_rows_read_through_current_models(ids):
    from django.contrib.auth.models import Group

    from alerts.models import Alert
    from notifications.models import OutboxMessage
    from postmortems.models import PostMortem, Reminder
    from statuspage.models import StatusSubscriber

    outbox = OutboxMessage.objects.get(pk=ids["outbox"])
    assert (outbox.key, outbox.recipients, outbox.status) == (
        "upgrade:3",
        ["oncall3@example.com", "lead@example.com"],
        "sent",
    )
    assert OutboxMessage.objects.filter(key__startswith="upgrade:", status="pending").count() == 2
    alert = Alert.objects.get(pk=ids["alert"])
    assert (alert.fingerprint, alert.incident_id, alert.labels["alertname"]) == (
        "c0ffee01",
        ids["incident"],
        "ExecutorDown",
    )
    assert alert.incident.alerts.count() == 2
    assert StatusSubscriber.objects.get(pk=ids["subscriber"]).email == "reader1@example.com"
    assert StatusSubscriber.objects.filter(email__startswith="reader").receiving().count() == 1
    reminder = Reminder.objects.select_related("outbox_message").get(pk=ids["reminder"])
    assert (reminder.outbox_message_id, reminder.outbox_message.key) == (ids["outbox"], "upgrade:3")
    assert OutboxMessage.objects.get(pk=ids["outbox"]).postmortem_reminder == reminder

    # History rows are read through the current models' `.history`, with their author.
    for model, key in ((OutboxMessage, "outbox"), (Alert, "alert"), (StatusSubscriber, "subscriber")):
        record = model.history.get(id=ids[key])
        assert (record.history_type, record.history_user_id) == ("+", ids["user"])
        assert record.instance.pk == ids[key]
    assert OutboxMessage.history.filter(key__startswith="upgrade:").count() == 4
    assert Alert.history.get(id=ids["alert"]).incident_id == ids["incident"]
    assert StatusSubscriber.history.filter(email__startswith="reader").count() == 3
    assert PostMortem.history.get(id=ids["postmortem"]).history_change_reason == "Before the app split"

    content_type = ContentType.objects.get(pk=ids["content_type"])
    assert (content_type.app_label, content_type.model) == ("notifications", "outboxmessage")
    assert ContentType.objects.get_for_model(OutboxMessage).pk == ids["content_type"]
    group = Group.objects.get(pk=ids["group"])
    assert list(group.permissions.values_list("pk", "content_type__app_label", "codename")) == [
        (ids["permission"], "notifications", "view_outboxmessage")
    ]

    # The renamed tables take new rows: their id sequences and the renamed constraint came along.
    fresh = OutboxMessage.objects.create(key="upgrade:after", channel="slack", body_text="After")
    assert fresh.pk > ids["outbox"]
    assert StatusSubscriber.objects.create(email="reader4@example.com").pk > ids["subscriber"]
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "alerts_alert")
    assert "alerts_alert_unique_occurrence" in constraints
