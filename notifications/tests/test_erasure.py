"""Forgetting an address: gone from the outbox's messages and their history, and nothing unsent goes to it."""

import pytest
from django.core import mail
from django.db import connection

from notifications import services as outbox
from notifications.erasure import ERASED, outbox_forget
from notifications.models import OutboxMessage

M = OutboxMessage
FAN = "fan@example.com"
PREFIXES = ("status-confirm:", "status-update:")


def message(key, *, recipients=(FAN,), status=M.Status.PENDING):
    created, _ = outbox.outbox_enqueue(
        key=key, channel=M.Channel.EMAIL, subject="Status", body_text="Body", recipients=recipients
    )
    if status != M.Status.PENDING:
        created.status = status
        created.save()
    return created


def recipients_in_history(address):
    return [row.key for row in M.history.all() if address in row.recipients]


def test_unsent_messages_to_the_address_fail_and_lose_it(db):
    pending = message("status-update:1:7")
    failed = message("status-confirm:7:x:2026-11-28", status=M.Status.FAILED)
    sending = message("status-update:2:7", status=M.Status.SENDING)

    assert outbox_forget(key_prefixes=PREFIXES, address=FAN) == 3

    for row in (pending, failed, sending):
        row.refresh_from_db()
        assert (row.recipients, row.status, row.last_error) == ([], M.Status.FAILED, ERASED)
        assert row.sending_since is None


def test_sent_messages_keep_their_status_and_lose_the_address(db):
    sent = message("status-update:1:7", status=M.Status.SENT)

    outbox_forget(key_prefixes=PREFIXES, address=FAN)

    sent.refresh_from_db()
    assert (sent.recipients, sent.status, sent.last_error) == ([], M.Status.SENT, "")


def test_other_addresses_and_other_notices_are_untouched(db):
    shared = message("status-update:1:7", recipients=(FAN, "other@example.com"))
    staff_notice = message("incident-declared:3:email")  # the same person, as staff: not the status page's to erase
    someone_else = message("status-update:1:8", recipients=("other@example.com",))
    near_miss = message("status-update:1:9", recipients=("xfan@example.com",))

    assert outbox_forget(key_prefixes=PREFIXES, address=FAN) == 1

    shared.refresh_from_db()
    assert (shared.recipients, shared.status) == (["other@example.com"], M.Status.PENDING)  # still goes to the other
    for row, recipients in (
        (staff_notice, [FAN]),
        (someone_else, ["other@example.com"]),
        (near_miss, ["xfan@example.com"]),
    ):
        row.refresh_from_db()
        assert (row.recipients, row.status) == (recipients, M.Status.PENDING)


def test_history_rows_lose_the_address_and_none_is_written(db):
    message("status-update:1:7", status=M.Status.SENT)  # a history row when created, one when sent
    message("status-confirm:7:x:2026-11-28")
    message("incident-declared:3:email")
    history_rows = M.history.count()

    outbox_forget(key_prefixes=PREFIXES, address=FAN)

    assert recipients_in_history(FAN) == ["incident-declared:3:email"]
    assert M.history.count() == history_rows  # erasure writes no history of its own: it would hold the address


def test_a_forgotten_message_is_never_delivered(db):
    forgotten = message("status-update:1:7")
    outbox_forget(key_prefixes=PREFIXES, address=FAN)

    assert outbox.outbox_deliver(message_id=forgotten.pk) == "skipped"
    assert outbox.outbox_sweep() == {}
    assert mail.outbox == []


def test_a_message_forgotten_while_being_sent_stays_failed(db, monkeypatch):
    being_sent = message("status-update:1:7")

    def unsubscribed_meanwhile(row, smtp):
        outbox_forget(key_prefixes=PREFIXES, address=FAN)

    monkeypatch.setitem(outbox.SENDERS, M.Channel.EMAIL, unsubscribed_meanwhile)

    assert outbox.outbox_deliver(message_id=being_sent.pk) == "skipped"  # its sender finds it taken away
    being_sent.refresh_from_db()
    assert (being_sent.status, being_sent.recipients, being_sent.sent_at) == (M.Status.FAILED, [], None)


def test_without_json_containment_the_same_messages_are_erased(db, monkeypatch):
    """SQLite (make run) has no JSON `contains`: the rows are then filtered in Python, with the same outcome."""
    pending = message("status-update:1:7")
    shared = message("status-update:1:8", recipients=(FAN, "other@example.com"), status=M.Status.SENT)
    near_miss = message("status-update:1:9", recipients=("xfan@example.com",))
    monkeypatch.setattr(connection.features, "supports_json_field_contains", False)

    assert outbox_forget(key_prefixes=PREFIXES, address=FAN) == 2

    for row in (pending, shared, near_miss):
        row.refresh_from_db()
    assert (pending.recipients, pending.status) == ([], M.Status.FAILED)
    assert (shared.recipients, shared.status) == (["other@example.com"], M.Status.SENT)
    assert near_miss.recipients == ["xfan@example.com"]
    assert recipients_in_history(FAN) == []


@pytest.mark.parametrize("prefixes", [(), ("",), [""]])
def test_forgetting_needs_key_prefixes(db, prefixes):
    staff_notice = message("incident-declared:3:email")

    with pytest.raises(ValueError, match="needs key prefixes"):
        outbox_forget(key_prefixes=prefixes, address=FAN)

    staff_notice.refresh_from_db()
    assert staff_notice.recipients == [FAN]
