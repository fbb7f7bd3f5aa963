"""The local auth plugin's per-address throttle of failed logins."""

from __future__ import annotations

from nubis.plugins.api_auth.local.throttle import AddressThrottle


def test_the_address_throttle_counts_failures_in_a_sliding_window() -> None:
    throttle = AddressThrottle(max_addresses=2)
    assert throttle.retry_after("10.0.0.1", 2, 60) is None
    throttle.failed("10.0.0.1", 2)
    assert throttle.retry_after("10.0.0.1", 2, 60) is None
    throttle.failed("10.0.0.1", 2)
    wait = throttle.retry_after("10.0.0.1", 2, 60)
    assert wait is not None and 59 < wait <= 60
    assert throttle.retry_after("10.0.0.1", 2, 0.000001) is None  # outside the window
    assert throttle.retry_after("10.0.0.2", 2, 60) is None
    throttle.failed("10.0.0.2", 2)
    throttle.failed("10.0.0.3", 2)  # the least recently failing address is forgotten
    assert throttle.retry_after("10.0.0.1", 1, 60) is None
    assert throttle.retry_after("10.0.0.3", 1, 60) is not None
    assert throttle.retry_after("10.0.0.3", 0, 60) is None  # 0 disables it
