"""Login throttling with plain times: per username, per address, the window, and success."""

from __future__ import annotations

from veggiecron.throttle import LoginThrottle


def test_locks_a_username_after_its_failures_until_the_window_passes() -> None:
    throttle = LoginThrottle(per_user=3, per_address=100, window=60)
    for t in (0, 1, 2):
        assert throttle.retry_after("alice", "10.0.0.1", t) is None
        throttle.failed("alice", "10.0.0.1", t)
    assert throttle.retry_after("alice", "10.0.0.9", 3) == 57  # from another address too
    assert throttle.retry_after("bob", "10.0.0.9", 3) is None
    assert throttle.retry_after("alice", "10.0.0.9", 60.5) is None  # the first failure left the window


def test_locks_an_address_that_guesses_many_usernames() -> None:
    throttle = LoginThrottle(per_user=100, per_address=5, window=60)
    for i in range(5):
        throttle.failed(f"user{i}", "10.0.0.1", float(i))
    assert throttle.retry_after("someone", "10.0.0.1", 5) == 55
    assert throttle.retry_after("someone", "10.0.0.2", 5) is None


def test_success_clears_the_username_count_but_not_the_address() -> None:
    throttle = LoginThrottle(per_user=2, per_address=3, window=60)
    throttle.failed("alice", "a", 0)
    throttle.succeeded("alice")
    throttle.failed("alice", "a", 1)
    assert throttle.retry_after("alice", "b", 2) is None
    throttle.failed("carol", "a", 2)
    assert throttle.retry_after("dave", "a", 3) is not None
