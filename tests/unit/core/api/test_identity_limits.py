"""The identity service's password hashing bound and lockout rule, without a server."""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from nubis.core.api import identity
from nubis.core.api.exception import ServiceBusy


@pytest.fixture
def one_slot() -> Iterator[None]:
    identity.configure_hashing(1, 0.1)
    yield
    identity.configure_hashing(identity.DEFAULT_HASH_CONCURRENCY, identity.DEFAULT_HASH_WAIT)


def test_a_busy_hasher_refuses_with_retry_after(one_slot: None) -> None:
    with identity.hashing_slot():
        with pytest.raises(ServiceBusy) as busy:
            identity.verify_password(identity._DUMMY_HASH, "x")
    assert busy.value.code == 503 and busy.value.retry_after == 1
    assert "password_hash_concurrency" in busy.value.message
    assert identity.verify_password(identity.hash_password("pw"), "pw")


def test_hashing_concurrency_is_bounded(one_slot: None) -> None:
    identity.configure_hashing(2, 30)
    running = peak = 0
    lock = threading.Lock()

    def work() -> None:
        nonlocal running, peak
        with identity.hashing_slot():
            with lock:
                running += 1
                peak = max(peak, running)
            time.sleep(0.02)
            with lock:
                running -= 1

    threads = [threading.Thread(target=work) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert 1 <= peak <= 2


def _user(count: int, last: datetime.datetime | None) -> SimpleNamespace:
    return SimpleNamespace(id="u", name="u", failed_auth_count=count, failed_auth_at=last)


def test_lockout_rule_follows_keystone() -> None:
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    store = identity.IdentityStore.__new__(identity.IdentityStore)
    store.lockout = identity.LockoutPolicy(failure_attempts=3, duration=60)
    assert not store.is_locked(_user(2, now))
    assert store.is_locked(_user(3, now))
    store.lockout = identity.LockoutPolicy(failure_attempts=3, duration=0)
    assert store.is_locked(_user(3, now - datetime.timedelta(days=30)))  # until unlocked
    store.lockout = identity.LockoutPolicy(failure_attempts=0, duration=60)
    assert not store.is_locked(_user(100, now))  # disabled
