"""Per-key request throttling; counts live in Redis when REDIS_URL is set (customers.counters).

Fixed windows, each counted with one atomic increment: DRF's SimpleRateThrottle keeps a
sliding window as a list of every request's timestamp, read, unpickled, re-pickled and written
back on every request, which for one key at 400 requests/s is a 24,000-item list per request
(bench/coupons.py measured ~2 ms of CPU per request at 1,700 items and growing). A fixed
window lets up to twice the rate through across a window boundary, which is fine for a guard
against runaway clients.
"""

import math

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from customers.counters import counter_incr


class StorefrontKeyThrottle(SimpleRateThrottle):
    scope = "storefront"

    def get_rate(self):
        # Read at request time so the rate follows settings (and override_settings in tests).
        return settings.API_THROTTLE_RATE

    def get_cache_key(self, request, view):
        key = getattr(request, "auth", None)
        ident = f"key-{key.pk}" if key is not None and hasattr(key, "key_hash") else (
            f"ip-{self.get_ident(request)}")
        return f"throttle:{self.scope}:{ident}"

    def window_key(self, request, view) -> str:
        """This window's counter; sets num_requests, duration and seconds_left."""
        self.num_requests, self.duration = self.parse_rate(self.get_rate())
        now = self.timer()
        window = int(now // self.duration)
        self.seconds_left = (window + 1) * self.duration - now
        return f"{self.get_cache_key(request, view)}:{window}"

    def allow_request(self, request, view) -> bool:
        count = counter_incr(self.window_key(request, view), timeout=self.duration + 1)
        return count <= self.num_requests

    def wait(self) -> float:
        return math.ceil(self.seconds_left)
