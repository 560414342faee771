"""Indexes on the history tables for the incident's history page, which reads the
newest changes of the incident and its parts a page at a time (audit.history):
each part's rows for one incident in time order, and each object's previous
version. simple-history generates these tables and offers no way to declare
indexes on them, so they are plain SQL here (valid on PostgreSQL and SQLite)."""

from django.db import migrations

INDEXES = {
    "history_incident_time": ("incidents_historicalincident", "id, history_date, history_id", ""),
    "history_assignment_incident_time": (
        "incidents_historicalroleassignment",
        "incident_id, history_date, history_id",
        "",
    ),
    "history_assignment_time": ("incidents_historicalroleassignment", "id, history_date, history_id", ""),
    "history_checklist_incident_time": (
        "incidents_historicalchecklistitem",
        "incident_id, history_date, history_id",
        "",
    ),
    "history_checklist_time": ("incidents_historicalchecklistitem", "id, history_date, history_id", ""),
    "history_update_incident_time": ("incidents_historicalstatusupdate", "incident_id, history_date, history_id", ""),
    "history_note_incident_time": (
        "incidents_historicaltimelineentry",
        "incident_id, history_date, history_id",
        " WHERE kind = 'note'",
    ),
}


class Migration(migrations.Migration):
    dependencies = [("incidents", "0006_list_indexes")]

    operations = [
        migrations.RunSQL(
            f'CREATE INDEX "{name}" ON "{table}" ({columns}){where}',
            f'DROP INDEX "{name}"',
        )
        for name, (table, columns, where) in INDEXES.items()
    ]
