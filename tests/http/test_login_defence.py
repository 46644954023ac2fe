"""Login without user enumeration, and bans that cost no password hash.

Timing is not asserted as wall-clock: what makes the time equal is the work done, so these tests
count the argon2 verifications and catalog writes each kind of failure costs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.catalog import passwords
from gateway.settings import Settings
from tests.e2e.harness import default_config, password, write_config


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    config = default_config()
    config["gateway.yaml"]["defender"] = {"threshold": 4, "account_threshold": 100, "ban_seconds": 60}
    settings = Settings(config_dir=write_config(tmp_path / "config", config), data_dir=tmp_path / "data")
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """Every password verification: the stored hash it used (None: the dummy)."""
    seen: list[str | None] = []
    original = passwords._context.verify

    def counting(secret: str, stored: str) -> Any:
        seen.append(None if stored == passwords._DUMMY else stored)
        return original(secret, stored)

    monkeypatch.setattr(passwords._context, "verify", counting)
    return seen


def _attempt(client: TestClient, user: str, secret: str) -> tuple[int, dict[str, Any], str | None]:
    r = client.post("/2.0/login/basic", data={"username": user, "password": secret})
    body = r.json()
    body.pop("timestamp")
    return r.status_code, body, r.headers.get("set-cookie")


def test_login_unknown_disabled_and_wrong_password_cost_one_hash_each_and_answer_alike(
    client: TestClient, hashes: list[str | None]
) -> None:
    answers = [
        _attempt(client, "nobody", "whatever"),  # unknown
        _attempt(client, "eve", password("eve")),  # disabled, right password
        _attempt(client, "alice", "wrong"),  # wrong password
    ]
    assert len({repr(a) for a in answers}) == 1
    assert answers[0] == (
        401,
        {"result": "failed", "message": "Invalid username or password", "errorType": "authentication"},
        None,
    )
    assert len(hashes) == 3
    assert hashes[0] is None and hashes[1] is None  # the dummy, of the same cost as a real one
    assert hashes[2] is not None


def test_login_banned_address_costs_no_hash(client: TestClient, hashes: list[str | None]) -> None:
    # Score 2 per unknown name: the second guess reaches the threshold of 4.
    assert [_attempt(client, f"who{i}", "x")[0] for i in range(2)] == [401, 401]
    del hashes[:]
    for user, secret in (("alice", password("alice")), ("nobody", "x")):
        r = client.post("/2.0/login/basic", data={"username": user, "password": secret})
        assert r.status_code == 429
        assert r.json()["errorType"] == "rate_limit"
        assert 50 <= int(r.headers["retry-after"]) <= 60 + 900 * 2
    assert hashes == []
