"""The deadline sweep in batches: the same queries for any batch size, one delivery task per
batch, and a history row with actor and reason for every reminder and email it writes."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.actors import system_user
from notifications.models import OutboxMessage
from postmortems import services
from postmortems.models import Reminder
from postmortems.tests.factories import due_meetings, make_user

# Past the escalation grace: each post-mortem has a stale reminder (skipped), an overdue
# notice and an escalation (queued, the escalation to the IC, TL and emergency contacts).
OVERDUE_BY = settings.POSTMORTEM_ESCALATION_GRACE + timedelta(minutes=1)


@pytest.fixture
def owner(runbook):
    system_user()
    return make_user("olga", "Responders", first_name="Olga", last_name="Owner")


def one_batch(postmortems, owner, prefix):
    """A batch of the overdue meetings of `postmortems` post-mortems, and of one overdue action item per five."""
    for postmortem in due_meetings(postmortems, owner=owner, overdue_by=OVERDUE_BY, prefix=prefix)[::5]:
        services.action_item_create(
            postmortem=postmortem, actor=owner, title="Fix it", owner=owner, due_at=timezone.now() - OVERDUE_BY
        )
    with CaptureQueriesContext(connection) as queries:
        counts = services.deadlines_claim_batch(now=timezone.now(), batch_size=10_000)
    return counts, len(queries)


def test_a_batch_costs_the_same_queries_for_48_reminders_as_for_468(owner):
    small_counts, small = one_batch(13, owner, "S")
    large_counts, large = one_batch(130, owner, "L")

    assert small_counts == {"skipped": 16, "queued": 32}
    assert large_counts == {"skipped": 156, "queued": 312}
    assert small == large
    assert small <= 15


def test_a_batch_publishes_one_delivery_task(owner, django_capture_on_commit_callbacks):
    due_meetings(20, owner=owner, overdue_by=OVERDUE_BY, prefix="P")

    with django_capture_on_commit_callbacks() as callbacks:
        services.deadlines_claim_batch(now=timezone.now(), batch_size=100)

    assert OutboxMessage.objects.filter(key__startswith="postmortems:reminder:").count() == 40
    assert len(callbacks) == 1


def test_every_reminder_and_email_of_a_batch_has_its_history_row_with_actor_and_reason(owner):
    due_meetings(10, owner=owner, overdue_by=OVERDUE_BY, prefix="H")

    services.deadlines_claim_batch(now=timezone.now(), batch_size=100)

    reminders = Reminder.objects.exclude(status="pending").select_related("outbox_message")
    assert reminders.count() == 30
    for reminder in reminders:
        rows = list(reminder.history.all())
        assert len(rows) == 1  # bulk-created as setup, without history: this is the sweep's row
        assert (rows[0].history_type, rows[0].history_user.username) == ("~", "system")
        assert rows[0].history_change_reason == "Deadline sweep"
        assert (rows[0].status, rows[0].outbox_message_id, rows[0].note) == (
            reminder.status,
            reminder.outbox_message_id,
            reminder.note,
        )
        if reminder.status == "queued":
            created = reminder.outbox_message.history.get()
            assert (created.history_type, created.history_user.username) == ("+", "system")
            assert created.history_change_reason == "Deadline sweep"
            assert created.body_text == reminder.outbox_message.body_text
            assert created.recipients == reminder.recipients
