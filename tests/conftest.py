import os
import time

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.db import connection, connections
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


def _close_worker_connections(**_kwargs) -> None:
    # The worker thread keeps its own connections; close them so the test database can be
    # flushed and dropped afterwards.
    connections.close_all()


@pytest.fixture
def worker(transactional_db):
    """A real Celery worker (in a thread) on the configured broker: Redis when
    CELERY_BROKER_URL points at it, as in CI; kombu's filesystem transport otherwise."""
    from config.celery import app

    app.control.purge()  # nothing left over from an earlier run
    task_postrun.connect(_close_worker_connections)
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
            yield
    finally:
        task_postrun.disconnect(_close_worker_connections)


def wait_for(predicate, timeout: float = 30) -> float:
    """Seconds until `predicate()` held; AssertionError after `timeout`."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise AssertionError("timed out")
        time.sleep(0.05)
    return time.monotonic() - started
