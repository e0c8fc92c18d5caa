"""Atomic counters that expire, for rate limits: in Redis when REDIS_URL is set, one round
trip each, else in the default cache (the embedded setup's per-process memory).

Not through Django's Redis cache backend: it builds a new redis-py client, with its ~170
response callbacks, for every operation (~0.2 ms of CPU each, bench/coupons.py).
"""

import functools

import redis
from django.conf import settings
from django.core.cache import cache

PREFIX = "retentio:counter:"
# INCR, and set the expiry with the first count only, in one round trip.
_INCR = "local n = redis.call('INCR', KEYS[1]) if n == 1 then " \
        "redis.call('EXPIRE', KEYS[1], ARGV[1]) end return n"


# The same, and read another counter, in one round trip.
_INCR_GET = _INCR.replace("return n", "return {n, tonumber(redis.call('GET', KEYS[2]) or '0')}")


@functools.cache
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)  # thread-safe: it draws connections from its pool


def _client() -> redis.Redis | None:
    return _redis(settings.REDIS_URL) if settings.REDIS_URL else None


def counter_incr(key: str, timeout: int) -> int:
    """Add one to the counter `key`, which expires `timeout` seconds after its first count;
    returns the new count."""
    client = _client()
    if client is not None:
        return int(client.eval(_INCR, 1, PREFIX + key, timeout))
    key = PREFIX + key
    if cache.add(key, 1, timeout=timeout):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between the two calls: the first of a new period
        cache.add(key, 1, timeout=timeout)
        return 1


def counter_incr_get(key: str, timeout: int, other: str) -> tuple[int, int]:
    """counter_incr(key, timeout) and counter_get(other), in one Redis round trip."""
    client = _client()
    if client is not None:
        count, other_count = client.eval(_INCR_GET, 2, PREFIX + key, PREFIX + other, timeout)
        return int(count), int(other_count)
    return counter_incr(key, timeout), counter_get(other)


def counter_get(key: str) -> int:
    client = _client()
    if client is not None:
        return int(client.get(PREFIX + key) or 0)
    return int(cache.get(PREFIX + key) or 0)


def counter_ttl(key: str) -> int | None:
    """Seconds the counter has left (None: no such counter, or no expiry)."""
    client = _client()
    if client is None:
        return None
    ttl = client.ttl(PREFIX + key)
    return ttl if ttl >= 0 else None
