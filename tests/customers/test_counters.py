"""customers.counters: the atomic, expiring counters behind the rate limits."""

import pytest

from customers.counters import counter_get, counter_incr, counter_incr_get, counter_ttl


def test_counter_counts_up_from_one():
    assert [counter_incr("test:a", timeout=30) for _ in range(3)] == [1, 2, 3]
    assert counter_get("test:a") == 3


def test_an_unknown_counter_is_zero():
    assert counter_get("test:none") == 0


@pytest.mark.redis
def test_redis_counter_expires_with_its_first_count():
    counter_incr("test:b", timeout=30)
    counter_incr("test:b", timeout=5000)  # later counts leave the expiry alone

    assert 0 < counter_ttl("test:b") <= 30


def test_incr_get_counts_one_and_reads_the_other():
    counter_incr("test:other", timeout=30)
    counter_incr("test:other", timeout=30)

    assert counter_incr_get("test:c", 30, "test:other") == (1, 2)
    assert counter_incr_get("test:c", 30, "test:none") == (2, 0)
