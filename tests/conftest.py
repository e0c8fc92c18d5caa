import os

import pytest
from django.db import connection
from rest_framework.test import APIClient

from tests.customers.factories import StorefrontFactory


def pytest_collection_modifyitems(config, items):
    on_postgres = "postgres" in os.environ.get("DATABASE_URL", "")
    has_redis = bool(os.environ.get("REDIS_URL"))
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL (DATABASE_URL)"))
        if "redis" in item.keywords and not has_redis:
            item.add_marker(pytest.mark.skip(reason="needs Redis (REDIS_URL)"))


@pytest.fixture
def db_vendor(db) -> str:
    return connection.vendor


@pytest.fixture
def storefront(db):
    return StorefrontFactory()


@pytest.fixture
def storefront_key(storefront) -> str:
    from customers.services.storefronts import storefront_key_create

    _key, raw_key = storefront_key_create(storefront=storefront)
    return raw_key


@pytest.fixture
def api(storefront_key) -> APIClient:
    """An API client authenticated as a storefront."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {storefront_key}")
    return client


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    cache.clear()
