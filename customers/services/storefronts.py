"""Storefront API keys: random, stored as SHA-256, shown once at creation."""

import hashlib
import secrets

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from customers.models import Storefront, StorefrontKey

KEY_PREFIX = "sk_"


def hash_key(raw_key: str) -> str:
    # Keys carry 256 random bits, so a fast unsalted hash is enough to make a leak useless.
    return hashlib.sha256(raw_key.encode()).hexdigest()


@transaction.atomic
def storefront_key_create(*, storefront: Storefront) -> tuple[StorefrontKey, str]:
    """Create a key; the raw key is returned once and never stored."""
    raw_key = KEY_PREFIX + secrets.token_urlsafe(32)
    key = StorefrontKey.objects.create(
        storefront=storefront, prefix=raw_key[:10], key_hash=hash_key(raw_key)
    )
    return key, raw_key


def storefront_keys_revoke(*, keys: QuerySet[StorefrontKey]) -> int:
    """Revoke the still-active keys among `keys`; returns how many were revoked."""
    return keys.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
