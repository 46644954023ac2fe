"""Brute-force defence, rate limits and the audit trail against the real server (SQLite and
PostgreSQL): bans with 429 + Retry-After, safe list, trusted-proxy addresses, persistence across a
restart, the admin API, rate-limit headers and refusals, audit rows."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import pg
from tests.e2e.harness import Gateway, assert_envelope, default_config, password, password_hash

ATTACKER = "127.0.0.1"  # httpx's default source address on loopback
PROXY = "127.0.0.2"  # trusted_proxies in the harness's default configuration
ADMIN_ADDRESS = "127.0.0.3"
SAFE = "127.0.0.4"


def config(defender: dict[str, Any] | None = None, rate_limits: dict[str, Any] | None = None) -> dict[str, Any]:
    """The harness world plus an admin (ops), a quick defender and roomy rate limits."""
    cfg = copy.deepcopy(default_config())
    gateway_yaml = cfg["gateway.yaml"]
    gateway_yaml["defender"] = {
        "threshold": 10,
        "account_threshold": 40,
        "observation_seconds": 600,
        "ban_seconds": 3,
        "ban_increment_seconds": 0.5,
        "max_ban_seconds": 6,
        "safe_list": [f"{SAFE}/32"],
        **(defender or {}),
    }
    gateway_yaml["rate_limits"] = {"public": 1000, "authenticated": 1000, "transfer": 1000, **(rate_limits or {})}
    cfg["actors.yaml"]["actors"]["Ops"] = {
        "kind": "application",
        "users": {"ops": {"password_hash": password_hash("ops"), "admin": True}},
    }
    return cfg


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """Bans and audit rows outlive a gateway: each test gets an empty catalog of each kind."""
    if request.param == "sqlite":
        yield None
        return
    with pg.fresh_database() as url:
        yield url


@pytest.fixture
def make_gateway(catalog_url: str | None, tmp_path: Path) -> Iterator[Any]:
    started: list[Gateway] = []

    def make(cfg: dict[str, Any], root: Path | None = None) -> Gateway:
        gw = Gateway(root=root or tmp_path / f"gw{len(started)}", database_url=catalog_url, config=cfg).start()
        started.append(gw)
        return gw

    yield make
    for gw in started:
        gw.stop()


def client(gw: Gateway, source: str = ATTACKER, **headers: str) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=source)
    return httpx.Client(base_url=gw.url, transport=transport, headers=headers, timeout=60)


def login(c: httpx.Client, user: str, secret: str | None = None, **headers: str) -> httpx.Response:
    data = {"username": user, "password": password(user) if secret is None else secret}
    return c.post("/2.0/login/basic", data=data, headers=headers)


@contextmanager
def admin(gw: Gateway) -> Iterator[httpx.Client]:
    with client(gw, ADMIN_ADDRESS) as c:
        assert login(c, "ops").status_code == 200
        yield c


def assert_banned(r: httpx.Response, longest: float) -> int:
    assert_envelope(r, 429, "rate_limit")
    retry = int(r.headers["retry-after"])
    assert 1 <= retry <= longest, retry
    return retry


def bans(admin_client: httpx.Client) -> list[dict[str, Any]]:
    r = admin_client.get("/admin/bans")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["result"] == "ok" and body["total"] == len(body["bans"])
    return list(body["bans"])


def audit(admin_client: httpx.Client, **filters: str) -> dict[str, Any]:
    r = admin_client.get("/admin/audit", params=filters)
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_fifty_wrong_passwords_ban_the_address_until_the_ban_ends(make_gateway: Any) -> None:
    gw = make_gateway(config())
    with client(gw) as c:
        statuses = [login(c, "alice", f"guess-{i}") for i in range(50)]
        # Ten failures (known account: 1 point each) reach the threshold; the tenth is still
        # answered 401, every later attempt 429 without a password check.
        assert [r.status_code for r in statuses[:10]] == [401] * 10
        for r in statuses[:10]:
            assert_envelope(r, 401, "authentication", "Invalid username or password")
        for r in statuses[10:]:
            assert_banned(r, 6)
        retry = assert_banned(login(c, "alice"), 6)  # the right password, refused too
        assert retry >= 4  # 3 s, lengthened by 0.5 s per attempt while banned up to 6 s
        time.sleep(retry + 0.3)
        assert login(c, "alice").status_code == 200
    with admin(gw) as a:
        failed = audit(a, event="login.failed", principal="alice")
        assert failed["total"] == 10  # refused attempts never reached a check
        assert {e["address"] for e in failed["events"]} == {ATTACKER}
        assert all(e["detail"] == {"method": "password"} for e in failed["events"])
        assert audit(a, event="login.ok", principal="alice")["total"] == 1
        added = audit(a, event="ban.added")["events"]
        assert [(e["address"], e["detail"]["kind"]) for e in added] == [(ATTACKER, "address")]
        assert "guess-" not in str(audit(a))  # no password in the trail


def test_unknown_disabled_and_wrong_password_answer_alike(make_gateway: Any) -> None:
    gw = make_gateway(config(defender={"threshold": 1000}))
    with client(gw) as c:
        answers = [login(c, "nobody", "x"), login(c, "eve"), login(c, "alice", "wrong")]
    for r in answers:
        assert_envelope(r, 401, "authentication", "Invalid username or password")
        assert r.headers.get("set-cookie") is None


def test_ban_survives_a_restart_is_listed_and_lifted_by_an_admin(make_gateway: Any, tmp_path: Path) -> None:
    cfg = config(defender={"ban_seconds": 600, "max_ban_seconds": 3600})
    gw = make_gateway(cfg, tmp_path / "gw")
    with client(gw) as c:
        # Unknown accounts score 2: five guesses reach the threshold of 10.
        answers = [login(c, f"user{i}", "x").status_code for i in range(6)]
        assert answers == [401] * 5 + [429]
    gw.stop()
    gw.start()
    with client(gw) as c:
        assert_banned(login(c, "alice"), 3600)
    with admin(gw) as a:
        listed = bans(a)
        assert [(b["kind"], b["value"]) for b in listed] == [("address", ATTACKER)]
        assert listed[0]["score"] == 10 and 0 < listed[0]["retryAfter"] <= 3600
        assert listed[0]["until"] > listed[0]["bannedAt"]
        r = a.delete(f"/admin/bans/address/{ATTACKER}")
        assert r.status_code == 200, r.text
        assert r.json()["message"] == "Ban lifted" and r.json()["ban"]["value"] == ATTACKER
        assert_envelope(a.delete(f"/admin/bans/address/{ATTACKER}"), 404, "io")
        assert_envelope(a.delete("/admin/bans/person/x"), 400, "request_syntax")
        assert bans(a) == []
        with client(gw) as c:
            assert login(c, "alice").status_code == 200
        lifted = audit(a, event="ban.lifted")["events"]
        assert [(e["principal"], e["address"], e["detail"]) for e in lifted] == [
            ("ops", ADMIN_ADDRESS, {"kind": "address", "value": ATTACKER})
        ]


def test_admin_endpoints_refuse_non_admins_and_anonymous_callers(make_gateway: Any) -> None:
    gw = make_gateway(config())
    with client(gw, ADMIN_ADDRESS) as c:
        for method, path in (("GET", "/admin/audit"), ("GET", "/admin/bans"), ("DELETE", "/admin/bans/account/x")):
            assert_envelope(c.request(method, path), 401, "authentication")
        assert login(c, "bob").status_code == 200
        for method, path in (("GET", "/admin/audit"), ("GET", "/admin/bans"), ("DELETE", "/admin/bans/account/x")):
            assert_envelope(c.request(method, path), 403, "authorization")


def test_audit_listing_filters_and_pages(make_gateway: Any) -> None:
    gw = make_gateway(config())
    before = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))
    with client(gw, ADMIN_ADDRESS) as c:
        for user in ("alice", "bob", "carol"):
            assert login(c, user).status_code == 200
        assert login(c, "bob", "wrong").status_code == 401
    with admin(gw) as a:
        everything = audit(a, since=before)
        assert everything["total"] == 5  # 4 logins ok (ops included), 1 failed
        ids = [int(e["id"]) for e in everything["events"]]
        assert ids == sorted(ids, reverse=True)  # newest first
        page = audit(a, since=before, limit="2", start="1")
        assert [e["id"] for e in page["events"]] == [e["id"] for e in everything["events"][1:3]]
        assert page["total"] == 5
        bob = audit(a, principal="bob")
        assert [e["event"] for e in bob["events"]] == ["login.failed", "login.ok"]
        assert audit(a, until=before)["total"] == 0
        for bad in ({"since": "yesterday"}, {"until": "2026-12-02T10:00:00"}, {"limit": "-1"}, {"start": "x"}):
            assert_envelope(a.get("/admin/audit", params=bad), 400, "request_syntax")


def test_spoofed_forwarded_for_is_ignored_and_a_trusted_proxy_is_believed(make_gateway: Any) -> None:
    gw = make_gateway(config(defender={"ban_seconds": 600, "max_ban_seconds": 600}))
    with client(gw, ATTACKER) as c:
        answers = [login(c, "alice", "x", **{"X-Forwarded-For": f"198.51.100.{i}"}).status_code for i in range(1, 12)]
        assert answers == [401] * 10 + [429]  # one client, whatever it claims
    with client(gw, PROXY) as p:
        answers = [login(p, "bob", "x", **{"X-Forwarded-For": "203.0.113.7"}).status_code for _ in range(11)]
        assert answers == [401] * 10 + [429]
        # Another client behind the same proxy is not the banned one.
        assert login(p, "bob", **{"X-Forwarded-For": "203.0.113.8"}).status_code == 200
    with admin(gw) as a:
        assert sorted(b["value"] for b in bans(a)) == ["127.0.0.1", "203.0.113.7"]


def test_safe_listed_address_is_never_banned(make_gateway: Any) -> None:
    gw = make_gateway(config())
    with client(gw, SAFE) as c:
        assert {login(c, "carol", f"x{i}").status_code for i in range(30)} == {401}
        assert login(c, "carol").status_code == 200
    with admin(gw) as a:
        assert bans(a) == []


def test_account_guessed_from_many_addresses_is_banned_for_everyone(make_gateway: Any) -> None:
    gw = make_gateway(config(defender={"account_threshold": 6, "ban_seconds": 600, "max_ban_seconds": 600}))
    for i in range(6):
        with client(gw, PROXY) as p:
            assert login(p, "dave", "x", **{"X-Forwarded-For": f"192.0.2.{i + 1}"}).status_code == 401
    with client(gw, PROXY) as p:
        assert_banned(login(p, "dave", **{"X-Forwarded-For": "192.0.2.99"}), 600)
        assert login(p, "alice", **{"X-Forwarded-For": "192.0.2.99"}).status_code == 200
    with admin(gw) as a:
        assert [(b["kind"], b["value"]) for b in bans(a)] == [("account", "dave")]
        assert a.delete("/admin/bans/account/dave").status_code == 200
    with client(gw, PROXY) as p:
        assert login(p, "dave", **{"X-Forwarded-For": "192.0.2.99"}).status_code == 200


def _wait_for_fresh_window(needed: float) -> None:
    """Rate limits count per clock minute: start where ``needed`` seconds fit before the next one."""
    left = 60 - time.time() % 60
    if left < needed:
        time.sleep(left + 0.2)


def _rate_headers(r: httpx.Response) -> tuple[int, int, int]:
    return (
        int(r.headers["x-ratelimit-limit"]),
        int(r.headers["x-ratelimit-remaining"]),
        int(r.headers["x-ratelimit-reset"]),
    )


def test_rate_limit_headers_and_429_with_retry_after(make_gateway: Any) -> None:
    gw = make_gateway(config(rate_limits={"public": 3, "authenticated": 4, "transfer": 1000}))
    _wait_for_fresh_window(20)
    with client(gw, "127.0.0.6") as c:
        r = login(c, "alice")
        assert r.status_code == 200
        limit, remaining, reset = _rate_headers(r)
        assert (limit, remaining) == (3, 2)
        assert time.time() < reset <= time.time() + 60 and reset % 60 == 0  # epoch seconds, the minute's end
        seen = []
        for _ in range(4):
            r = c.get("/2.0/directories/inbox")
            assert r.status_code == 200, r.text
            seen.append(_rate_headers(r)[:2])
        assert seen == [(4, 3), (4, 2), (4, 1), (4, 0)]
        refused = c.get("/2.0/directories/inbox")
        assert_envelope(refused, 429, "rate_limit")
        assert _rate_headers(refused)[:2] == (4, 0)
        retry = int(refused.headers["retry-after"])
        assert 1 <= retry <= 60 and abs(time.time() + retry - _rate_headers(refused)[2]) <= 2
        # File transfers are their own class: still allowed.
        put = c.put("/2.0/files/inbox/a.txt", files={"file": ("a.txt", b"hello")})
        assert put.status_code in (200, 201), put.text
        assert _rate_headers(put)[:2] == (1000, 999)
        assert [login(c, "bob").status_code for _ in range(2)] == [200, 200]
        assert_envelope(login(c, "bob"), 429, "rate_limit")  # the 4th login from this address
    with client(gw, "127.0.0.7") as other:
        assert login(other, "bob").status_code == 200  # counted per address
