import django.db.models.deletion
import django.utils.timezone
import simple_history.models
from django.conf import settings
from django.db import migrations, models


MOVED = ['historicaloutboxmessage', 'outboxmessage']


def _relabel(apps, old: str, new: str) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label=new, model__in=MOVED).delete()  # none, unless made by hand
    ContentType.objects.filter(app_label=old, model__in=MOVED).update(app_label=new)


def move_content_types(apps, schema_editor):
    """Keep permissions and admin log entries: the models' content types change app, not identity."""
    _relabel(apps, "incidents", "notifications")


def move_content_types_back(apps, schema_editor):
    _relabel(apps, "notifications", "incidents")


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
                    name='HistoricalOutboxMessage',
                    fields=[
                        ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                        ('created_at', models.DateTimeField(blank=True, editable=False)),
                        ('updated_at', models.DateTimeField(blank=True, editable=False)),
                        ('key', models.CharField(db_index=True, max_length=200)),
                        ('channel', models.CharField(choices=[('email', 'Email'), ('slack', 'Slack')], max_length=10)),
                        ('recipients', models.JSONField(blank=True, default=list, help_text='Email addresses; empty for Slack.')),
                        ('subject', models.CharField(blank=True, max_length=255)),
                        ('body_text', models.TextField()),
                        ('body_html', models.TextField(blank=True)),
                        ('status', models.CharField(choices=[('pending', 'Pending'), ('sent', 'Sent'), ('failed', 'Failed')], default='pending', max_length=10)),
                        ('attempts', models.PositiveSmallIntegerField(default=0)),
                        ('next_attempt_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('last_error', models.TextField(blank=True)),
                        ('sent_at', models.DateTimeField(blank=True, null=True)),
                        ('history_id', models.AutoField(primary_key=True, serialize=False)),
                        ('history_date', models.DateTimeField(db_index=True)),
                        ('history_change_reason', models.CharField(max_length=100, null=True)),
                        ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
                        ('history_user', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'incidents_historicaloutboxmessage',
                        'verbose_name': 'historical outbox message',
                        'verbose_name_plural': 'historical outbox messages',
                        'ordering': ('-history_date', '-history_id'),
                        'get_latest_by': ('history_date', 'history_id'),
                    },
                    bases=(simple_history.models.HistoricalChanges, models.Model),
                ),
                migrations.CreateModel(
                    name='OutboxMessage',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('key', models.CharField(max_length=200, unique=True)),
                        ('channel', models.CharField(choices=[('email', 'Email'), ('slack', 'Slack')], max_length=10)),
                        ('recipients', models.JSONField(blank=True, default=list, help_text='Email addresses; empty for Slack.')),
                        ('subject', models.CharField(blank=True, max_length=255)),
                        ('body_text', models.TextField()),
                        ('body_html', models.TextField(blank=True)),
                        ('status', models.CharField(choices=[('pending', 'Pending'), ('sent', 'Sent'), ('failed', 'Failed')], default='pending', max_length=10)),
                        ('attempts', models.PositiveSmallIntegerField(default=0)),
                        ('next_attempt_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('last_error', models.TextField(blank=True)),
                        ('sent_at', models.DateTimeField(blank=True, null=True)),
                    ],
                    options={
                        'db_table': 'incidents_outboxmessage',
                        'ordering': ['-created_at'],
                        'indexes': [models.Index(condition=models.Q(('status', 'pending')), fields=['next_attempt_at'], name='outbox_pending_due')],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.AlterModelTable(name='HistoricalOutboxMessage', table=None),
        migrations.AlterModelTable(name='OutboxMessage', table=None),
        migrations.RunPython(move_content_types, move_content_types_back),
    ]
