"""The outbox: every email and Slack message the portal sends.

A notice is queued by writing an `OutboxMessage` row inside the transaction that
caused it, under a unique key, so the same notice can never be queued twice.
Delivery marks the row "sending" in a committed step, talks to SMTP or Slack,
then records the outcome: sent, or pending again with a later `next_attempt_at`
(failed after OUTBOX_MAX_ATTEMPTS). The periodic sweep delivers whatever is due,
including rows whose publish to the broker failed, and sends again a row whose
worker died mid-send (at-least-once across that one crash; the copy carries the
same X-Portal-Message and Message-ID). Nothing is dropped and nothing blocks the
web request.
"""

import hashlib
import json
import logging
import urllib.request
from datetime import UTC, timedelta
from email.utils import parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from audit.actors import acting_as, system_user
from portal.celery import publish

from .models import OutboxMessage

logger = logging.getLogger(__name__)

M = OutboxMessage
DELIVER_TASK = "notifications.tasks.deliver_outbox_message"


class DeliveryError(Exception):
    """A transient failure to hand a message to SMTP or Slack."""


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
    *, key: str, channel: str, body_text: str, subject: str = "", body_html: str = "", recipients=()
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
        },
    )
    if created:
        transaction.on_commit(lambda: publish(DELIVER_TASK, message.pk))
    return message, created


def email_enqueue(*, key: str, template: str, context: dict, recipients) -> tuple[OutboxMessage, bool] | None:
    """Queue one email rendered from `templates/emails/<template>_*`; None if nobody to send to."""
    recipients = sorted({address for address in recipients if address})
    if not recipients:
        logger.info("No recipients for %s, nothing queued", key)
        return None
    subject, text, html = render_email(template, context)
    return outbox_enqueue(
        key=key, channel=M.Channel.EMAIL, subject=subject, body_text=text, body_html=html, recipients=recipients
    )


def message_id(key: str) -> str:
    """The same Message-ID for every attempt at one message, so a receiver that
    deduplicates on it drops a copy sent again after a crash."""
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "portal.invalid"
    return f"<outbox.{hashlib.sha256(key.encode()).hexdigest()[:40]}@{domain}>"


def _send_email(message: OutboxMessage) -> None:
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=message.body_text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=message.recipients,
        headers={"X-Portal-Message": message.key, "Message-ID": message_id(message.key)},
    )
    if message.body_html:
        email.attach_alternative(message.body_html, "text/html")
    try:
        email.send()
    except OSError as exc:  # smtplib.SMTPException is an OSError
        raise DeliveryError(f"SMTP: {exc}") from exc
    except (UnicodeError, ValueError) as exc:  # an address SMTP cannot encode (a@。.com)
        raise DeliveryError(f"Address cannot be sent to: {exc}") from exc


def _send_slack(message: OutboxMessage) -> None:
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


SENDERS = {M.Channel.EMAIL: _send_email, M.Channel.SLACK: _send_slack}


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, … minutes between attempts, capped at an hour."""
    return timedelta(minutes=min(2 ** (attempts - 1), 60))


def _claim(message_id: int, now) -> OutboxMessage | None:
    """Mark a due message as being sent, in its own committed transaction, before
    anything is handed to SMTP or Slack; None if it is not due, or another
    worker has it."""
    with transaction.atomic(), acting_as(system_user(), "Outbox delivery: sending"):
        message = (
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(pk=message_id, status=M.Status.PENDING, next_attempt_at__lte=now)
            .first()
        )
        if message is None:
            return None
        message.status = M.Status.SENDING
        message.sending_since = now
        message.attempts += 1
        message.save()
        return message


def _record(claimed: OutboxMessage, error: Exception | None) -> str:
    """Record how the attempt went: sent, or failed (retried later, then failed for good)."""
    with transaction.atomic(), acting_as(system_user(), "Outbox delivery"):
        message = OutboxMessage.objects.select_for_update().get(pk=claimed.pk)
        if (message.status, message.sending_since, message.attempts) != (
            M.Status.SENDING,
            claimed.sending_since,
            claimed.attempts,
        ):
            # The lease ran out and the sweep took it back while this attempt was slow: the row
            # belongs to a later attempt now, whose outcome is the one to record.
            logger.warning("Outbox message %s was taken back while being sent", message.pk)
            return "skipped"
        now = timezone.now()
        message.sending_since = None
        if error is None:
            message.status = M.Status.SENT
            message.sent_at = now
            message.last_error = ""
            message.save()
            return "sent"
        message.last_error = f"{type(error).__name__}: {error}"[:2000]
        if message.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
            message.status = M.Status.FAILED
            logger.error("Outbox message %s failed for good: %s", message.pk, message.last_error)
        else:
            message.status = M.Status.PENDING
            message.next_attempt_at = now + backoff(message.attempts)
            logger.warning(
                "Outbox message %s failed, retrying at %s: %s", message.pk, message.next_attempt_at, message.last_error
            )
        message.save()
        return "retry"


def outbox_deliver(*, message_id: int) -> str:
    """Send one due message.

    Claimed (status "sending") and committed before the SMTP or Slack exchange,
    recorded as sent after it, so two workers never both send it. A worker that
    dies inside the exchange leaves it "sending"; once its lease has passed the
    sweep sends it again (at-least-once, with the same X-Portal-Message header
    for receivers to drop the copy). Any exception of this message is this
    message's failure, retried with backoff, never the caller's.
    """
    message = _claim(message_id, timezone.now())
    if message is None:
        logger.info("Outbox message %s is not due, sent or being sent elsewhere", message_id)
        return "skipped"
    try:
        SENDERS[message.channel](message)
    except Exception as exc:  # noqa: BLE001 - a bad address (UnicodeError) or a bug must not jam the outbox
        return _record(message, exc)
    return _record(message, None)


def outbox_release_stale(now) -> int:
    """Take back messages left "sending" past their lease (their worker died mid-send) so they are sent again."""
    cutoff = now - settings.OUTBOX_SENDING_LEASE
    released = 0
    with transaction.atomic(), acting_as(system_user(), "Outbox: sending interrupted, to be sent again"):
        stale = OutboxMessage.objects.select_for_update(skip_locked=True).filter(
            status=M.Status.SENDING, sending_since__lte=cutoff
        )
        for message in stale[:500]:
            message.sending_since = None
            if message.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
                # It took its worker down every time: stop, and let a person look.
                message.status = M.Status.FAILED
                message.last_error = "Interrupted while being sent on every attempt; not sent again."
            else:
                message.status = M.Status.PENDING
                message.next_attempt_at = now
                message.last_error = "Interrupted while being sent; sent again (receivers may see it twice)."
            message.save()
            released += 1
    if released:
        logger.warning("Outbox: %s messages interrupted while being sent are sent again", released)
    return released


def outbox_due_ids(now, limit: int = 500) -> list[int]:
    return list(
        OutboxMessage.objects.filter(status=M.Status.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


def outbox_sweep(*, limit: int = 500) -> dict:
    """Deliver every due message, after taking back those whose sender died. Returns counts by outcome.

    One message's trouble never stops the sweep: it is logged and the next one is sent."""
    counts: dict[str, int] = {}
    now = timezone.now()
    released = outbox_release_stale(now)
    if released:
        counts["released"] = released
    for message_id in outbox_due_ids(now, limit):
        try:
            outcome = outbox_deliver(message_id=message_id)
        except Exception:  # noqa: BLE001 - e.g. a database error on one row
            logger.exception("Outbox message %s could not be delivered", message_id)
            outcome = "error"
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts
