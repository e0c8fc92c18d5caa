"""Storefront API authentication: `Authorization: Bearer <key>` (keys: services/storefronts)."""

from django.db import connection, models
from rest_framework import authentication, exceptions, permissions

from customers.models import Storefront, StorefrontKey
from customers.services.storefronts import hash_key
from customers.sql import fetch_one


def _columns(model: type[models.Model], alias: str) -> list[str]:
    return [f"{alias}.{field.column}" for field in model._meta.concrete_fields]


# Every storefront request runs this; built by the ORM it cost ~0.8 ms of CPU per request,
# several times the query itself (bench/coupons.py).
KEY_SQL = (
    f"SELECT {', '.join(_columns(StorefrontKey, 'k') + _columns(Storefront, 's'))} "
    f"FROM {StorefrontKey._meta.db_table} k "
    f"JOIN {Storefront._meta.db_table} s ON s.id = k.storefront_id "
    "WHERE k.key_hash = %s AND k.revoked_at IS NULL")
KEY_WIDTH = len(StorefrontKey._meta.concrete_fields)


def storefront_key_find(key_hash: str) -> StorefrontKey | None:
    """The unrevoked key with this hash, its storefront loaded."""
    if connection.vendor != "postgresql":  # SQLite needs Django's type conversions
        return StorefrontKey.objects.select_related("storefront") \
            .filter(key_hash=key_hash, revoked_at__isnull=True).first()
    row = fetch_one("storefront_key_find", KEY_SQL, [key_hash])
    if row is None:
        return None
    key = StorefrontKey.from_db(connection.alias, None, row[:KEY_WIDTH])
    key.storefront = Storefront.from_db(connection.alias, None, row[KEY_WIDTH:])
    return key


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
        key = storefront_key_find(hash_key(raw_key))
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
