"""Coupon guessing: unknown codes answered per storefront key, counted in Redis when REDIS_URL
is set (customers.counters: one atomic INCR on a key that expires with its window).

Windows are fixed (aligned to multiples of COUPON_GUESS_WINDOW seconds since the epoch), so a
key's count and the Retry-After it is told need no second key: once a key has had
COUPON_GUESS_LIMIT unknown codes in a window, validate and redeem answer 429 until that window
ends, whatever code it sends.
"""

import math
import time

from django.conf import settings

from customers.api.throttling import StorefrontKeyThrottle
from customers.counters import counter_incr, counter_incr_get


def _window(now: float) -> tuple[int, float]:
    """The window's number and the seconds left in it."""
    size = settings.COUPON_GUESS_WINDOW
    number = int(now // size)
    return number, (number + 1) * size - now


def _cache_key(storefront_key_id: int, number: int) -> str:
    return f"coupons:guesses:{storefront_key_id}:{number}"


def coupon_guess_record(storefront_key_id: int, now: float | None = None) -> int:
    """Count one unknown code for this key; returns the count in the current window."""
    number, left = _window(time.time() if now is None else now)
    return counter_incr(_cache_key(storefront_key_id, number), timeout=math.ceil(left) + 1)


class CouponThrottle(StorefrontKeyThrottle):
    """The storefront key's request rate, and 429 (with Retry-After) for a key that sent too
    many unknown codes: both read in one Redis round trip."""

    def allow_request(self, request, view) -> bool:
        key = getattr(request, "auth", None)
        if key is None:
            return super().allow_request(request, view)
        number, guess_left = _window(time.time())
        count, guesses = counter_incr_get(self.window_key(request, view), self.duration + 1,
                                          _cache_key(key.pk, number))
        if guesses >= settings.COUPON_GUESS_LIMIT:
            self.seconds_left = guess_left
            return False
        return count <= self.num_requests
