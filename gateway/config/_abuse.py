"""``gateway.yaml``'s ``defender:`` and ``rate_limits:`` sections (docs/abuse-control.md)."""

from __future__ import annotations

import ipaddress

from gateway.config._fields import Fields
from gateway.config.schema import RATE_TIERS, DefenderConfig, RateLimitConfig

_DEFENDER_KEYS = (
    "enabled",
    "threshold",
    "account_threshold",
    "observation_seconds",
    "ban_seconds",
    "ban_increment_seconds",
    "max_ban_seconds",
    "safe_list",
)
_RATE_KEYS = ("enabled", *RATE_TIERS, "sync_seconds")
_MAX_PER_MINUTE = 10**9
_WEEK = 7 * 86400.0


def parse_defender(top: Fields) -> DefenderConfig:
    f = Fields(top.at("defender"), top.get("defender"), allowed=_DEFENDER_KEYS)
    d = DefenderConfig()
    networks: list[str] = []
    for text, cur in f.strings("safe_list", what="address"):
        try:
            ipaddress.ip_network(text, strict=True)
        except ValueError as exc:
            cur.error(f"invalid IP address or CIDR network {text!r}: {exc}")
            continue
        networks.append(text)
    ban = f.seconds("ban_seconds", d.ban_seconds, most=_WEEK)
    longest = f.seconds("max_ban_seconds", max(d.max_ban_seconds, ban), most=_WEEK)
    if longest < ban:
        f.at("max_ban_seconds").error(f"the longest ban ({longest:g}s) is shorter than ban_seconds ({ban:g}s)")
    return DefenderConfig(
        enabled=f.flag("enabled", d.enabled),
        threshold=f.whole("threshold", d.threshold, 1, 1_000_000),
        account_threshold=f.whole("account_threshold", d.account_threshold, 1, 1_000_000),
        observation_seconds=f.seconds("observation_seconds", d.observation_seconds, most=_WEEK),
        ban_seconds=ban,
        ban_increment_seconds=f.seconds("ban_increment_seconds", d.ban_increment_seconds, most=_WEEK, zero=True),
        max_ban_seconds=longest,
        safe_list=tuple(networks),
    )


def parse_rate_limits(top: Fields) -> RateLimitConfig:
    f = Fields(top.at("rate_limits"), top.get("rate_limits"), allowed=_RATE_KEYS)
    d = RateLimitConfig()
    tiers = {tier: f.whole(tier, d.limit(tier), 0, _MAX_PER_MINUTE) for tier in RATE_TIERS}
    return RateLimitConfig(
        enabled=f.flag("enabled", d.enabled),
        sync_seconds=f.seconds("sync_seconds", d.sync_seconds, most=60),
        **tiers,
    )
