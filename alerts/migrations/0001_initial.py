import django.db.models.deletion
import django.utils.timezone
import simple_history.models
from django.conf import settings
from django.db import migrations, models


MOVED = ['historicalalert', 'alert']


def _relabel(apps, old: str, new: str) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label=new, model__in=MOVED).delete()  # none, unless made by hand
    ContentType.objects.filter(app_label=old, model__in=MOVED).update(app_label=new)


def move_content_types(apps, schema_editor):
    """Keep permissions and admin log entries: the models' content types change app, not identity."""
    _relabel(apps, "incidents", "alerts")


def move_content_types_back(apps, schema_editor):
    _relabel(apps, "alerts", "incidents")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('incidents', '0002_alerts_and_subscribers'),
        ('contenttypes', '0002_remove_content_type_name'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # These models and their history lived in `incidents` until the apps were split:
        # take them over with their rows, then give their tables this app's names.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='HistoricalAlert',
                    fields=[
                        ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                        ('created_at', models.DateTimeField(blank=True, editable=False)),
                        ('updated_at', models.DateTimeField(blank=True, editable=False)),
                        ('group_key', models.TextField(help_text="Alertmanager's groupKey of the notification that brought it.")),
                        ('fingerprint', models.CharField(max_length=100)),
                        ('starts_at', models.DateTimeField()),
                        ('ends_at', models.DateTimeField(blank=True, null=True)),
                        ('status', models.CharField(choices=[('firing', 'Firing'), ('resolved', 'Resolved')], max_length=10)),
                        ('labels', models.JSONField(blank=True, default=dict)),
                        ('annotations', models.JSONField(blank=True, default=dict)),
                        ('generator_url', models.TextField(blank=True)),
                        ('payload', models.JSONField(help_text='The alert exactly as first received.')),
                        ('resolved_payload', models.JSONField(blank=True, help_text='The alert as received when resolved.', null=True)),
                        ('received_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('resolved_received_at', models.DateTimeField(blank=True, null=True)),
                        ('history_id', models.AutoField(primary_key=True, serialize=False)),
                        ('history_date', models.DateTimeField(db_index=True)),
                        ('history_change_reason', models.CharField(max_length=100, null=True)),
                        ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
                        ('history_user', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('incident', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='incidents.incident')),
                    ],
                    options={
                        'db_table': 'incidents_historicalalert',
                        'verbose_name': 'historical alert',
                        'verbose_name_plural': 'historical alerts',
                        'ordering': ('-history_date', '-history_id'),
                        'get_latest_by': ('history_date', 'history_id'),
                    },
                    bases=(simple_history.models.HistoricalChanges, models.Model),
                ),
                migrations.CreateModel(
                    name='Alert',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('group_key', models.TextField(help_text="Alertmanager's groupKey of the notification that brought it.")),
                        ('fingerprint', models.CharField(max_length=100)),
                        ('starts_at', models.DateTimeField()),
                        ('ends_at', models.DateTimeField(blank=True, null=True)),
                        ('status', models.CharField(choices=[('firing', 'Firing'), ('resolved', 'Resolved')], max_length=10)),
                        ('labels', models.JSONField(blank=True, default=dict)),
                        ('annotations', models.JSONField(blank=True, default=dict)),
                        ('generator_url', models.TextField(blank=True)),
                        ('payload', models.JSONField(help_text='The alert exactly as first received.')),
                        ('resolved_payload', models.JSONField(blank=True, help_text='The alert as received when resolved.', null=True)),
                        ('received_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('resolved_received_at', models.DateTimeField(blank=True, null=True)),
                        ('incident', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='alerts', to='incidents.incident')),
                    ],
                    options={
                        'db_table': 'incidents_alert',
                        'ordering': ['-starts_at', '-id'],
                        'constraints': [models.UniqueConstraint(fields=('fingerprint', 'starts_at'), name='incidents_alert_unique_occurrence', violation_error_message='This alert (fingerprint and start time) has already been received.')],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.AlterModelTable(name='HistoricalAlert', table=None),
        migrations.AlterModelTable(name='Alert', table=None),
        migrations.RemoveConstraint(model_name='alert', name='incidents_alert_unique_occurrence'),
        migrations.AddConstraint(
            model_name='alert',
            constraint=models.UniqueConstraint(fields=('fingerprint', 'starts_at'), name='alerts_alert_unique_occurrence', violation_error_message='This alert (fingerprint and start time) has already been received.'),
        ),
        migrations.RunPython(move_content_types, move_content_types_back),
    ]
