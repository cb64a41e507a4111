"""Staff credentials and rate limits as units: scrypt hashes, sessions on a fixed clock, token buckets."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from slotlinks.clock import FixedClock
from slotlinks.errors import InvalidInput, NotFound
from slotlinks.provider.staff.auth import (
    delete_staff_user,
    hash_password,
    put_staff_user,
    session_user,
    sign_in,
    sign_out,
    verify_password,
)
from slotlinks.provider.store import tables as t
from slotlinks.provider.store.store import open_store
from slotlinks.web.ratelimit import Backoff, RateLimiter, client_key
from tests.conftest import NOW

PASSWORD = "correct horse battery"


def test_hash_is_scrypt_with_its_parameters_and_salt() -> None:
    stored = hash_password(PASSWORD)
    scheme, n, r, p, salt, key = stored.split("$")
    assert (scheme, n, r, p) == ("scrypt", str(2**14), "8", "1")
    assert len(salt) == 22
    assert len(key) == 43
    assert verify_password(PASSWORD, stored)
    assert not verify_password(PASSWORD + "!", stored)
    assert hash_password(PASSWORD) != stored


@pytest.mark.parametrize(
    "stored",
    ["", "plain", "scrypt$16384$8$1$salt", "bcrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$" + "A" * 43, "scrypt$2$8$1$AA$AA"],
)
def test_malformed_or_foreign_hashes_never_match(stored: str) -> None:
    assert not verify_password(PASSWORD, stored)


def test_accounts_and_sessions(db_url: str) -> None:
    clock = FixedClock(NOW)
    store = open_store(db_url, clock=clock)
    try:
        put_staff_user(store=store, clock=clock, username="Alice", password=PASSWORD)
        put_staff_user(store=store, clock=clock, username="bob", password=PASSWORD)
        with store.read() as conn:
            hashes = {r[0]: r[1] for r in conn.execute(select(t.staff_user.c.username, t.staff_user.c.password_hash))}
        assert set(hashes) == {"alice", "bob"}  # usernames are case-insensitive
        assert hashes["alice"] != hashes["bob"], "the same password must hash differently (salt)"
        assert all(h.startswith("scrypt$16384$8$1$") for h in hashes.values())
        with pytest.raises(InvalidInput):
            put_staff_user(store=store, clock=clock, username="carol", password="too-short")
        with pytest.raises(InvalidInput):
            put_staff_user(store=store, clock=clock, username="no spaces", password=PASSWORD)

        assert sign_in(store=store, clock=clock, username="alice", password="wrong password!") is None
        assert sign_in(store=store, clock=clock, username="nobody", password=PASSWORD) is None
        session = sign_in(store=store, clock=clock, username="ALICE", password=PASSWORD)
        assert session is not None
        assert session.expires_ms - int(NOW.timestamp() * 1000) == 8 * 3600 * 1000
        with store.read() as conn:
            stored = conn.execute(select(t.staff_session.c.token_hash)).scalars().all()
        assert session.token not in stored, "only the token's hash is stored"
        assert session_user(store=store, clock=clock, token=session.token) == "alice"
        assert session_user(store=store, clock=clock, token="forged") is None
        clock.advance(hours=8)
        assert session_user(store=store, clock=clock, token=session.token) is None

        again = sign_in(store=store, clock=clock, username="alice", password=PASSWORD)
        assert again is not None
        sign_out(store=store, clock=clock, token=again.token)
        assert session_user(store=store, clock=clock, token=again.token) is None

        third = sign_in(store=store, clock=clock, username="bob", password=PASSWORD)
        assert third is not None
        delete_staff_user(store=store, username="bob")
        assert session_user(store=store, clock=clock, token=third.token) is None
        assert sign_in(store=store, clock=clock, username="bob", password=PASSWORD) is None
        with pytest.raises(NotFound):
            delete_staff_user(store=store, username="bob")
    finally:
        store.dispose()


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket() -> None:
    now = FakeTime()
    limiter = RateLimiter(3, timedelta(minutes=10).total_seconds(), clock=now)
    assert [limiter.take("a") for _ in range(3)] == [0, 0, 0]
    assert limiter.take("a") == 200  # one token per 200 s
    assert limiter.check("a") == 200
    assert limiter.take("b") == 0, "buckets are per key"
    now.now += 150
    assert limiter.take("a") == 50
    now.now += 50
    assert limiter.take("a") == 0
    assert limiter.take("a") > 0
    limiter.refund("a")
    assert limiter.take("a") == 0
    now.now += 10_000
    assert [limiter.take("a") for _ in range(4)][-1] > 0, "a bucket never holds more than its capacity"


def test_client_key_honours_forwarded_for_only_behind_a_proxy() -> None:
    assert client_key("10.0.0.1", "1.2.3.4", behind_proxy=False) == "10.0.0.1"
    assert client_key("10.0.0.1", "6.6.6.6, 1.2.3.4", behind_proxy=True) == "1.2.3.4"
    assert client_key("10.0.0.1", " ", behind_proxy=True) == "10.0.0.1"
    assert client_key(None, None, behind_proxy=False) == "unknown"


def test_backoff_slows_after_the_free_failures_doubling_up_to_its_cap() -> None:
    now = FakeTime()
    backoff = Backoff(3, timedelta(minutes=15).total_seconds(), max_delay=4.0, clock=now)
    delays = []
    for _ in range(8):
        delays.append(backoff.delay("alice"))
        backoff.fail("alice")
    assert delays == [0, 0, 0, 0.25, 0.5, 1.0, 2.0, 4.0]
    for _ in range(1000):
        backoff.fail("alice")
    assert backoff.delay("alice") == 4.0, "never more than the cap, however long the attack"
    assert backoff.delay("bob") == 0, "delays are per key"
    now.now += 1008 * 300  # one failure forgiven per 300 s (3 per 15 minutes)
    assert backoff.delay("alice") == 0
