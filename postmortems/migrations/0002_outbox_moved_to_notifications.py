import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    # Before incidents forgets OutboxMessage, point the reminders at its new home.
    run_before = [('incidents', '0003_move_out_alerts_outbox_subscribers')]

    dependencies = [
        ('notifications', '0001_initial'),
        ('postmortems', '0001_initial'),
    ]

    operations = [
        # The foreign key's table was renamed, not replaced: the database already points at it.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='historicalreminder',
                    name='outbox_message',
                    field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='notifications.outboxmessage'),
                ),
                migrations.AlterField(
                    model_name='reminder',
                    name='outbox_message',
                    field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='postmortem_reminder', to='notifications.outboxmessage'),
                ),
            ],
            database_operations=[],
        ),
    ]
