"""A stand-in email provider for bench/dispatch.py: a Django email backend that builds each
message's MIME bytes (what the file backend writes) and, like a provider honouring
idempotency keys, records the key of every message it accepts in Redis, so duplicates are
counted exactly: accepted - distinct keys.

What it accepted is written to Redis when the connection closes (once per batch of sends)
rather than once per message: a Redis transaction per message cost ~200 us, more than the
file or locmem backends the target names cost a message, so the figures measured the stand-in
instead of the product. A worker killed mid-batch would lose its unwritten keys; the bench
kills none.

Set CAMPAIGNS_EMAIL_BACKEND=fake_provider.EmailBackend with bench/ on PYTHONPATH and
FAKE_PROVIDER_REDIS=redis://...
"""

import os

import redis
from django.core.mail.backends.base import BaseEmailBackend

KEY_HEADER = "X-Retentio-Delivery"
ACCEPTED, KEYS, BYTES = "fake-provider:accepted", "fake-provider:keys", "fake-provider:bytes"


class EmailBackend(BaseEmailBackend):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.redis = redis.Redis.from_url(os.environ["FAKE_PROVIDER_REDIS"])

        self.keys: list[str] = []
        self.size = 0

    def send_messages(self, email_messages) -> int:
        accepted = 0
        for message in email_messages:
            self.size += len(message.message().as_bytes())
            self.keys.append(message.extra_headers.get(KEY_HEADER, ""))
            accepted += 1
        return accepted

    def close(self) -> None:
        if self.keys:
            pipe = self.redis.pipeline()
            pipe.incrby(ACCEPTED, len(self.keys))
            pipe.incrby(BYTES, self.size)
            pipe.sadd(KEYS, *self.keys)
            pipe.execute()
        self.keys, self.size = [], 0


def counts(url: str) -> tuple[int, int]:
    """(messages accepted, distinct idempotency keys)."""
    client = redis.Redis.from_url(url)
    return int(client.get(ACCEPTED) or 0), client.scard(KEYS)


def reset(url: str) -> None:
    redis.Redis.from_url(url).delete(ACCEPTED, KEYS, BYTES)
