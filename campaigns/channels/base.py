"""What a channel backend is handed and what it answers: one small interface for every
channel (campaigns/channels/__init__.py registers them)."""

import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Any


@dataclasses.dataclass(slots=True)
class Outgoing:
    """One rendered message, ready for its channel. `delivery_id` is the idempotency key."""

    delivery_id: int
    address: str  # email address, phone number or webhook URL; "" for the inbox
    subject: str = ""
    body: str = ""  # email: HTML; SMS and inbox: text; webhook: JSON
    text: str = ""  # email: the plain-text alternative
    unsubscribe_url: str = ""
    secret: str = ""  # webhook: the signing secret


@dataclasses.dataclass(frozen=True, slots=True)
class Result:
    """What became of one message. `retry`: a failure worth trying again later (nothing was
    delivered). `attempted` False: not tried at all (the batch ran out of time)."""

    delivery_id: int
    ok: bool
    error: str = ""
    retry: bool = False
    attempted: bool = True

    @classmethod
    def sent(cls, delivery_id: int) -> "Result":
        return cls(delivery_id, ok=True)

    @classmethod
    def failed(cls, delivery_id: int, error: str, *, retry: bool = False) -> "Result":
        return cls(delivery_id, ok=False, error=error[:2000], retry=retry)

    @classmethod
    def untried(cls, delivery_id: int) -> "Result":
        return cls(delivery_id, ok=False, retry=True, attempted=False)


# A sender takes a batch and a deadline (time.monotonic()) after which it stops trying and
# answers the rest with Result.untried, so a batch never outlives its lease.
Sender = Callable[[Sequence[Outgoing], float], list[Result]]


def each(messages: Sequence[Outgoing], deadline: float,
         send_one: Callable[[Outgoing], Any]) -> list[Result]:
    """Send one by one with `send_one` (which raises on failure), within the deadline."""
    results = []
    for message in messages:
        if time.monotonic() > deadline:
            results.append(Result.untried(message.delivery_id))
            continue
        try:
            send_one(message)
        except Exception as exc:  # the provider's own error classes vary
            results.append(Result.failed(message.delivery_id, f"{type(exc).__name__}: {exc}"))
        else:
            results.append(Result.sent(message.delivery_id))
    return results


def all_failed(messages: Sequence[Outgoing], exc: Exception) -> list[Result]:
    """The connection could not be opened: nothing was sent, so everything may be retried."""
    error = f"{type(exc).__name__}: {exc}"
    return [Result.failed(m.delivery_id, error, retry=True) for m in messages]
