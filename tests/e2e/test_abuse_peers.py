"""Two gateway processes on one PostgreSQL catalog: a ban made through one holds on the other
within about a second (and its lifting too), and the two together do not admit twice a rate limit."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests import pg
from tests.e2e.harness import Gateway, assert_envelope
from tests.e2e.test_abuse_control import (
    ADMIN_ADDRESS,
    ATTACKER,
    _wait_for_fresh_window,
    admin,
    assert_banned,
    client,
    config,
    login,
)

LIMIT = 12


@pytest.fixture
def peers(tmp_path: Path) -> Iterator[tuple[Gateway, Gateway]]:
    cfg = config(
        defender={"ban_seconds": 600, "max_ban_seconds": 600},
        rate_limits={"authenticated": LIMIT, "sync_seconds": 0.5},
    )
    with pg.fresh_database() as url:
        a = Gateway(root=tmp_path / "a", database_url=url, config=cfg).start()
        try:
            b = Gateway(root=tmp_path / "b", database_url=url, config=cfg).start()
            try:
                yield a, b
            finally:
                b.stop()
        finally:
            a.stop()


def _within(seconds: float, probe: object) -> float:
    """Call ``probe`` until it returns True; how long that took (fails after ``seconds``)."""
    assert callable(probe)
    started = time.monotonic()
    while not probe():
        assert time.monotonic() - started < seconds, f"not within {seconds}s"
        time.sleep(0.1)
    return time.monotonic() - started


def test_peers_a_ban_made_on_one_peer_holds_on_the_other(peers: tuple[Gateway, Gateway]) -> None:
    a, b = peers
    with client(a) as on_a:
        assert [login(on_a, "alice", "x").status_code for _ in range(11)] == [401] * 10 + [429]
    with client(b) as on_b:
        # The other peer reads the bans every second; a check through it costs no password hash
        # once it has (and a wrong password before then is still only a wrong password).
        _within(2.5, lambda: login(on_b, "alice", "x").status_code == 429)
        assert_banned(login(on_b, "alice"), 600)
    with admin(b) as ops:
        assert ops.delete(f"/admin/bans/address/{ATTACKER}").status_code == 200
    with client(a) as on_a:
        _within(2.5, lambda: login(on_a, "alice").status_code == 200)


def _admitted(c: httpx.Client, tries: int) -> int:
    admitted = 0
    for _ in range(tries):
        r = c.get("/2.0/directories/inbox")
        if r.status_code == 429:
            assert_envelope(r, 429, "rate_limit")
            assert int(r.headers["retry-after"]) >= 1
            continue
        assert r.status_code == 200, r.text
        admitted += 1
    return admitted


def test_peers_two_peers_together_admit_the_limit_not_twice_it(peers: tuple[Gateway, Gateway]) -> None:
    a, b = peers
    _wait_for_fresh_window(25)
    with client(a, ADMIN_ADDRESS) as on_a, client(b, ADMIN_ADDRESS) as on_b:
        assert login(on_a, "alice").status_code == 200
        on_b.cookies = on_a.cookies  # one session (sessions live in the shared catalog)
        first = _admitted(on_a, 8)
        time.sleep(1.5)  # three publications at sync_seconds 0.5
        second = _admitted(on_b, LIMIT)
        time.sleep(1.5)
        third = _admitted(on_a, 3)
    assert first == 8
    # Paced like this, the shared count is exact: B admits what A left, then A nothing more.
    # (Unpaced, each peer may admit what the others admitted in its last sync_seconds on top.)
    assert second == LIMIT - 8
    assert third == 0
