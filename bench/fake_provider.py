"""A stand-in email provider for bench/dispatch.py: a Django email backend that builds each
message's MIME bytes (what the file backend writes) and, like a provider honouring
idempotency keys, records the key of every message it accepts in Redis, so duplicates are
counted exactly: accepted - distinct keys.

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

    def send_messages(self, email_messages) -> int:
        keys, size = [], 0
        for message in email_messages:
            size += len(message.message().as_bytes())
            keys.append(message.extra_headers.get(KEY_HEADER, ""))
        pipe = self.redis.pipeline()
        pipe.incrby(ACCEPTED, len(keys))
        pipe.incrby(BYTES, size)
        if keys:
            pipe.sadd(KEYS, *keys)
        pipe.execute()
        return len(keys)


def counts(url: str) -> tuple[int, int]:
    """(messages accepted, distinct idempotency keys)."""
    client = redis.Redis.from_url(url)
    return int(client.get(ACCEPTED) or 0), client.scard(KEYS)


def reset(url: str) -> None:
    redis.Redis.from_url(url).delete(ACCEPTED, KEYS, BYTES)
