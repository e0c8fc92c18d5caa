"""Storefront API keys: `Authorization: Bearer <key>`. Keys are random, stored as SHA-256."""

import hashlib
import secrets

from django.db import transaction
from django.utils import timezone
from rest_framework import authentication, exceptions, permissions

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


class StorefrontKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization header must be 'Bearer <key>'.")
        try:
            raw_key = header[1].decode()
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed("The API key is not valid.") from exc
        key = (
            StorefrontKey.objects.select_related("storefront")
            .filter(key_hash=hash_key(raw_key), revoked_at__isnull=True)
            .first()
        )
        if key is None:
            raise exceptions.AuthenticationFailed("The API key is not valid or was revoked.")
        return (None, key)

    def authenticate_header(self, request):
        return self.keyword


class IsStorefront(permissions.BasePermission):
    """Only requests carrying a valid storefront key."""

    def has_permission(self, request, view):
        return isinstance(request.auth, StorefrontKey)


def request_storefront(request) -> Storefront:
    return request.auth.storefront


def revoke(key: StorefrontKey) -> None:
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
