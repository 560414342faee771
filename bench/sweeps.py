"""The periodic sweeps, run in-process against the bench database through their Celery tasks' functions
(`postmortems.tasks.enforce_deadlines`, `notifications.tasks.outbox_sweep`), called as a worker would
call them but without a worker process: what is timed is the task's own work, its queries and its SMTP
exchanges, not Celery's dispatch."""

import time
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from . import db

OUTBOX_SECONDS_CAP = 60  # stop delivering after this long; the rate is the figure


def deadline_sweep(scale: float, progress=print) -> dict:
    """The deadline sweep with `10,000 × scale` reminders due. The reminders next in line (pending, the
    earliest due) are made due a moment ago; any other pending one already due (the database ages between
    runs) is moved a month on, so exactly that many are due. restore() puts both back."""
    from postmortems.tasks import enforce_deadlines

    wanted = max(100, round(10_000 * scale))
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM postmortems_reminder WHERE status = 'pending' ORDER BY due_at, id LIMIT %s", [wanted]
        )
        ids = [row[0] for row in cursor.fetchall()]
        db.snapshot(
            "postmortems_reminder",
            "t.status = 'pending' AND (t.id = ANY(%s) OR t.due_at <= %s)",
            [ids, now + timedelta(hours=1)],
        )
        # Setting up the measurement, not a write of the portal's: no history, and restore() undoes it.
        cursor.execute(
            "UPDATE postmortems_reminder r SET due_at = %s - interval '1 second' * x.n"
            " FROM unnest(%s::bigint[]) WITH ORDINALITY AS x(id, n) WHERE r.id = x.id",
            [now, ids],
        )
        cursor.execute(
            "UPDATE postmortems_reminder SET due_at = %s + interval '30 days'"
            " WHERE status = 'pending' AND due_at <= %s AND NOT id = ANY(%s)",
            [now, now + timedelta(hours=1), ids],
        )
        cursor.execute("SELECT count(*) FROM postmortems_reminder WHERE status = 'pending' AND due_at <= now()")
        due = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM notifications_outboxmessage WHERE status = 'pending'")
        pending_before = cursor.fetchone()[0]
    progress(f"  deadline sweep: {due:,} reminders due")
    started = time.perf_counter()
    counts = enforce_deadlines()
    seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM postmortems_reminder WHERE id = ANY(%s) AND status <> 'pending'", [ids])
        handled = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM notifications_outboxmessage WHERE status = 'pending'")
        queued = cursor.fetchone()[0] - pending_before
    progress(f"  deadline sweep: {handled:,} handled in {seconds:.1f} s ({counts}), {queued:,} emails queued")
    return {"due": due, "handled": handled, "seconds": round(seconds, 2), "counts": counts, "emails_queued": queued}


def smtp_ceiling(port: int, messages: int = 300) -> float:
    """What the SMTP server takes from this process when nothing else is done: one message per connection,
    as Django's SMTP backend sends one email. The outbox cannot deliver faster than this."""
    import smtplib
    from email.message import EmailMessage

    started = time.perf_counter()
    for n in range(messages):
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "bench@example.com", "owner@example.com", f"Ceiling {n}"
        message.set_content("A post-mortem deadline needs you. " * 20)
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.send_message(message)
    return messages / (time.perf_counter() - started)


def outbox_delivery(smtp, progress=print) -> dict:
    """Deliver what the outbox holds (the deadline sweep's emails, and the declarations' if the pages ran)
    into a real SMTP server (aiosmtpd, its own process) with the outbox sweep, as one worker would: sweep
    after sweep until nothing is left to send (or the cap)."""
    from notifications.models import OutboxMessage
    from notifications.tasks import outbox_sweep

    pending = OutboxMessage.objects.filter(status=OutboxMessage.Status.PENDING).count()
    smtp.start()
    try:
        ceiling = smtp_ceiling(smtp.port)
        before = smtp.received()
        started = time.perf_counter()
        totals: dict = {}
        while time.perf_counter() - started < OUTBOX_SECONDS_CAP:
            counts = outbox_sweep()
            for outcome, n in counts.items():
                totals[outcome] = totals.get(outcome, 0) + n
            if not counts.get("sent"):
                break
        seconds = time.perf_counter() - started
        sent = totals.get("sent", 0)
        deadline = time.monotonic() + 10
        while smtp.received() - before < sent and time.monotonic() < deadline:
            time.sleep(0.1)
        received = smtp.received() - before
    finally:
        smtp.stop()
    rate = sent / seconds if seconds else 0.0
    progress(
        f"  outbox: {sent:,} of {pending:,} sent in {seconds:.1f} s ({rate:.0f}/s), {received:,} received;"
        f" the SMTP server alone takes {ceiling:.0f}/s"
    )
    return {
        "pending": pending,
        "sent": sent,
        "received": received,
        "seconds": round(seconds, 2),
        "rate": rate,
        "smtp_ceiling": round(ceiling),
        "counts": totals,
    }
