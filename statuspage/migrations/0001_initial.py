import django.db.models.deletion
import simple_history.models
from django.conf import settings
from django.db import migrations, models


MOVED = ['statussubscriber', 'historicalstatussubscriber']


def _relabel(apps, old: str, new: str) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label=new, model__in=MOVED).delete()  # none, unless made by hand
    ContentType.objects.filter(app_label=old, model__in=MOVED).update(app_label=new)


def move_content_types(apps, schema_editor):
    """Keep permissions and admin log entries: the models' content types change app, not identity."""
    _relabel(apps, "incidents", "statuspage")


def move_content_types_back(apps, schema_editor):
    _relabel(apps, "statuspage", "incidents")


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
                    name='StatusSubscriber',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('email', models.EmailField(help_text='Stored lower-cased.', max_length=254, unique=True)),
                        ('confirmed_at', models.DateTimeField(blank=True, null=True)),
                        ('unsubscribed_at', models.DateTimeField(blank=True, null=True)),
                    ],
                    options={
                        'db_table': 'incidents_statussubscriber',
                        'ordering': ['email'],
                    },
                ),
                migrations.CreateModel(
                    name='HistoricalStatusSubscriber',
                    fields=[
                        ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                        ('created_at', models.DateTimeField(blank=True, editable=False)),
                        ('updated_at', models.DateTimeField(blank=True, editable=False)),
                        ('email', models.EmailField(db_index=True, help_text='Stored lower-cased.', max_length=254)),
                        ('confirmed_at', models.DateTimeField(blank=True, null=True)),
                        ('unsubscribed_at', models.DateTimeField(blank=True, null=True)),
                        ('history_id', models.AutoField(primary_key=True, serialize=False)),
                        ('history_date', models.DateTimeField(db_index=True)),
                        ('history_change_reason', models.CharField(max_length=100, null=True)),
                        ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
                        ('history_user', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'incidents_historicalstatussubscriber',
                        'verbose_name': 'historical status subscriber',
                        'verbose_name_plural': 'historical status subscribers',
                        'ordering': ('-history_date', '-history_id'),
                        'get_latest_by': ('history_date', 'history_id'),
                    },
                    bases=(simple_history.models.HistoricalChanges, models.Model),
                ),
            ],
            database_operations=[],
        ),
        migrations.AlterModelTable(name='StatusSubscriber', table=None),
        migrations.AlterModelTable(name='HistoricalStatusSubscriber', table=None),
        migrations.RunPython(move_content_types, move_content_types_back),
        migrations.CreateModel(
            name='HistoricalBroadcast',
            fields=[
                ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                ('created_at', models.DateTimeField(blank=True, editable=False)),
                ('updated_at', models.DateTimeField(blank=True, editable=False)),
                ('last_subscriber_id', models.BigIntegerField(default=0, help_text='Subscribers up to this id have been queued.')),
                ('queued', models.PositiveIntegerField(default=0, help_text='Emails queued so far.')),
                ('completed_at', models.DateTimeField(blank=True, null=True)),
                ('history_id', models.AutoField(primary_key=True, serialize=False)),
                ('history_date', models.DateTimeField(db_index=True)),
                ('history_change_reason', models.CharField(max_length=100, null=True)),
                ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
                ('history_user', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('status_update', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='incidents.statusupdate')),
            ],
            options={
                'verbose_name': 'historical broadcast',
                'verbose_name_plural': 'historical broadcasts',
                'ordering': ('-history_date', '-history_id'),
                'get_latest_by': ('history_date', 'history_id'),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name='Broadcast',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('last_subscriber_id', models.BigIntegerField(default=0, help_text='Subscribers up to this id have been queued.')),
                ('queued', models.PositiveIntegerField(default=0, help_text='Emails queued so far.')),
                ('completed_at', models.DateTimeField(blank=True, null=True)),
                ('status_update', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='broadcast', to='incidents.statusupdate')),
            ],
            options={
                'ordering': ['-created_at'],
                'indexes': [models.Index(condition=models.Q(('completed_at__isnull', True)), fields=['id'], name='broadcast_pending')],
            },
        ),
    ]
