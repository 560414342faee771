"""The outbox: every email, Slack message and page (by phone) the portal sends.

A notice is queued by writing an `OutboxMessage` row inside the transaction that
caused it, under a unique key, so the same notice can never be queued twice. A
sweep that queues many at once (`outbox_enqueue_many`) writes them with one
INSERT and their history with another, and publishes one delivery task per batch.

Delivery goes batch by batch: a committed step marks up to BATCH_SIZE due rows
"sending" (rows another worker holds are skipped), the emails among them go out
over one SMTP connection, and one step records every outcome: sent, or pending
again with a later `next_attempt_at` (failed after OUTBOX_MAX_ATTEMPTS). A
message the server refuses fails alone; a connection lost mid-batch fails the
message in flight and puts back, untouched, those not tried yet. Each message
the server accepts is noted at once, so a worker that dies mid-batch leaves one
message in doubt: once its lease has passed, the sweep records the noted ones as
sent and sends the others again (at-least-once across that one crash; the copy
carries the same X-Portal-Message and Message-ID). The periodic sweep delivers
whatever is due, including rows whose publish to the broker failed. Nothing is
dropped and nothing blocks the web request.

A page goes to the paging gateway (PAGING_WEBHOOK_URL, an SMS/voice service's
webhook) as one HTTP POST per message, with the message's id as the idempotency
key. A message that carries a `context` is announced once it is sent or failed for
good (`notifications.events.message_settled`), so the app that queued it can record
the outcome where people look (an incident's timeline).
"""

import contextlib
import functools
import hashlib
import json
import logging
import smtplib
import urllib.request
from datetime import UTC, timedelta
from email.utils import parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import DatabaseError, connection, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from audit.actors import system_user
from audit.bulk import bulk_insert, bulk_save
from portal.celery import publish

from .events import message_settled
from .models import OutboxMessage

logger = logging.getLogger(__name__)

M = OutboxMessage
DELIVER_TASK = "notifications.tasks.deliver_outbox_message"
DELIVER_BATCH_TASK = "notifications.tasks.deliver_outbox_batch"
# Messages claimed together, sent over one SMTP connection and recorded together.
BATCH_SIZE = 100


class DeliveryError(Exception):
    """A transient failure to hand a message to SMTP or Slack."""


class ConnectionLost(DeliveryError):
    """The SMTP session ended (or never began) during this message: its attempt failed, and
    the batch's messages not tried yet wait for the next delivery rather than meet the same."""


def render_email(name: str, context: dict) -> tuple[str, str, str]:
    """Subject, text and HTML of `templates/emails/<name>_*`; the subject and text unescaped (plain text)."""
    context = {"site_url": settings.SITE_URL, **context}
    # An email goes to many people: its times are in UTC, whatever zone the request that queued it is in.
    with timezone.override(UTC):
        subject = " ".join(render_to_string(f"emails/{name}_subject.txt", context, using="text").split())
        text = render_to_string(f"emails/{name}_body.txt", context, using="text")
        html = render_to_string(f"emails/{name}_body.html", context)
    return subject, text, html


def outbox_enqueue(
    *,
    key: str,
    channel: str,
    body_text: str,
    subject: str = "",
    body_html: str = "",
    recipients=(),
    context: dict | None = None,
) -> tuple[OutboxMessage, bool]:
    """Queue a message once per `key`. Returns the message and whether it is new."""
    message, created = OutboxMessage.objects.get_or_create(
        key=key[:200],
        defaults={
            "channel": channel,
            "recipients": sorted(set(recipients)),
            "subject": subject[:255],
            "body_text": body_text,
            "body_html": body_html,
            "context": context or {},
        },
    )
    if created:
        transaction.on_commit(lambda: publish(DELIVER_TASK, message.pk))
    return message, created


def paging_configured() -> bool:
    return bool(settings.PAGING_WEBHOOK_URL)


def page_enqueue(*, key: str, phone: str, text: str, context: dict) -> tuple[OutboxMessage, bool] | None:
    """Queue a page (SMS/voice through the paging gateway) to one phone number, once per `key`.

    None when paging is off (PAGING_WEBHOOK_URL unset) or there is no number: nothing is queued,
    and the caller says so where people look. `context` comes back with `message_settled`."""
    phone = (phone or "").strip()
    if not paging_configured() or not phone:
        return None
    message = page_message(key=key, phone=phone, text=text, context=context)
    return outbox_enqueue(
        key=message.key, channel=message.channel, body_text=text, recipients=message.recipients, context=context
    )


def page_message(*, key: str, phone: str, text: str, context: dict) -> OutboxMessage:
    """A page to one phone number, not saved yet (for `outbox_enqueue_many`)."""
    return OutboxMessage(
        key=key[:200], channel=M.Channel.PAGE, body_text=text, recipients=[phone.strip()], context=context
    )


def email_message(*, key: str, template: str, context: dict, recipients) -> OutboxMessage | None:
    """An email rendered from `templates/emails/<template>_*`, not saved yet; None if nobody to send to."""
    recipients = sorted({address for address in recipients if address})
    if not recipients:
        logger.info("No recipients for %s, nothing queued", key)
        return None
    subject, text, html = render_email(template, context)
    return OutboxMessage(
        key=key[:200],
        channel=M.Channel.EMAIL,
        recipients=recipients,
        subject=subject[:255],
        body_text=text,
        body_html=html,
    )


def email_enqueue(*, key: str, template: str, context: dict, recipients) -> tuple[OutboxMessage, bool] | None:
    """Queue one email rendered from `templates/emails/<template>_*`; None if nobody to send to."""
    message = email_message(key=key, template=template, context=context, recipients=recipients)
    if message is None:
        return None
    return outbox_enqueue(
        key=message.key,
        channel=message.channel,
        subject=message.subject,
        body_text=message.body_text,
        body_html=message.body_html,
        recipients=message.recipients,
    )


def outbox_enqueue_many(messages, *, actor, reason: str) -> dict[str, tuple[OutboxMessage, bool]]:
    """Queue unsaved messages in the caller's transaction, each once per key. Returns {key: (message, created)}.

    Three queries whatever the number: the keys already queued, one INSERT for the
    others and one for their history (attributed to `actor`, with `reason`). Their
    delivery is published on commit, one task per BATCH_SIZE messages. The unique key
    still decides: a key queued meanwhile by another transaction fails the INSERT, and
    the caller's transaction with it, rather than queueing the notice twice; callers
    hold a lock on what the keys stand for (the sweep's reminder rows), so it does not happen.
    """
    wanted: dict[str, OutboxMessage] = {}
    for message in messages:
        wanted.setdefault(message.key, message)
    if not wanted:
        return {}
    queued = {message.key: (message, False) for message in OutboxMessage.objects.filter(key__in=list(wanted))}
    new = [message for key, message in wanted.items() if key not in queued]
    if new:
        bulk_insert(new, actor=actor, reason=reason)
        ids = [message.pk for message in new]
        for start in range(0, len(ids), BATCH_SIZE):
            transaction.on_commit(lambda chunk=ids[start : start + BATCH_SIZE]: publish(DELIVER_BATCH_TASK, chunk))
        queued.update((message.key, (message, True)) for message in new)
    return queued


def message_id(key: str) -> str:
    """The same Message-ID for every attempt at one message, so a receiver that
    deduplicates on it drops a copy sent again after a crash."""
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "portal.invalid"
    return f"<outbox.{hashlib.sha256(key.encode()).hexdigest()[:40]}@{domain}>"


def _hung_up(exc: smtplib.SMTPException) -> bool:
    """A 421 reply ("closing the channel"): smtplib closes the session itself."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return any(code == 421 for code, _ in exc.recipients.values())
    return getattr(exc, "smtp_code", None) == 421


def _send_email(message: OutboxMessage, smtp) -> None:
    """Send over `smtp`, the batch's one SMTP connection (opened by its first email)."""
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=message.body_text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=message.recipients,
        headers={"X-Portal-Message": message.key, "Message-ID": message_id(message.key)},
        connection=smtp,
    )
    if message.body_html:
        email.attach_alternative(message.body_html, "text/html")
    try:
        smtp.open()  # once: an open connection stays open, and send() then leaves it open
        email.send()
    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
        if _hung_up(exc):
            raise ConnectionLost(f"SMTP: {exc}") from exc
        # The server refused this message (smtplib has reset the transaction): the session goes on.
        raise DeliveryError(f"SMTP: {exc}") from exc
    except OSError as exc:  # smtplib.SMTPException is an OSError: the session is gone, or never began
        raise ConnectionLost(f"SMTP: {exc}") from exc
    except (UnicodeError, ValueError) as exc:  # an address SMTP cannot encode (a@。.com)
        raise DeliveryError(f"Address cannot be sent to: {exc}") from exc


def _send_slack(message: OutboxMessage, smtp) -> None:
    """One webhook call; `smtp` (the batch's SMTP connection) is not Slack's to use."""
    url = settings.SLACK_WEBHOOK_URL
    if not url.startswith(("https://", "http://")):
        raise DeliveryError("SLACK_WEBHOOK_URL is not set to an http(s) URL")
    request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        url,
        data=json.dumps({"text": message.body_text}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=settings.SLACK_TIMEOUT) as response:  # noqa: S310
            response.read()
    except OSError as exc:  # URLError and HTTPError are OSErrors
        raise DeliveryError(f"Slack: {exc}") from exc


def _send_page(message: OutboxMessage, smtp) -> None:
    """One POST to the paging gateway; any 2xx is "accepted by the gateway". The message id is the
    idempotency key, so a gateway that honours it drops the copy sent again after a crash."""
    url = settings.PAGING_WEBHOOK_URL
    if not url.startswith(("https://", "http://")):
        raise DeliveryError("PAGING_WEBHOOK_URL is not set to an http(s) URL")
    payload = {"id": f"portal-outbox-{message.pk}", "to": message.recipients, "text": message.body_text}
    headers = {"Content-Type": "application/json", "Idempotency-Key": payload["id"]}
    if settings.PAGING_TOKEN:
        headers["Authorization"] = f"Bearer {settings.PAGING_TOKEN}"
    request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        url, data=json.dumps(payload).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=settings.PAGING_TIMEOUT) as response:  # noqa: S310
            response.read()
    except OSError as exc:  # URLError and HTTPError (any non-2xx answer) are OSErrors
        raise DeliveryError(f"Paging gateway: {exc}") from exc


SENDERS = {M.Channel.EMAIL: _send_email, M.Channel.SLACK: _send_slack, M.Channel.PAGE: _send_page}

CLAIM_FIELDS = ["status", "sending_since", "attempts"]
RECORD_FIELDS = ["status", "sending_since", "attempts", "next_attempt_at", "sent_at", "last_error"]


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, … minutes between attempts, capped at an hour."""
    return timedelta(minutes=min(2 ** (attempts - 1), 60))


def _announce(messages) -> None:
    """`message_settled` for each message with a context that is now sent or failed for good, inside
    the recording transaction, each in a savepoint: a receiver's error is logged, the record stands."""
    for message in messages:
        if not message.context or message.status not in (M.Status.SENT, M.Status.FAILED):
            continue
        try:
            with transaction.atomic():
                message_settled.send(sender=OutboxMessage, message=message)
        except Exception:  # noqa: BLE001 - undoing the record would send the message again
            logger.exception("A receiver of message_settled failed for outbox message %s", message.pk)


def _claim_batch(now, actor, *, message_ids=None, limit: int = BATCH_SIZE) -> list[OutboxMessage]:
    """Mark up to `limit` due messages (of `message_ids`, if given) as being sent, in their own
    committed transaction, before anything is handed to SMTP or Slack. Rows another worker
    has locked are skipped, and a claimed row is no longer pending: no two workers send one."""
    with transaction.atomic():
        due = M.objects.select_for_update(skip_locked=True).filter(status=M.Status.PENDING, next_attempt_at__lte=now)
        if message_ids is not None:
            due = due.filter(pk__in=message_ids)
        batch = list(due.order_by("next_attempt_at")[:limit])
        for message in batch:
            message.status = M.Status.SENDING
            message.sending_since = now
            message.attempts += 1
        bulk_save(batch, CLAIM_FIELDS, actor=actor, reason="Outbox delivery: sending")
    return batch


def _claim(message_id: int, now) -> OutboxMessage | None:
    """Claim one message; None if it is not due, or another worker has it."""
    batch = _claim_batch(now, system_user(), message_ids=[message_id], limit=1)
    return batch[0] if batch else None


@functools.cache
def _note_sent_sql() -> str:
    quote, meta = connection.ops.quote_name, M._meta
    column = {name: quote(meta.get_field(name).column) for name in ("id", "sent_at", "status", "sending_since")}
    return (
        f"UPDATE {quote(meta.db_table)} SET {column['sent_at']} = %s "  # noqa: S608 - names from the model
        f"WHERE {column['id']} = %s AND {column['status']} = %s AND {column['sending_since']} = %s"
    )


def _note_sent(message: OutboxMessage) -> None:
    """Write down that the server accepted `message` before the next one is handed over.

    A plain UPDATE of `sent_at`, without history on purpose: it is a progress mark, not
    the change itself. The change to "sent" and its history row follow with the batch's
    record, or, if this worker dies before that, from `outbox_release_stale`, which thanks
    to this mark sends again only the message that was in flight, not the batch before it.
    Written as SQL: the ORM takes longer to compile this statement than the database to run it.
    """
    message.sent_at = timezone.now()
    moment = connection.ops.adapt_datetimefield_value  # as the ORM would pass them (naive UTC on SQLite)
    with connection.cursor() as cursor:
        cursor.execute(
            _note_sent_sql(), [moment(message.sent_at), message.pk, M.Status.SENDING, moment(message.sending_since)]
        )


@contextlib.contextmanager
def _quick_commits():
    """Let PostgreSQL confirm this session's commits before they reach the disk, for the
    `_note_sent` marks of one batch: each would otherwise wait for its WAL flush (4 ms on
    the machine measured, longer than the SMTP exchange). A crashed worker loses none of
    them (the database has them); a crash of PostgreSQL itself can lose the last fraction
    of a second's, and those messages are sent again like the one in flight."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO off")
    try:
        yield
    finally:
        with contextlib.suppress(DatabaseError), connection.cursor() as cursor:  # a lost session resets itself
            cursor.execute("RESET synchronous_commit")


def _send_batch(batch: list[OutboxMessage]) -> tuple[dict[int, Exception | None], list[OutboxMessage]]:
    """Hand the claimed messages over in order, the emails over one SMTP connection.

    Returns each tried message's error (None: accepted) and the messages not tried:
    those after a lost connection, and those whose turn came after half their lease (the
    sweep could take them back and send them too while this worker still would).
    """
    results: dict[int, Exception | None] = {}
    start_by = batch[0].sending_since + settings.OUTBOX_SENDING_LEASE / 2
    smtp = None
    try:
        for index, message in enumerate(batch):
            if timezone.now() >= start_by:
                logger.warning("Outbox batch too slow: %s messages left for the next delivery", len(batch) - index)
                return results, batch[index:]
            if message.channel == M.Channel.EMAIL and smtp is None:
                smtp = get_connection()
            try:
                SENDERS[message.channel](message, smtp)
            except Exception as exc:  # noqa: BLE001 - a bad address (UnicodeError) or a bug must not jam the outbox
                results[message.pk] = exc
                if isinstance(exc, ConnectionLost):
                    return results, batch[index + 1 :]
            else:
                results[message.pk] = None
                _note_sent(message)
        return results, []
    finally:
        if smtp is not None:
            with contextlib.suppress(OSError):  # a session the server ended: nothing left to close
                smtp.close()


def _record_batch(claimed, results: dict, untried, actor) -> dict[int, str]:
    """Record how each attempt went, in one transaction: sent; failed (retried later, then
    failed for good); or, for a message not tried, pending again as it was. Returns {id: outcome}."""
    untried_ids = {message.pk for message in untried}
    outcomes: dict[int, str] = {}
    changed = []
    with transaction.atomic():
        # Without the bodies: the outcome is all this writes, and the history rows are copied from the table.
        rows = M.objects.select_for_update().filter(pk__in=[c.pk for c in claimed]).only(*RECORD_FIELDS)
        current = {m.pk: m for m in rows.order_by("pk")}
        now = timezone.now()
        for claim in claimed:
            message = current.get(claim.pk)
            if message is None or (message.status, message.sending_since, message.attempts) != (
                M.Status.SENDING,
                claim.sending_since,
                claim.attempts,
            ):
                # The lease ran out and the sweep took it back while this attempt was slow (or it was
                # erased): the row belongs to a later attempt now, whose outcome is the one to record.
                logger.warning("Outbox message %s was taken back while being sent", claim.pk)
                outcomes[claim.pk] = "skipped"
                continue
            message.sending_since = None
            message.context = claim.context  # not read by .only(): the announcement needs it
            changed.append(message)
            if claim.pk in untried_ids:
                message.status = M.Status.PENDING
                message.attempts -= 1
                message._change_reason = "Outbox delivery: not tried, left for the next delivery"
                outcomes[claim.pk] = "requeued"
                continue
            error = results[claim.pk]
            if error is None:
                message.status = M.Status.SENT
                message.sent_at = message.sent_at or now
                message.last_error = ""
                outcomes[claim.pk] = "sent"
                continue
            message.last_error = f"{type(error).__name__}: {error}"[:2000]
            outcomes[claim.pk] = "retry"
            if message.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
                message.status = M.Status.FAILED
                logger.error("Outbox message %s failed for good: %s", message.pk, message.last_error)
            else:
                message.status = M.Status.PENDING
                message.next_attempt_at = now + backoff(message.attempts)
                logger.warning(
                    "Outbox message %s failed, retrying at %s: %s",
                    message.pk,
                    message.next_attempt_at,
                    message.last_error,
                )
        bulk_save(changed, RECORD_FIELDS, actor=actor, reason="Outbox delivery")
        _announce(changed)
    return outcomes


def _record(claimed: OutboxMessage, error: Exception | None) -> str:
    """Record one message's attempt: "sent", "retry", or "skipped" when a later attempt owns it."""
    return _record_batch([claimed], {claimed.pk: error}, [], system_user())[claimed.pk]


def outbox_deliver_batch(*, message_ids=None, limit: int = BATCH_SIZE) -> dict[int, str]:
    """Claim up to `limit` due messages (of `message_ids`, if given), send them, record how it went.

    A constant number of queries per batch, plus one small UPDATE per message the
    server accepts (`_note_sent`). Returns {message id: outcome}: "sent", "retry"
    (also when failed for good), "requeued" (not tried: the connection was lost
    first), "skipped" (taken back meanwhile); messages not due, sent, or held by
    another worker are not in it.
    """
    actor = system_user()
    batch = _claim_batch(timezone.now(), actor, message_ids=message_ids, limit=limit)
    if not batch:
        return {}
    with _quick_commits():
        results, untried = _send_batch(batch)
    return _record_batch(batch, results, untried, actor)


def outbox_deliver(*, message_id: int) -> str:
    """Send one due message: a batch of one.

    Claimed (status "sending") and committed before the SMTP or Slack exchange,
    recorded as sent after it, so two workers never both send it. A worker that
    dies inside the exchange leaves it "sending"; once its lease has passed the
    sweep sends it again (at-least-once, with the same X-Portal-Message header
    for receivers to drop the copy). Any exception of this message is this
    message's failure, retried with backoff, never the caller's.
    """
    outcome = outbox_deliver_batch(message_ids=[message_id], limit=1).get(message_id)
    if outcome is None:
        logger.info("Outbox message %s is not due, sent or being sent elsewhere", message_id)
        return "skipped"
    return outcome


def outbox_release_stale(now) -> int:
    """Take back messages left "sending" past their lease (their worker died mid-batch): those the
    server had accepted (noted by `_note_sent`) are recorded as sent, the others are sent again."""
    cutoff = now - settings.OUTBOX_SENDING_LEASE
    with transaction.atomic():
        leased = M.objects.select_for_update(skip_locked=True).filter(status=M.Status.SENDING)
        stale = list(leased.filter(sending_since__lte=cutoff)[:500])
        again = 0
        for message in stale:
            message.sending_since = None
            if message.sent_at is not None:
                message.status = M.Status.SENT
                message.last_error = ""
                message._change_reason = "Outbox: accepted by the server before its worker stopped"
            elif message.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
                # It took its worker down every time: stop, and let a person look.
                message.status = M.Status.FAILED
                message.last_error = "Interrupted while being sent on every attempt; not sent again."
            else:
                message.status = M.Status.PENDING
                message.next_attempt_at = now
                message.last_error = "Interrupted while being sent; sent again (receivers may see it twice)."
                again += 1
        if stale:
            bulk_save(
                stale,
                ["status", "sending_since", "next_attempt_at", "last_error"],
                actor=system_user(),
                reason="Outbox: sending interrupted, to be sent again",
            )
            _announce(stale)
    if stale:
        logger.warning(
            "Outbox: %s messages interrupted while being sent; %s sent again, %s had been accepted",
            len(stale),
            again,
            sum(message.status == M.Status.SENT for message in stale),
        )
    return len(stale)


def outbox_sweep(*, limit: int = 500) -> dict:
    """Deliver what is due, up to `limit` messages, batch by batch, after taking back those whose
    sender died. Returns counts by outcome.

    One message's trouble never stops the sweep; a lost SMTP connection does (the rest
    wait a minute for the next sweep, rather than each meet a server that is down)."""
    counts: dict[str, int] = {}
    released = outbox_release_stale(timezone.now())
    if released:
        counts["released"] = released
    done = 0
    while done < limit:
        try:
            outcomes = outbox_deliver_batch(limit=min(BATCH_SIZE, limit - done))
        except Exception:  # noqa: BLE001 - e.g. a database error: the rows stay due (or leased) for the next sweep
            logger.exception("Outbox batch could not be delivered")
            counts["error"] = counts.get("error", 0) + 1
            break
        for outcome in outcomes.values():
            counts[outcome] = counts.get(outcome, 0) + 1
        done += len(outcomes)
        if not outcomes or "requeued" in outcomes.values():
            break
    return counts
