"""Events of the outbox, for the apps built on it (notifications imports none of them).

- `message_settled(sender=OutboxMessage, message)`: a message that carries a `context`
  was recorded as sent (`message.status == "sent"`) or as failed for good ("failed").
  Sent inside the transaction that records the outcome, each receiver call in a
  savepoint of its own: a receiver's failure is logged and never undoes the record
  (which would send the message again). Receivers are connected in their app's
  `AppConfig.ready()`.
"""

from django.dispatch import Signal

message_settled = Signal()
