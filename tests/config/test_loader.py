"""The configuration loader: the demo folder, every class of error, env substitution and sizes.

Broken configurations are made by mutating a small valid one (``_base``) and writing it to
``tmp_path``; each must yield exactly the expected problem, naming the file and the key path,
and nothing else (one mistake, one message: no cascades).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
import yaml
from argon2 import PasswordHasher

from gateway import cli
from gateway.config._sizes import parse_size
from gateway.config.loader import collect_errors, load_config
from gateway.config.schema import AclEntry, Folder, Permission, Retention, ServerConfig
from gateway.core.paths import VirtualPath
from gateway.errors import ConfigurationError

DEMO = Path(__file__).resolve().parents[2] / "vfs-config"
HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA"
Config = dict[str, Any]
Mutator = Callable[[Config], None]


def _base() -> Config:
    """A small valid configuration: file name -> YAML content."""
    return {
        "gateway.yaml": {"storages": {"default": {"root": "store"}, "archive": {"root": "/srv/archive"}}},
        "actors.yaml": {
            "actors": {
                "Partner5": {
                    "kind": "partner",
                    "groups": ["ops"],
                    "users": {
                        "jdoe": {"password_hash": HASH, "groups": ["ops"]},
                        "part1": {"password_hash": HASH},
                    },
                },
                "Acme": {
                    "kind": "application",
                    "groups": ["acme-team"],
                    "users": {"acme-app": {"password_hash": HASH}},
                },
            }
        },
        "vfs.yaml": {
            "vfs": {
                "partners": {
                    "actor": "Partner5",
                    "paths": {"/inbox/archive": {"storage": "archive"}, "/outbox": None},
                    "permissions": [
                        {"group": "ops", "allow": ["all"]},
                        {"user": "part1", "path": "/inbox", "allow": ["list"]},
                    ],
                },
                "internal": {"actor": "Acme", "acl": False},
            }
        },
        "contracts.yaml": {
            "contracts": [
                {"name": "p5", "actor": "Partner5", "protocols": ["http", "https"], "vfs": "partners"},
                {"name": "acme", "actor": "Acme", "protocol": "https", "vfs": "internal"},
            ]
        },
    }


def _write(directory: Path, config: Config) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in config.items():
        text = content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False)
        (directory / name).write_text(text, encoding="utf-8")
    return directory


def _configure(tmp_path: Path, *mutators: Mutator) -> Path:
    config = _base()
    for mutate in mutators:
        mutate(config)
    return _write(tmp_path / "cfg", config)


def _node(config: Config, file: str, keys: tuple[str | int, ...]) -> Any:
    node: Any = config[file]
    for key in keys:
        node = node[key]
    return node


def put(file: str, *keys: str | int, value: object) -> Mutator:
    def mutate(config: Config) -> None:
        _node(config, file, keys[:-1])[keys[-1]] = value

    return mutate


def append(file: str, *keys: str | int, value: object) -> Mutator:
    def mutate(config: Config) -> None:
        _node(config, file, keys).append(value)

    return mutate


def drop(file: str, *keys: str | int) -> Mutator:
    def mutate(config: Config) -> None:
        if keys:
            del _node(config, file, keys[:-1])[keys[-1]]
        else:
            del config[file]

    return mutate


def both(*mutators: Mutator) -> Mutator:
    def mutate(config: Config) -> None:
        for each in mutators:
            each(config)

    return mutate


def raw(file: str, text: str) -> Mutator:
    def mutate(config: Config) -> None:
        config[file] = text

    return mutate


# --- the demo configuration ---------------------------------------------------------------


@pytest.fixture
def demo(tmp_path: Path) -> Any:
    return load_config(DEMO, tmp_path / "data")


def test_collect_errors_demo_config_returns_no_problems(tmp_path: Path) -> None:
    assert collect_errors(DEMO, tmp_path) == []


def test_load_config_demo_config_declares_actors_groups_and_users(demo: Any) -> None:
    assert {name: actor.kind for name, actor in demo.actors.items()} == {
        "Partner5": "partner",
        "Acme": "application",
        "Lonely": "partner",
        "Operators": "application",
    }
    assert {name: group.actor for name, group in demo.groups.items()} == {"partner5-ops": "Partner5"}
    assert {name: (user.actor, user.groups, user.enabled, user.admin) for name, user in demo.users.items()} == {
        "jdoe": ("Partner5", frozenset({"partner5-ops"}), True, False),
        "part1": ("Partner5", frozenset(), True, False),
        "acme-app": ("Acme", frozenset(), True, False),
        "nocontract": ("Lonely", frozenset(), True, False),
        "mftadmin": ("Operators", frozenset(), True, True),
        "acme-erp": ("Acme", frozenset(), True, False),
        "ops-bot": ("Operators", frozenset(), True, False),
    }
    assert not any(c.actor in ("Lonely", "Operators") for c in demo.contracts)


@pytest.mark.parametrize(
    ("user", "password"),
    [
        ("jdoe", "jdoe-secret"),
        ("part1", "part1-secret"),
        ("acme-app", "acme-secret"),
        ("nocontract", "nocontract-secret"),
        ("mftadmin", "mftadmin-secret"),
    ],
)
def test_load_config_demo_password_hash_matches_documented_password(demo: Any, user: str, password: str) -> None:
    assert PasswordHasher().verify(demo.users[user].password_hash, password)
    assert user in (DEMO / "README.md").read_text(encoding="utf-8")
    assert password in (DEMO / "README.md").read_text(encoding="utf-8")


def test_load_config_demo_storage_roots_resolve_against_data_dir(demo: Any, tmp_path: Path) -> None:
    storages = {
        n: (s.type, s.root, s.durable, s.inline_small_reads, s.inline_small_writes) for n, s in demo.storages.items()
    }
    assert storages == {
        "default": ("local", tmp_path / "data" / "storage" / "default", True, True, True),
        "archive": ("local", tmp_path / "data" / "storage" / "archive", True, True, True),
    }


def test_load_config_demo_vfs_has_folders_including_implied_ones(demo: Any) -> None:
    partner5 = demo.vfs["partner5"]
    assert (partner5.actor, partner5.storage, partner5.acl_enabled) == ("Partner5", "default", True)
    assert partner5.retention == Retention(after_put_hours=720.0)
    assert partner5.folders == (
        Folder(VirtualPath(("http_api",))),
        Folder(VirtualPath(("httpapi",))),
        Folder(VirtualPath(("inbox",))),
        Folder(VirtualPath(("inbox", "archive")), storage="archive"),
        Folder(VirtualPath(("outbox",))),
    )
    acme = demo.vfs["acme"]
    assert (acme.actor, acme.acl_enabled, acme.acl) == ("Acme", False, ())
    assert [str(f.path) for f in acme.folders] == ["/in", "/out"]


def test_load_config_demo_vfs_has_acl_entries(demo: Any) -> None:
    p = Permission
    assert demo.vfs["partner5"].acl == (
        AclEntry(VirtualPath(), frozenset(Permission), group="partner5-ops"),
        AclEntry(VirtualPath(("inbox",)), frozenset({p.LIST, p.UPLOAD, p.DOWNLOAD}), user="part1"),
        AclEntry(VirtualPath(("outbox",)), frozenset({p.LIST, p.DOWNLOAD}), user="part1"),
    )


def test_load_config_demo_contracts_expand_to_one_per_protocol(demo: Any) -> None:
    assert [(c.name, c.actor, c.protocol, c.vfs, str(c.path), c.direction) for c in demo.contracts] == [
        ("partner5-http", "Partner5", "http", "partner5", "/", "both"),
        ("partner5-http", "Partner5", "https", "partner5", "/", "both"),
        ("acme-http", "Acme", "http", "acme", "/", "both"),
        ("acme-http", "Acme", "https", "acme", "/", "both"),
    ]
    assert all(c.enabled and c.user is None and c.group is None and not c.metadata for c in demo.contracts)
    assert all(c.actions == () for c in demo.contracts)  # the examples in contracts.yaml are commented out


def test_load_config_demo_server_uses_the_defaults(demo: Any) -> None:
    assert demo.server == ServerConfig()


def test_load_config_demo_mappings_are_read_only(demo: Any) -> None:
    for mapping in (demo.actors, demo.groups, demo.users, demo.storages, demo.vfs):
        assert isinstance(mapping, MappingProxyType)
    assert demo.source == DEMO


# --- valid variations -----------------------------------------------------------------------


def test_load_config_declared_subfolder_implies_ancestor_without_storage(tmp_path: Path) -> None:
    config = load_config(_configure(tmp_path), tmp_path / "data")
    assert config.vfs["partners"].folders == (
        Folder(VirtualPath(("inbox",))),
        Folder(VirtualPath(("inbox", "archive")), storage="archive"),
        Folder(VirtualPath(("outbox",))),
    )


def test_load_config_relative_root_joins_data_dir_and_absolute_root_is_kept(tmp_path: Path) -> None:
    config = load_config(_configure(tmp_path), tmp_path / "data")
    assert config.storages["default"].root == tmp_path / "data" / "store"
    assert config.storages["archive"].root == Path("/srv/archive")


def test_load_config_without_gateway_file_uses_default_storage_and_server(tmp_path: Path) -> None:
    no_archive = put("vfs.yaml", "vfs", "partners", "paths", value={"/inbox/archive": None})
    config = load_config(_configure(tmp_path, drop("gateway.yaml"), no_archive), tmp_path / "data")
    assert list(config.storages) == ["default"]
    assert config.storages["default"].root == tmp_path / "data" / "storage"
    assert config.vfs["partners"].storage == "default"
    assert config.server == ServerConfig()
    assert (config.server.dispatch_concurrency, config.server.dispatch_poll_seconds) == (8, 1.0)
    assert config.server.expiry_sweep_seconds == 60.0
    assert config.server.http_server == "uvicorn"
    assert config.server.workers == 1


def test_load_config_single_storage_not_named_default_is_the_vfs_default(tmp_path: Path) -> None:
    only = put("gateway.yaml", "storages", value={"main": {"root": "m"}})
    no_archive = put("vfs.yaml", "vfs", "partners", "paths", value={"/inbox": None})
    config = load_config(_configure(tmp_path, only, no_archive), tmp_path)
    assert {v.storage for v in config.vfs.values()} == {"main"}


def test_load_config_server_section_values_are_parsed(tmp_path: Path) -> None:
    server = {
        "session_idle_seconds": 600,
        "session_absolute_seconds": 3600,
        "trusted_proxies": ["127.0.0.1", "10.0.0.0/8", "::1"],
        "max_upload_bytes": "1.5 GiB",
        "max_metadata_bytes": "4KiB",
        "cookie_samesite": "strict",
        "dispatch_concurrency": 256,
        "dispatch_poll_seconds": 0.25,
        "expiry_sweep_seconds": 0,
        "catalog_durable": False,
        "http_server": "granian",
        "workers": 4,
        "request_head_seconds": 5,
        "body_idle_seconds": 30.5,
        "keep_alive_seconds": 15,
        "max_connections_per_address": 0,
        "max_header_bytes": "64KiB",
    }
    config = load_config(_configure(tmp_path, put("gateway.yaml", "server", value=server)), tmp_path)
    assert config.server.session_idle_seconds == 600
    assert config.server.session_absolute_seconds == 3600
    assert config.server.trusted_proxies == ("127.0.0.1", "10.0.0.0/8", "::1")
    assert config.server.max_upload_bytes == 1610612736
    assert config.server.max_metadata_bytes == 4096
    assert config.server.cookie_samesite == "strict"
    assert config.server.dispatch_concurrency == 256
    assert config.server.dispatch_poll_seconds == 0.25
    assert config.server.expiry_sweep_seconds == 0.0  # 0 = never sweep
    assert isinstance(config.server.expiry_sweep_seconds, float)
    assert config.server.catalog_durable is False
    assert config.server.http_server == "granian"
    assert config.server.workers == 4
    assert config.server.request_head_seconds == 5.0
    assert config.server.body_idle_seconds == 30.5
    assert config.server.keep_alive_seconds == 15.0
    assert config.server.max_connections_per_address == 0  # no cap
    assert config.server.max_header_bytes == 65536


@pytest.mark.parametrize(("cpus", "expected"), [({0}, 1), ({0, 1, 5}, 3), (set(range(100)), 64)])
def test_workers_auto_is_one_per_usable_cpu_in_the_file_and_on_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cpus: set[int], expected: int
) -> None:
    """``auto`` follows the process's CPU affinity (what a container or taskset allows), not the
    machine's CPU count, and stays within the 64-worker limit."""
    monkeypatch.setattr("gateway.config.schema.os.sched_getaffinity", lambda pid: cpus)
    auto = put("gateway.yaml", "server", value={"workers": "auto"})
    assert load_config(_configure(tmp_path, auto), tmp_path).server.workers == expected
    assert cli.parser().parse_args(["serve", "--workers", "auto"]).workers == expected


def test_load_config_whole_seconds_become_floats(tmp_path: Path) -> None:
    server = {"dispatch_poll_seconds": 60, "expiry_sweep_seconds": 3600}
    config = load_config(_configure(tmp_path, put("gateway.yaml", "server", value=server)), tmp_path)
    assert (config.server.dispatch_poll_seconds, config.server.expiry_sweep_seconds) == (60.0, 3600.0)
    assert isinstance(config.server.dispatch_poll_seconds, float)


def test_load_config_vfs_limits_and_retention_are_parsed(tmp_path: Path) -> None:
    vfs = ("vfs.yaml", "vfs", "internal")
    config = load_config(
        _configure(
            tmp_path,
            put(*vfs, "limits", value={"max_file_size": "500MB"}),
            put(*vfs, "retention", value={"after_put_hours": 1.5, "after_first_get_hours": 24}),
        ),
        tmp_path,
    )
    assert config.vfs["internal"].limits.max_file_size == 500_000_000
    assert config.vfs["internal"].retention == Retention(after_put_hours=1.5, after_first_get_hours=24.0)


def test_load_config_contract_options_are_parsed(tmp_path: Path) -> None:
    contract = {
        "name": "jdoe-in",
        "actor": "Partner5",
        "user": "jdoe",
        "protocol": "http",
        "vfs": "partners",
        "path": "/inbox/",
        "direction": "input",
        "metadata": {"QUEUE": "Q1", "PRIORITY": 3, "URGENT": True, "RATIO": 1.5},
    }
    config = load_config(_configure(tmp_path, append("contracts.yaml", "contracts", value=contract)), tmp_path)
    found = config.contracts[-1]
    assert (found.user, found.group, found.protocol, found.path, found.direction) == (
        "jdoe",
        None,
        "http",
        VirtualPath(("inbox",)),
        "input",
    )
    assert dict(found.metadata) == {"QUEUE": "Q1", "PRIORITY": "3", "URGENT": "true", "RATIO": "1.5"}
    assert isinstance(found.metadata, MappingProxyType)


def test_load_config_duplicate_binding_allowed_when_one_is_disabled(tmp_path: Path) -> None:
    spare = {"name": "p5-spare", "actor": "Partner5", "protocol": "http", "vfs": "partners", "enabled": False}
    config = load_config(_configure(tmp_path, append("contracts.yaml", "contracts", value=spare)), tmp_path)
    assert [c.enabled for c in config.contracts if c.name == "p5-spare"] == [False]


def test_load_config_empty_allow_list_grants_nothing(tmp_path: Path) -> None:
    entry = {"user": "jdoe", "path": "/outbox", "allow": []}
    config = load_config(
        _configure(tmp_path, append("vfs.yaml", "vfs", "partners", "permissions", value=entry)), tmp_path
    )
    assert config.vfs["partners"].acl[-1] == AclEntry(VirtualPath(("outbox",)), frozenset(), user="jdoe")


def test_load_config_disabled_user_is_kept_disabled(tmp_path: Path) -> None:
    mutate = put("actors.yaml", "actors", "Partner5", "users", "part1", "enabled", value=False)
    config = load_config(_configure(tmp_path, mutate), tmp_path)
    assert config.users["part1"].enabled is False


def test_load_config_admin_flag_defaults_to_false(tmp_path: Path) -> None:
    mutate = put("actors.yaml", "actors", "Acme", "users", "acme-app", "admin", value=True)
    config = load_config(_configure(tmp_path, mutate), tmp_path)
    assert {name: user.admin for name, user in config.users.items()} == {
        "jdoe": False,
        "part1": False,
        "acme-app": True,
    }


def test_load_config_plain_boolean_looking_keys_stay_strings(tmp_path: Path) -> None:
    """YAML 1.1 reads a plain ``on``/``yes``/``off`` key as a boolean; keys here are always text."""
    contracts = (
        "contracts:\n"
        "  - {name: p5, actor: Partner5, protocols: [http, https], vfs: partners}\n"
        "  - name: acme\n"
        "    actor: Acme\n"
        "    protocol: https\n"
        "    vfs: internal\n"
        "    enabled: yes\n"  # values keep YAML's meaning
        "    metadata: {on: 1, off: 2, yes: 3, No: 4, 'true': 5}\n"
    )
    config = load_config(_configure(tmp_path, raw("contracts.yaml", contracts)), tmp_path)
    acme = config.contracts[-1]
    assert acme.enabled is True
    assert dict(acme.metadata) == {"on": "1", "off": "2", "yes": "3", "No": "4", "true": "5"}


# --- environment variables -------------------------------------------------------------------


def test_load_config_env_variable_is_substituted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GW_TEST_HASH", HASH)
    monkeypatch.setenv("GW_TEST_ROOT", "/mnt/arch")
    config = load_config(
        _configure(
            tmp_path,
            put("actors.yaml", "actors", "Partner5", "users", "jdoe", "password_hash", value="${GW_TEST_HASH}"),
            put("gateway.yaml", "storages", "archive", "root", value="${GW_TEST_ROOT}/v1"),
        ),
        tmp_path,
    )
    assert config.users["jdoe"].password_hash == HASH
    assert config.storages["archive"].root == Path("/mnt/arch/v1")


def test_load_config_unset_env_variable_reports_file_and_key_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GW_TEST_UNSET", raising=False)
    mutate = put("actors.yaml", "actors", "Partner5", "users", "jdoe", "password_hash", value="${GW_TEST_UNSET}")
    errors = collect_errors(_configure(tmp_path, mutate), tmp_path)
    assert len(errors) == 1
    assert errors[0].endswith(
        "actors.yaml: actors.Partner5.users.jdoe.password_hash: environment variable 'GW_TEST_UNSET' is not set. "
        "Hint: export it before starting the gateway"
    )


def test_load_config_double_dollar_escapes_a_literal_reference(tmp_path: Path) -> None:
    mutate = put("actors.yaml", "actors", "Acme", "description", value="costs $$5, see $${NOT_A_VAR}")
    config = load_config(_configure(tmp_path, mutate), tmp_path)
    assert config.actors["Acme"].description == "costs $$5, see ${NOT_A_VAR}"


def test_load_config_malformed_env_reference_is_reported(tmp_path: Path) -> None:
    mutate = put("actors.yaml", "actors", "Acme", "description", value="${not closed")
    errors = collect_errors(_configure(tmp_path, mutate), tmp_path)
    assert len(errors) == 1
    assert "actors.yaml: actors.Acme.description: malformed '${' reference" in errors[0]


# --- sizes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (1024, 1024),
        ("1024", 1024),
        ("10GiB", 10 * 2**30),
        ("500MB", 500_000_000),
        ("1.5 GiB", 1610612736),
        ("64 kib", 65536),
        ("2 kB", 2000),
        ("3TB", 3 * 10**12),
        ("7 B", 7),
        ("1.0001 KiB", 1024),
    ],
)
def test_parse_size_valid_text_returns_bytes(text: object, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "10G", "ten MB", "1,5 GiB", "-1", "0", 0, -5, True, 1.5, None, "5 MiBs", "1e9"])
def test_parse_size_invalid_value_raises_value_error(text: object) -> None:
    with pytest.raises(ValueError):
        parse_size(text)


# --- broken configurations -------------------------------------------------------------------

_DUPLICATE_USER = """\
actors:
  Partner5:
    kind: partner
    groups: [ops]
    users:
      jdoe: {password_hash: "HASH", groups: [ops]}
      part1: {password_hash: "HASH"}
      part1: {password_hash: "HASH", enabled: false}
  Acme:
    kind: application
    groups: [acme-team]
    users:
      acme-app: {password_hash: "HASH"}
""".replace("HASH", HASH)
_P5_JDOE = ("actors.yaml", "actors", "Partner5", "users", "jdoe")
_PARTNERS = ("vfs.yaml", "vfs", "partners")
_C0 = ("contracts.yaml", "contracts", 0)
_C1 = ("contracts.yaml", "contracts", 1)


def case(mutator: Mutator, expected: str, id: str, count: int = 1) -> Any:
    return pytest.param(mutator, expected, count, id=id)


BROKEN = [
    # gateway.yaml
    case(
        put("gateway.yaml", "serverx", value={}),
        "gateway.yaml: serverx: unknown key. Did you mean 'server'?",
        "top-key",
    ),
    case(
        put("gateway.yaml", "server", value={"session_idle_seconds": "30 minutes"}),
        "gateway.yaml: server.session_idle_seconds: expected a positive whole number, got a string",
        "idle-type",
    ),
    case(
        put("gateway.yaml", "server", value={"session_absolute_seconds": 60}),
        "gateway.yaml: server.session_absolute_seconds: the absolute session lifetime (60s) is shorter",
        "absolute-shorter",
    ),
    case(
        put("gateway.yaml", "server", value={"trusted_proxies": ["10.0.0.1/8"]}),
        "gateway.yaml: server.trusted_proxies[0]: invalid IP address or CIDR network '10.0.0.1/8'",
        "proxy-cidr",
    ),
    case(
        put("gateway.yaml", "server", value={"trusted_proxies": "10.0.0.0/8"}),
        "gateway.yaml: server.trusted_proxies: expected a list, got a string",
        "proxy-type",
    ),
    case(
        put("gateway.yaml", "server", value={"max_upload_bytes": "10 GB/s"}),
        "gateway.yaml: server.max_upload_bytes: invalid size '10 GB/s'. Hint: write a whole number",
        "size-text",
    ),
    case(
        put("gateway.yaml", "server", value={"max_metadata_bytes": -5}),
        "gateway.yaml: server.max_metadata_bytes: a size must be positive",
        "size-negative",
    ),
    case(
        put("gateway.yaml", "server", value={"dispatch_concurrency": 0}),
        "gateway.yaml: server.dispatch_concurrency: expected a whole number from 1 to 256, got 0",
        "dispatch-concurrency-zero",
    ),
    case(
        put("gateway.yaml", "server", value={"dispatch_concurrency": 257}),
        "gateway.yaml: server.dispatch_concurrency: expected a whole number from 1 to 256, got 257",
        "dispatch-concurrency-high",
    ),
    case(
        put("gateway.yaml", "server", value={"dispatch_concurrency": 2.5}),
        "gateway.yaml: server.dispatch_concurrency: expected a whole number from 1 to 256, got 2.5",
        "dispatch-concurrency-float",
    ),
    case(
        put("gateway.yaml", "server", value={"dispatch_concurrency": True}),
        "gateway.yaml: server.dispatch_concurrency: expected a whole number from 1 to 256, got true",
        "dispatch-concurrency-bool",
    ),
    case(
        put("gateway.yaml", "server", value={"dispatch_poll_seconds": 0}),
        "gateway.yaml: server.dispatch_poll_seconds: expected a number of seconds greater than 0 and at most 60, got 0",
        "dispatch-poll-zero",
    ),
    case(
        put("gateway.yaml", "server", value={"dispatch_poll_seconds": 60.5}),
        "gateway.yaml: server.dispatch_poll_seconds: expected a number of seconds greater than 0 and at most 60, "
        "got 60.5",
        "dispatch-poll-high",
    ),
    case(
        put("gateway.yaml", "server", value={"dispatch_poll_seconds": "1s"}),
        "gateway.yaml: server.dispatch_poll_seconds: expected a number of seconds greater than 0 and at most 60, "
        "got a string",
        "dispatch-poll-type",
    ),
    case(
        put("gateway.yaml", "server", value={"expiry_sweep_seconds": -1}),
        "gateway.yaml: server.expiry_sweep_seconds: expected a number of seconds of at least 0, got -1",
        "expiry-sweep-negative",
    ),
    case(
        put("gateway.yaml", "server", value={"expiry_sweep_seconds": float("inf")}),
        "gateway.yaml: server.expiry_sweep_seconds: expected a number of seconds of at least 0, got inf",
        "expiry-sweep-infinite",
    ),
    case(
        put("gateway.yaml", "server", value={"dispatch_workers": 4}),
        "gateway.yaml: server.dispatch_workers: unknown key. Did you mean 'dispatch_concurrency'?",
        "dispatch-key",
    ),
    case(
        put("gateway.yaml", "server", value={"cookie_samesite": "sometimes"}),
        "gateway.yaml: server.cookie_samesite: unknown value 'sometimes'. Hint: choose one of: lax, strict, none",
        "samesite",
    ),
    case(
        put("gateway.yaml", "server", value={"http_server": "hypercorn"}),
        "gateway.yaml: server.http_server: unknown HTTP server 'hypercorn'. Hint: choose one of: uvicorn, granian",
        "http-server",
    ),
    case(
        put("gateway.yaml", "server", value={"workers": 0}),
        "gateway.yaml: server.workers: expected 'auto' or a whole number from 1 to 64, got 0",
        "workers-zero",
    ),
    case(
        put("gateway.yaml", "server", value={"workers": "all"}),
        "gateway.yaml: server.workers: expected 'auto' or a whole number from 1 to 64, got a string",
        "workers-text",
    ),
    case(
        put("gateway.yaml", "server", value={"http_server": True}),
        "gateway.yaml: server.http_server: expected a string, got a boolean",
        "http-server-type",
    ),
    case(
        put("gateway.yaml", "server", value={"request_head_seconds": 0}),
        "gateway.yaml: server.request_head_seconds: expected a number of seconds greater than 0 and at most 3600",
        "head-seconds-zero",
    ),
    case(
        put("gateway.yaml", "server", value={"body_idle_seconds": "slow"}),
        "gateway.yaml: server.body_idle_seconds: expected a number of seconds greater than 0",
        "body-idle-text",
    ),
    case(
        put("gateway.yaml", "server", value={"keep_alive_seconds": -1}),
        "gateway.yaml: server.keep_alive_seconds: expected a number of seconds greater than 0",
        "keep-alive-negative",
    ),
    case(
        put("gateway.yaml", "server", value={"max_connections_per_address": -1}),
        "gateway.yaml: server.max_connections_per_address: expected a whole number from 0 to 1000000, got -1",
        "per-address-negative",
    ),
    case(
        put("gateway.yaml", "server", value={"max_header_bytes": "1KiB"}),
        "gateway.yaml: server.max_header_bytes: expected a size from 8KiB to 1MiB, got 1024 bytes",
        "header-bytes-small",
    ),
    case(
        put("gateway.yaml", "server", value={"max_header_bytes": "2 MiB"}),
        "gateway.yaml: server.max_header_bytes: expected a size from 8KiB to 1MiB",
        "header-bytes-large",
    ),
    case(drop("gateway.yaml", "storages", "default", "root"), "gateway.yaml: storages.default.root: missing", "root"),
    case(
        put("gateway.yaml", "storages", "archive", "type", value="s3"),
        "gateway.yaml: storages.archive.type: unknown storage type 's3'. Hint: choose one of: local",
        "storage-type",
    ),
    case(
        put("gateway.yaml", "storages", "default", "durable", value="yes please"),
        "gateway.yaml: storages.default.durable: expected a boolean (true or false), got a string",
        "durable-type",
    ),
    case(
        put("gateway.yaml", "storages", "default", "inline_small_reads", value=1),
        "gateway.yaml: storages.default.inline_small_reads: expected a boolean (true or false), got an integer",
        "inline-small-reads-type",
    ),
    case(
        put("gateway.yaml", "storages", "default", "inline_small_writes", value="no"),
        "gateway.yaml: storages.default.inline_small_writes: expected a boolean (true or false), got a string",
        "inline-small-writes-type",
    ),
    # actors.yaml
    case(drop("actors.yaml"), "actors.yaml: file not found (it is required)", "actors-missing"),
    case(
        put("actors.yaml", "actors", "Partner5", "kind", value="vendor"),
        "actors.yaml: actors.Partner5.kind: unknown actor kind 'vendor'. Hint: choose one of: partner, application",
        "actor-kind",
    ),
    case(drop("actors.yaml", "actors", "Acme", "kind"), "actors.yaml: actors.Acme.kind: missing required key", "kind"),
    case(
        put(*_P5_JDOE, "password_hash", value="hunter2"),
        "actors.yaml: actors.Partner5.users.jdoe.password_hash: not an argon2 hash (it must start with '$argon2'); "
        "plaintext passwords are not accepted. Hint: run `mft-gateway hash-password`",
        "plaintext",
    ),
    case(
        put(*_P5_JDOE, "groups", value=["opz"]),
        "actors.yaml: actors.Partner5.users.jdoe.groups[0]: unknown group 'opz'. "
        "Hint: groups of actor 'Partner5' are: ops",
        "user-group-unknown",
    ),
    case(
        put(*_P5_JDOE, "groups", value=["ops", "acme-team"]),
        "actors.yaml: actors.Partner5.users.jdoe.groups[1]: group 'acme-team' belongs to actor 'Acme', "
        "not to the user's actor 'Partner5'",
        "user-group-other-actor",
    ),
    case(
        put("actors.yaml", "actors", "Acme", "users", "jdoe", value={"password_hash": HASH}),
        "actors.yaml: actors.Acme.users.jdoe: duplicate user name 'jdoe' (already declared by actor 'Partner5')",
        "user-duplicate",
    ),
    case(
        put("actors.yaml", "actors", "Acme", "groups", value=["ops"]),
        "actors.yaml: actors.Acme.groups[0]: duplicate group name 'ops' (already declared by actor 'Partner5')",
        "group-duplicate",
    ),
    case(
        put(*_P5_JDOE, value={"pasword_hash": HASH}),
        "actors.yaml: actors.Partner5.users.jdoe.pasword_hash: unknown key. Did you mean 'password_hash'?",
        "user-key-typo",
        count=2,  # and: password_hash is missing
    ),
    case(
        put(*_P5_JDOE, "admin", value="yes"),
        "actors.yaml: actors.Partner5.users.jdoe.admin: expected a boolean (true or false), got a string",
        "admin-type",
    ),
    case(
        put(*_P5_JDOE, "enabled", value="no way"),
        "actors.yaml: actors.Partner5.users.jdoe.enabled: expected a boolean",
        "enabled-type",
    ),
    case(
        put("actors.yaml", "actors", value=["Partner5"]),
        "actors.yaml: actors: expected a mapping of actor names, got a list",
        "actors-type",  # alone: references into an unusable file are not checked
    ),
    case(
        put("actors.yaml", "actors", 123, value={"kind": "partner"}),
        "actors.yaml: actors.123: the actor name must be a string, got an integer. Hint: quote it",
        "actor-name-type",
    ),
    case(
        raw("actors.yaml", _DUPLICATE_USER),
        "actors.yaml: line 8: duplicate key 'part1' (YAML would silently keep only the last one)",
        "yaml-duplicate-key",
    ),
    # vfs.yaml
    case(drop("vfs.yaml"), "vfs.yaml: file not found (it is required)", "vfs-missing"),
    case(
        put(*_PARTNERS, "actor", value="Nobody"),
        "vfs.yaml: vfs.partners.actor: unknown actor 'Nobody'. Hint: known actors are: Partner5, Acme",
        "vfs-actor",
    ),
    case(drop("vfs.yaml", "vfs", "internal", "actor"), "vfs.yaml: vfs.internal.actor: missing required key", "actor"),
    case(
        put(*_PARTNERS, "storage", value="tape"),
        "vfs.yaml: vfs.partners.storage: unknown storage 'tape'. Hint: known storages are: default, archive",
        "vfs-storage",
    ),
    case(
        put(*_PARTNERS, "paths", "/inbox/archive", "storage", value="tape"),
        "vfs.yaml: vfs.partners.paths[\"/inbox/archive\"].storage: unknown storage 'tape'",
        "folder-storage",
    ),
    case(
        put(*_PARTNERS, "paths", "/in/../x", value=None),
        "vfs.yaml: vfs.partners.paths[\"/in/../x\"]: invalid path '/in/../x': Invalid path:",
        "folder-invalid",
    ),
    case(
        put(*_PARTNERS, "paths", "/", value=None),
        'vfs.yaml: vfs.partners.paths["/"]: the root always exists and cannot be declared',
        "folder-root",
    ),
    case(
        put(*_PARTNERS, "paths", "outbox/", value=None),
        "vfs.yaml: vfs.partners.paths[\"outbox/\"]: folder '/outbox' is declared twice",
        "folder-twice",
    ),
    case(
        put(*_PARTNERS, "paths", value=["/inbox"]),
        "vfs.yaml: vfs.partners.paths: expected a mapping of virtual paths, got a list",
        "paths-type",
        count=2,  # and the ACL entry on /inbox
    ),
    case(
        put("gateway.yaml", "storages", value={"fast": {"root": "f"}, "archive": {"root": "a"}}),
        "vfs.yaml: vfs.partners.storage: missing required key: there is no storage named 'default'",
        "vfs-storage-ambiguous",
        count=2,  # and vfs.internal.storage
    ),
    case(
        put(*_PARTNERS, "permissions", 1, "user", value="nobody"),
        "vfs.yaml: vfs.partners.permissions[1].user: unknown user 'nobody'. "
        "Hint: known users are: jdoe, part1, acme-app",
        "acl-user",
    ),
    case(
        put(*_PARTNERS, "permissions", 0, "group", value="opz"),
        "vfs.yaml: vfs.partners.permissions[0].group: unknown group 'opz'. Hint: known groups are: ops, acme-team",
        "acl-group",
    ),
    case(
        put(*_PARTNERS, "permissions", 1, "user", value="acme-app"),
        "vfs.yaml: vfs.partners.permissions[1].user: user 'acme-app' belongs to actor 'Acme', not to the VFS's actor "
        "'Partner5'. Hint: Partner5's users are: jdoe, part1",
        "acl-user-other-actor",
    ),
    case(
        put(*_PARTNERS, "permissions", 0, "user", value="jdoe"),
        "vfs.yaml: vfs.partners.permissions[0]: give exactly one of 'user' or 'group'",
        "acl-user-and-group",
    ),
    case(
        drop(*_PARTNERS, "permissions", 0, "group"),
        "vfs.yaml: vfs.partners.permissions[0]: give exactly one of 'user' or 'group'",
        "acl-nobody",
    ),
    case(
        put(*_PARTNERS, "permissions", 1, "path", value="/inbx"),
        "vfs.yaml: vfs.partners.permissions[1].path: '/inbx' is not a folder of this VFS. "
        "Hint: folders are: /, /inbox, /inbox/archive, /outbox",
        "acl-path",
    ),
    case(
        put(*_PARTNERS, "permissions", 1, "allow", value=["list", "uplaod"]),
        "vfs.yaml: vfs.partners.permissions[1].allow[1]: unknown permission 'uplaod'. "
        "Hint: choose one of: list, create, upload, download, delete, rename, all",
        "acl-permission",
    ),
    case(
        drop(*_PARTNERS, "permissions", 1, "allow"),
        "vfs.yaml: vfs.partners.permissions[1].allow: missing required key",
        "acl-allow",
    ),
    case(
        append(*_PARTNERS, "permissions", value={"user": "part1", "path": "/inbox/", "allow": ["upload"]}),
        "vfs.yaml: vfs.partners.permissions[2]: a second entry for the same user/group and path '/inbox' "
        "(first: vfs.partners.permissions[1])",
        "acl-duplicate",
    ),
    case(
        put(*_PARTNERS, "retention", value={"after_put_hours": -1}),
        "vfs.yaml: vfs.partners.retention.after_put_hours: expected a positive number of hours, got -1",
        "retention",
    ),
    case(
        put(*_PARTNERS, "retention", value={"after_get_hours": 1}),
        "vfs.yaml: vfs.partners.retention.after_get_hours: unknown key. Did you mean 'after_put_hours'?",
        "retention-key",
    ),
    case(
        put(*_PARTNERS, "limits", value={"max_file_size": "lots"}),
        "vfs.yaml: vfs.partners.limits.max_file_size: invalid size 'lots'",
        "limits",
    ),
    case(raw("vfs.yaml", "vfs:\n  a: [unclosed\n"), "vfs.yaml: invalid YAML: line 3, column 1:", "yaml-syntax"),
    case(raw("vfs.yaml", "- partners\n"), "vfs.yaml: expected a mapping, got a list", "yaml-top-list"),
    # contracts.yaml
    case(drop("contracts.yaml"), "contracts.yaml: file not found (it is required)", "contracts-missing"),
    case(raw("contracts.yaml", ""), "contracts.yaml: contracts: missing required key", "contracts-empty"),
    case(
        put(*_C0, "vfs", value="inboxx"),
        "contracts.yaml: contracts[0].vfs: unknown VFS 'inboxx'. Hint: known VFSs are: partners, internal",
        "contract-vfs",
    ),
    case(
        put(*_C1, "vfs", value="partners"),
        "contracts.yaml: contracts[1].vfs: VFS 'partners' belongs to actor 'Partner5', not to the contract's actor "
        "'Acme'. Hint: Acme's VFSs are: internal",
        "contract-vfs-other-actor",
    ),
    case(
        put(*_C0, "actor", value="Partner55"),
        "contracts.yaml: contracts[0].actor: unknown actor 'Partner55'. Hint: known actors are: Partner5, Acme",
        "contract-actor",
    ),
    case(
        put(*_C0, "user", value="ghost"),
        "contracts.yaml: contracts[0].user: unknown user 'ghost'. Hint: known users are: jdoe, part1, acme-app",
        "contract-user",
    ),
    case(
        put(*_C0, "user", value="acme-app"),
        "contracts.yaml: contracts[0].user: user 'acme-app' belongs to actor 'Acme', not to the contract's actor "
        "'Partner5'. Hint: Partner5's users are: jdoe, part1",
        "contract-user-other-actor",
    ),
    case(
        put(*_C1, "group", value="ops"),
        "contracts.yaml: contracts[1].group: group 'ops' belongs to actor 'Partner5', not to the contract's actor "
        "'Acme'. Hint: Acme's groups are: acme-team",
        "contract-group-other-actor",
    ),
    case(
        put(*_C0, "group", value="opz"),
        "contracts.yaml: contracts[0].group: unknown group 'opz'. Hint: known groups are: ops, acme-team",
        "contract-group",
    ),
    case(
        put(*_C0, "path", value="/nowhere"),
        "contracts.yaml: contracts[0].path: '/nowhere' is not a folder of VFS 'partners'. "
        "Hint: its folders are: /, /inbox, /inbox/archive, /outbox",
        "contract-path",
    ),
    case(
        put(*_C0, "path", value="/inbox/.."),
        "contracts.yaml: contracts[0].path: invalid path '/inbox/..'",
        "contract-path-invalid",
    ),
    case(
        put(*_C1, "name", value="p5"),
        "contracts.yaml: contracts[1].name: duplicate contract name 'p5' (first used by contracts[0])",
        "contract-name",
    ),
    case(drop(*_C0, "name"), "contracts.yaml: contracts[0].name: missing required key", "contract-no-name"),
    case(
        append(
            "contracts.yaml",
            "contracts",
            value={"name": "p5b", "actor": "Partner5", "protocol": "https", "vfs": "partners"},
        ),
        "contracts.yaml: contracts[2]: another enabled contract ('p5' at contracts[0]) already binds actor 'Partner5' "
        "(all its users) on protocol 'https'. Hint: one connection contract per (actor, server)",
        "contract-binding",
    ),
    case(
        put(*_C1, "protocol", value="ftp"),
        "contracts.yaml: contracts[1].protocol: unknown protocol 'ftp'. Hint: choose one of: http, https",
        "contract-protocol",
    ),
    case(
        put(*_C0, "protocols", value=["http", "sftp"]),
        "contracts.yaml: contracts[0].protocols[1]: unknown protocol 'sftp'",
        "contract-protocols",
    ),
    case(
        put(*_C0, "protocol", value="http"),
        "contracts.yaml: contracts[0]: give either 'protocol' or 'protocols', not both",
        "contract-protocol-both",
    ),
    case(drop(*_C1, "protocol"), "contracts.yaml: contracts[1].protocol: missing required key", "contract-no-protocol"),
    case(
        put(*_C0, "protocols", value=[]),
        "contracts.yaml: contracts[0].protocols: must list at least one protocol",
        "contract-protocols-empty",
    ),
    case(
        put(*_C0, "direction", value="sideways"),
        "contracts.yaml: contracts[0].direction: unknown direction 'sideways'. "
        "Hint: choose one of: input, output, both",
        "contract-direction",
    ),
    case(
        put(*_C0, "metadata", value={"QUEUE": ["a", "b"]}),
        "contracts.yaml: contracts[0].metadata.QUEUE: expected a string or another scalar value, got a list",
        "contract-metadata",
    ),
    case(
        both(put(*_C0, "user", value="jdoe"), put(*_C0, "group", value="ops")),
        "contracts.yaml: contracts[0]: give at most one of 'user' or 'group'",
        "contract-user-and-group",
    ),
    case(
        put("contracts.yaml", "contracts", value={"p5": {}}),
        "contracts.yaml: contracts: expected a list, got a mapping",
        "contracts-type",
    ),
    case(
        put(*_C0, "vfss", value="partners"),
        "contracts.yaml: contracts[0].vfss: unknown key. Did you mean 'vfs'?",
        "contract-key",
    ),
    case(
        put(*_C0, "enabled", value="off"),
        "contracts.yaml: contracts[0].enabled: expected a boolean (true or false), got a string",
        "contract-enabled",
    ),
]


@pytest.mark.parametrize(("mutator", "expected", "count"), BROKEN)
def test_load_config_broken_config_reports_file_and_key(
    tmp_path: Path, mutator: Mutator, expected: str, count: int
) -> None:
    config_dir = _configure(tmp_path, mutator)
    errors = collect_errors(config_dir, tmp_path)
    assert any(expected in error for error in errors), errors
    assert len(errors) == count, errors
    with pytest.raises(ConfigurationError) as info:
        load_config(config_dir, tmp_path)
    assert info.value.message.splitlines() == errors


def test_load_config_several_problems_are_all_reported_one_per_line(tmp_path: Path) -> None:
    config_dir = _configure(
        tmp_path,
        put("gateway.yaml", "server", value={"cookie_samesite": "never"}),
        put(*_P5_JDOE, "password_hash", value="plain"),
        put(*_PARTNERS, "permissions", 1, "allow", value=["uplaod"]),
        put(*_C0, "vfs", value="inboxx"),
        put(*_C1, "direction", value="up"),
    )
    with pytest.raises(ConfigurationError) as info:
        load_config(config_dir, tmp_path)
    lines = info.value.message.splitlines()
    assert [line.split(": ", 2)[1] for line in lines] == [
        "server.cookie_samesite",
        "actors.Partner5.users.jdoe.password_hash",
        "vfs.partners.permissions[1].allow[0]",
        "contracts[0].vfs",
        "contracts[1].direction",
    ]
    assert [Path(line.split(": ", 1)[0]).name for line in lines] == [
        "gateway.yaml",
        "actors.yaml",
        "vfs.yaml",
        "contracts.yaml",
        "contracts.yaml",
    ]


def test_load_config_plaintext_password_is_not_echoed(tmp_path: Path) -> None:
    config_dir = _configure(tmp_path, put(*_P5_JDOE, "password_hash", value="Tr0ub4dor&3"))
    errors = collect_errors(config_dir, tmp_path)
    assert errors and not any("Tr0ub4dor" in error for error in errors)


def test_load_config_file_below_cwd_is_shown_relative(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _configure(tmp_path, put(*_C0, "vfs", value="inboxx"))
    monkeypatch.chdir(tmp_path)
    errors = collect_errors(Path("cfg"), Path("data"))
    assert errors == [
        "cfg/contracts.yaml: contracts[0].vfs: unknown VFS 'inboxx'. Hint: known VFSs are: partners, internal"
    ]
    assert collect_errors(tmp_path / "cfg", tmp_path)[0].startswith("cfg/contracts.yaml: ")


def test_load_config_file_outside_cwd_is_shown_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config_dir = _configure(tmp_path, put(*_C0, "vfs", value="inboxx"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert collect_errors(config_dir, tmp_path)[0].startswith(f"{config_dir / 'contracts.yaml'}: contracts[0].vfs")


def test_load_config_missing_folder_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="the configuration folder does not exist"):
        load_config(tmp_path / "nope", tmp_path)


def test_load_config_yml_extension_gets_a_rename_hint(tmp_path: Path) -> None:
    config_dir = _configure(tmp_path)
    (config_dir / "vfs.yaml").rename(config_dir / "vfs.yml")
    errors = collect_errors(config_dir, tmp_path)
    assert len(errors) == 1
    assert errors[0].endswith("vfs.yaml: file not found (it is required). Hint: rename vfs.yml to vfs.yaml")


def test_load_config_invalid_utf8_is_reported(tmp_path: Path) -> None:
    config_dir = _configure(tmp_path)
    (config_dir / "gateway.yaml").write_bytes(b"server:\n  cookie_samesite: \xff\n")
    errors = collect_errors(config_dir, tmp_path)
    assert len(errors) == 1
    assert "gateway.yaml: not valid UTF-8" in errors[0]
