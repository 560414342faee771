from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('incidents', '0002_alerts_and_subscribers'),
        ('notifications', '0001_initial'),
        ('alerts', '0001_initial'),
        ('statuspage', '0001_initial'),
    ]

    operations = [
        # The tables now belong to notifications, alerts and statuspage (their 0001 migrations).
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name='alert',
                    name='incident',
                ),
                migrations.RemoveField(
                    model_name='historicalalert',
                    name='history_user',
                ),
                migrations.RemoveField(
                    model_name='historicalalert',
                    name='incident',
                ),
                migrations.RemoveField(
                    model_name='historicaloutboxmessage',
                    name='history_user',
                ),
                migrations.RemoveField(
                    model_name='historicalstatussubscriber',
                    name='history_user',
                ),
                migrations.DeleteModel(
                    name='OutboxMessage',
                ),
                migrations.DeleteModel(
                    name='StatusSubscriber',
                ),
                migrations.DeleteModel(
                    name='Alert',
                ),
                migrations.DeleteModel(
                    name='HistoricalAlert',
                ),
                migrations.DeleteModel(
                    name='HistoricalOutboxMessage',
                ),
                migrations.DeleteModel(
                    name='HistoricalStatusSubscriber',
                ),
            ],
            database_operations=[],
        ),
    ]
