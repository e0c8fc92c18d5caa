"""Per-key request throttling; counts live in the default cache (Redis when REDIS_URL is set)."""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


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
