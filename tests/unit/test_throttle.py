"""Login throttling with plain times: per address, per address and username, the global ceiling."""

from __future__ import annotations

from veggiecron.throttle import AddressThrottle, LoginThrottle, client_key


def test_failures_for_a_name_slow_the_address_they_come_from_not_the_name() -> None:
    throttle: LoginThrottle = AddressThrottle(per_address_and_user=3, per_address=100, global_ceiling=1000, window=60)
    for t in (0, 1, 2):
        assert throttle.retry_after("alice", "10.0.0.1", t) is None
        throttle.failed("alice", "10.0.0.1", t)
    assert throttle.retry_after("alice", "10.0.0.1", 3) == 57
    assert throttle.retry_after("alice", "10.0.0.9", 3) is None  # her own login, from elsewhere
    assert throttle.retry_after("bob", "10.0.0.1", 3) is None  # the address may still try other names
    assert throttle.retry_after("alice", "10.0.0.1", 60.5) is None  # the first failure left the window


def test_an_address_guessing_many_usernames_is_slowed() -> None:
    throttle = AddressThrottle(per_address_and_user=100, per_address=5, global_ceiling=1000, window=60)
    for i in range(5):
        throttle.failed(f"user{i}", "10.0.0.1", float(i))
    assert throttle.retry_after("someone", "10.0.0.1", 5) == 55
    assert throttle.retry_after("someone", "10.0.0.2", 5) is None


def test_success_clears_the_address_and_name_but_not_the_address() -> None:
    throttle = AddressThrottle(per_address_and_user=2, per_address=3, global_ceiling=1000, window=60)
    throttle.failed("alice", "a", 0)
    throttle.succeeded("alice", "a", 0.5)
    throttle.failed("alice", "a", 1)
    assert throttle.retry_after("alice", "a", 2) is None
    throttle.failed("carol", "a", 2)
    assert throttle.retry_after("dave", "a", 3) is not None


def test_above_the_global_ceiling_addresses_that_failed_wait_and_clean_ones_do_not() -> None:
    throttle = AddressThrottle(per_address_and_user=100, per_address=100, global_ceiling=4, window=60)
    for i in range(4):  # spraying: one guess from each of four addresses
        throttle.failed(f"user{i}", f"10.0.0.{i}", 10.0)
    assert throttle.retry_after("anyone", "10.0.0.0", 11) == 59  # until its failure leaves the window
    assert throttle.retry_after("alice", "10.9.9.9", 11) is None  # an address without failures
    assert throttle.retry_after("anyone", "10.0.0.0", 71) is None  # the flood has passed


def test_an_ipv6_client_is_counted_by_its_slash_64() -> None:
    assert client_key("2001:db8::1") == client_key("2001:db8::ffff:1") == "2001:db8::/64"
    assert client_key("::ffff:10.0.0.1") == "10.0.0.1"
    throttle = AddressThrottle(per_address_and_user=100, per_address=2, global_ceiling=1000, window=60)
    throttle.failed("a", "2001:db8::1", 0)
    throttle.failed("b", "2001:db8::2", 0)
    assert throttle.retry_after("c", "2001:db8::3", 1) is not None
    assert throttle.retry_after("c", "2001:db8:0:1::3", 1) is None


def test_memory_stays_bounded() -> None:
    throttle = AddressThrottle(per_address_and_user=10, per_address=10, global_ceiling=10**9, window=60)
    throttle.MAX_KEYS = 100
    for i in range(1000):
        throttle.failed(f"user{i}", f"10.0.{i // 256}.{i % 256}", 0)
    assert len(throttle._failures) <= 100
