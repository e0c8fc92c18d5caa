"""Webhooks: a JSON POST to the endpoint, signed so the receiver can trust it.

    X-Retentio-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>
    X-Retentio-Delivery: <delivery id>     (also Idempotency-Key: the same on every retry)

A receiver recomputes the HMAC over the raw body and refuses a stale `t` (replays). A 2xx
answer is success; a timeout, a connection error, a 5xx, 408 or 429 is tried again later
with exponential backoff (campaigns/services/dispatch.py); any other answer fails at once.
"""

import hashlib
import hmac
import time
from collections.abc import Sequence

import requests
from django.conf import settings

from campaigns.channels.base import Outgoing, Result

RETRY_STATUS = frozenset({408, 425, 429})
USER_AGENT = "Retentio-Webhooks/1"


def signature(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def _post(session: requests.Session, message: Outgoing) -> Result:
    body = message.body.encode()
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
               "X-Retentio-Delivery": str(message.delivery_id),
               "Idempotency-Key": str(message.delivery_id),
               "X-Retentio-Signature": signature(message.secret, body, int(time.time()))}
    try:
        response = session.post(message.address, data=body, headers=headers,
                                timeout=settings.CAMPAIGNS_WEBHOOK_TIMEOUT,
                                allow_redirects=False)
    except requests.RequestException as exc:
        return Result.failed(message.delivery_id, f"{type(exc).__name__}: {exc}", retry=True)
    if 200 <= response.status_code < 300:
        return Result.sent(message.delivery_id)
    error = f"HTTP {response.status_code}: {response.text[:500]}"
    retry = response.status_code >= 500 or response.status_code in RETRY_STATUS
    return Result.failed(message.delivery_id, error, retry=retry)


def send_webhooks(messages: Sequence[Outgoing], deadline: float) -> list[Result]:
    results = []
    with requests.Session() as session:  # keeps connections to the same endpoint open
        for message in messages:
            if time.monotonic() > deadline:
                results.append(Result.untried(message.delivery_id))
            else:
                results.append(_post(session, message))
    return results
