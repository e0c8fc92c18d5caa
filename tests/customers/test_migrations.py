"""Migrations that move data: nothing is lost on the way forward or back."""

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE_ACTIVITY = [("customers", "0013_anniversary_month_day_indexes")]
ACTIVITY = [("customers", "0014_customer_activity")]
SEEN = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()  # what the previous call applied
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def at_the_latest_state_after(transactional_db):
    yield
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


def test_last_seen_moves_to_the_activity_rows_and_back(at_the_latest_state_after):
    old = migrate(BEFORE_ACTIVITY)
    Customer = old.get_model("customers", "Customer")
    Customer.objects.create(external_id="seen", last_seen_at=SEEN)
    Customer.objects.create(external_id="never")

    new = migrate(ACTIVITY)
    activity = new.get_model("customers", "CustomerActivity").objects
    assert list(activity.values_list("customer__external_id", "last_seen_at")) == [
        ("seen", SEEN)]

    old = migrate(BEFORE_ACTIVITY)
    assert dict(old.get_model("customers", "Customer").objects.values_list(
        "external_id", "last_seen_at")) == {"seen": SEEN, "never": None}
