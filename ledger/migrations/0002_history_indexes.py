"""Indexes on the ledger's history table for its history page, which reads the newest changes of
one incident's entries a page at a time (audit.history), and each entry's previous version.
simple-history generates the table and offers no way to declare indexes on it, so they are
plain SQL here (valid on PostgreSQL and SQLite)."""

from django.db import migrations

INDEXES = {
    "history_impactentry_incident_time": ("ledger_historicalimpactentry", "incident_id, history_date, history_id"),
    "history_impactentry_time": ("ledger_historicalimpactentry", "id, history_date, history_id"),
}


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]

    operations = [
        migrations.RunSQL(f'CREATE INDEX "{name}" ON "{table}" ({columns})', f'DROP INDEX "{name}"')
        for name, (table, columns) in INDEXES.items()
    ]
