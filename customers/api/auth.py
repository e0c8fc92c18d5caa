"""Storefront API authentication: `Authorization: Bearer <key>` (keys: services/storefronts)."""

from rest_framework import authentication, exceptions, permissions

from customers.models import Storefront, StorefrontKey
from customers.services.storefronts import hash_key


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
