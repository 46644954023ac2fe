"""Contract actions in ``contracts.yaml``: webhooks, commands and routes, their trigger and retry.

Uses the small valid configuration of ``test_loader`` with three actions on contract ``p5``
(one of each kind); each broken variation must yield exactly the expected problem.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from gateway.config._templates import ARGV_PLACEHOLDERS, argv_fields
from gateway.config.loader import collect_errors, load_config
from gateway.config.schema import (
    Action,
    CommandAction,
    RetryPolicy,
    RouteAction,
    Trigger,
    WebhookAction,
)
from gateway.core.paths import VirtualPath
from gateway.errors import ConfigurationError
from tests.config.test_loader import DEMO, Config, Mutator, _configure, both, case, drop, put, raw

WEBHOOK: dict[str, Any] = {
    "name": "notify-erp",
    "on": ["upload", "metadata"],
    "path": "/inbox/*.xml",
    "metadata": {"QUEUE_NAME": "Q1", "LEVEL": 3},
    "params": {"priority": "high", "retries": 2, "urgent": True},
    "retry": {"max_attempts": 7, "backoff_seconds": 0.5, "max_backoff_seconds": 60},
    "enabled": False,
    "webhook": {
        "url": "https://erp.example:8443/hooks/mft?source=gw",
        "headers": {"Authorization": "Bearer t0k3n", "X-Count": 1},
        "timeout_seconds": 2.5,
        "secret": "hmac-key",
    },
}
COMMAND: dict[str, Any] = {
    "name": "ingest",
    "on": ["upload"],
    "command": {
        "argv": ["/usr/local/bin/ingest", "--file", "{path}", "{{literal}}", "--p={param.priority}"],
        "env": {"MODE": "batch", "N": 4},
        "cwd": "/var/tmp",
        "timeout_seconds": 120,
        "max_output_bytes": "1MiB",
    },
}
ROUTE: dict[str, Any] = {
    "name": "to-acme",
    "on": ["expire", "delete"],
    "path": "*",
    "route": {"vfs": "internal", "path": "/", "mode": "move"},
}
_A = ("contracts.yaml", "contracts", 0, "actions")


def _with_actions(config: Config) -> None:
    config["contracts.yaml"]["contracts"][0]["actions"] = copy.deepcopy([WEBHOOK, COMMAND, ROUTE])


def _load(tmp_path: Path, *mutators: Mutator) -> Any:
    return load_config(_configure(tmp_path, _with_actions, *mutators), tmp_path)


def _errors(tmp_path: Path, *mutators: Mutator) -> list[str]:
    return collect_errors(_configure(tmp_path, _with_actions, *mutators), tmp_path)


# --- valid actions -----------------------------------------------------------------------------


def test_load_config_actions_of_each_kind_are_parsed(tmp_path: Path) -> None:
    p5_http, p5_https = _load(tmp_path).contracts[:2]
    assert p5_http.actions == (
        Action(
            name="notify-erp",
            kind="webhook",
            trigger=Trigger(
                events=frozenset({"upload", "metadata"}),
                path="/inbox/*.xml",
                metadata=MappingProxyType({"QUEUE_NAME": "Q1", "LEVEL": "3"}),
            ),
            webhook=WebhookAction(
                url="https://erp.example:8443/hooks/mft?source=gw",
                headers=MappingProxyType({"Authorization": "Bearer t0k3n", "X-Count": "1"}),
                timeout_seconds=2.5,
                secret="hmac-key",
            ),
            params=MappingProxyType({"priority": "high", "retries": "2", "urgent": "true"}),
            retry=RetryPolicy(max_attempts=7, backoff_seconds=0.5, max_backoff_seconds=60.0),
            enabled=False,
        ),
        Action(
            name="ingest",
            kind="command",
            trigger=Trigger(events=frozenset({"upload"})),
            command=CommandAction(
                argv=("/usr/local/bin/ingest", "--file", "{path}", "{{literal}}", "--p={param.priority}"),
                env=MappingProxyType({"MODE": "batch", "N": "4"}),
                cwd=Path("/var/tmp"),
                timeout_seconds=120.0,
                max_output_bytes=2**20,
            ),
        ),
        Action(
            name="to-acme",
            kind="route",
            trigger=Trigger(events=frozenset({"expire", "delete"})),
            route=RouteAction(vfs="internal", path=VirtualPath(), mode="move"),
        ),
    )
    assert p5_https.actions is p5_http.actions  # protocols: [http, https] share one tuple
    assert p5_http.actions[0].webhook is not None and p5_http.actions[0].webhook.secret == "hmac-key"
    assert "hmac-key" not in repr(p5_http.actions[0])


def test_load_config_action_defaults_apply(tmp_path: Path) -> None:
    actions = [
        {"name": "w", "on": ["upload"], "webhook": {"url": "http://hooks.example"}},
        {"name": "c", "on": ["download"], "command": {"argv": ["/bin/true"]}},
        {"name": "r", "on": ["upload"], "route": {"vfs": "partners", "path": "/outbox"}},
    ]
    contract = _load(tmp_path, put(*_A, value=actions)).contracts[0]
    assert contract.actions == (
        Action("w", "webhook", Trigger(frozenset({"upload"})), webhook=WebhookAction("http://hooks.example")),
        Action("c", "command", Trigger(frozenset({"download"})), command=CommandAction(("/bin/true",))),
        Action("r", "route", Trigger(frozenset({"upload"})), route=RouteAction("partners", VirtualPath(("outbox",)))),
    )
    webhook, command, route = contract.actions
    assert (webhook.trigger.path, dict(webhook.trigger.metadata), dict(webhook.params)) == ("*", {}, {})
    assert (webhook.retry, webhook.enabled) == (RetryPolicy(5, 2.0, 300.0), True)
    assert webhook.webhook == WebhookAction("http://hooks.example", MappingProxyType({}), 10.0, None)
    assert command.command == CommandAction(("/bin/true",), MappingProxyType({}), None, 60.0, 65536)
    assert route.route is not None and route.route.mode == "copy"


def test_load_config_contract_without_actions_has_none(tmp_path: Path) -> None:
    config = _load(tmp_path)
    assert [c.actions for c in config.contracts[2:]] == [()]


def test_load_config_route_may_target_another_actors_vfs(tmp_path: Path) -> None:
    route = {"name": "to-partner", "on": ["upload"], "route": {"vfs": "partners", "path": "/inbox/archive"}}
    config = _load(tmp_path, put("contracts.yaml", "contracts", 1, "actions", value=[route]))
    assert config.contracts[-1].actor == "Acme"
    assert config.contracts[-1].actions[0].route == RouteAction("partners", VirtualPath(("inbox", "archive")))


def test_load_config_same_action_name_in_two_contracts_is_allowed(tmp_path: Path) -> None:
    again = {"name": "notify-erp", "on": ["upload"], "webhook": {"url": "https://erp.example"}}
    config = _load(tmp_path, put("contracts.yaml", "contracts", 1, "actions", value=[again]))
    assert [a.name for c in config.contracts for a in c.actions].count("notify-erp") == 3


def test_load_config_max_output_bytes_may_be_zero(tmp_path: Path) -> None:
    for zero in (0, "0"):
        contract = _load(tmp_path, put(*_A, 1, "command", "max_output_bytes", value=zero)).contracts[0]
        assert contract.actions[1].command is not None and contract.actions[1].command.max_output_bytes == 0


def test_load_config_plain_on_key_is_the_event_list(tmp_path: Path) -> None:
    """``on:`` unquoted is a boolean key in YAML 1.1; the loader reads it as the text ``on``."""
    contracts = """\
contracts:
  - name: p5
    actor: Partner5
    protocols: [http, https]
    vfs: partners
    actions:
      - name: notify
        on: [upload, delete]
        webhook: {url: "https://erp.example/hook"}
      - name: Ingest
        On: [upload]
        command: {argv: [/bin/true]}
  - {name: acme, actor: Acme, protocol: https, vfs: internal}
"""
    errors = collect_errors(_configure(tmp_path, raw("contracts.yaml", contracts)), tmp_path)
    assert len(errors) == 2, errors
    assert "contracts.yaml: contracts[0].actions[1].On: unknown key. Did you mean 'on'?" in errors[0]
    assert errors[1].endswith("contracts.yaml: contracts[0].actions[1].on: missing required key")
    fixed = load_config(_configure(tmp_path, raw("contracts.yaml", contracts.replace("On:", "on:"))), tmp_path)
    assert [a.trigger.events for a in fixed.contracts[0].actions] == [
        frozenset({"upload", "delete"}),
        frozenset({"upload"}),
    ]


def test_demo_contracts_commented_action_examples_are_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The commented-out examples under partner5-http, uncommented, load as documented."""
    text = (DEMO / "contracts.yaml").read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    start = lines.index("    # actions:\n")
    end = start
    while lines[end].startswith("    #"):
        end += 1
    lines[start:end] = [re.sub(r"^    # ", "    ", line) for line in lines[start:end]]
    config_dir = tmp_path / "demo"
    config_dir.mkdir()
    for name in ("gateway.yaml", "actors.yaml", "vfs.yaml"):
        (config_dir / name).write_bytes((DEMO / name).read_bytes())
    (config_dir / "contracts.yaml").write_text("".join(lines), encoding="utf-8")
    monkeypatch.delenv("ERP_TOKEN", raising=False)
    monkeypatch.delenv("ERP_HOOK_SECRET", raising=False)
    assert len(collect_errors(config_dir, tmp_path)) == 2  # the two variables are not set
    monkeypatch.setenv("ERP_TOKEN", "tok")
    monkeypatch.setenv("ERP_HOOK_SECRET", "key")
    actions = load_config(config_dir, tmp_path).contracts[0].actions
    assert [(a.name, a.kind) for a in actions] == [
        ("notify-erp", "webhook"),
        ("ingest", "command"),
        ("to-acme", "route"),
    ]
    assert actions[0].webhook is not None and dict(actions[0].webhook.headers) == {"Authorization": "Bearer tok"}
    assert actions[2].route == RouteAction("acme", VirtualPath(("in",)), "copy")
    documented = re.findall(r"\{(\w+)\}", text.split("Each argv entry may contain placeholders", 1)[1])
    assert set(ARGV_PLACEHOLDERS) <= set(documented)


# --- argv placeholders ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        ("--file={path}", ["path"]),
        ("{vfs}:{folder}/{name}", ["vfs", "folder", "name"]),
        ("{{path}}", []),
        ("{{{path}}}", ["path"]),
        ("{param.queue-name}", ["param.queue-name"]),
        ("plain", []),
    ],
)
def test_argv_fields_finds_placeholders_and_skips_doubled_braces(text: str, fields: list[str]) -> None:
    assert argv_fields(text) == fields


@pytest.mark.parametrize("text", ["{path", "path}", "{{path}", "}{"])
def test_argv_fields_lone_brace_raises(text: str) -> None:
    with pytest.raises(ValueError, match="a lone"):
        argv_fields(text)


def test_load_config_every_documented_placeholder_is_accepted(tmp_path: Path) -> None:
    argv = ["/bin/echo", *("{" + p + "}" for p in ARGV_PLACEHOLDERS), "{param.x}", "{param.a.b_c1}", "{param.2}"]
    contract = _load(tmp_path, put(*_A, 1, "command", "argv", value=argv)).contracts[0]
    assert contract.actions[1].command is not None and contract.actions[1].command.argv == tuple(argv)


# --- broken actions ------------------------------------------------------------------------------

_W = (*_A, 0, "webhook")
_C = (*_A, 1, "command")
_R = (*_A, 2, "route")
_WHERE = "contracts.yaml: contracts[0].actions"
_EVENTS = "upload, download, delete, metadata, expire"

BROKEN = [
    # the action itself
    case(drop(*_A, 0, "name"), f"{_WHERE}[0].name: missing required key", "name-missing"),
    case(put(*_A, 0, "name", value=5), f"{_WHERE}[0].name: expected a string, got an integer", "name-type"),
    case(put(*_A, 0, "name", value=" x"), f"{_WHERE}[0].name: invalid action name ' x'", "name-blank"),
    case(
        put(*_A, 1, "name", value="notify-erp"),
        f"{_WHERE}[1].name: duplicate action name 'notify-erp' in this contract (first used by "
        "contracts[0].actions[0])",
        "name-duplicate",
    ),
    case(drop(*_A, 1, "on"), f"{_WHERE}[1].on: missing required key", "on-missing"),
    case(
        put(*_A, 1, "on", value=[]),
        f"{_WHERE}[1].on: must list at least one event type. Hint: choose from: {_EVENTS}",
        "on-empty",
    ),
    case(
        put(*_A, 0, "on", value=["upload", "uplaod"]),
        f"{_WHERE}[0].on[1]: unknown event type 'uplaod'. Hint: choose one of: {_EVENTS}",
        "on-unknown",
    ),
    case(put(*_A, 0, "on", value=["upload", "upload"]), f"{_WHERE}[0].on[1]: 'upload' is listed twice", "on-twice"),
    case(put(*_A, 0, "on", value="upload"), f"{_WHERE}[0].on: expected a list, got a string", "on-type"),
    case(
        drop(*_A, 2, "route"),
        f"{_WHERE}[2]: give exactly one of 'webhook', 'command', 'route' or 'task' (it decides what the action does); "
        "got none",
        "kind-missing",
    ),
    case(
        put(*_A, 2, "webhook", value={"url": "https://erp.example"}),
        f"{_WHERE}[2]: give exactly one of 'webhook', 'command', 'route' or 'task' (it decides what the action does); "
        "got 'webhook' and 'route'",
        "kind-two",
    ),
    case(
        both(
            put(*_A, 2, "webhook", value={"url": "https://x.example"}), put(*_A, 2, "command", value={"argv": ["/a"]})
        ),
        "got 'webhook' and 'command' and 'route'",
        "kind-three",
    ),
    case(put(*_A, 0, "enable", value=True), f"{_WHERE}[0].enable: unknown key. Did you mean 'enabled'?", "key"),
    case(put(*_A, 0, "enabled", value="no"), f"{_WHERE}[0].enabled: expected a boolean", "enabled-type"),
    case(
        put(*_A, 0, "path", value="inbox/*.xml"),
        f"{_WHERE}[0].path: invalid path pattern 'inbox/*.xml': it must start with '/' (or be '*', any path)",
        "path-relative",
    ),
    case(put(*_A, 0, "path", value=["/inbox"]), f"{_WHERE}[0].path: expected a string, got a list", "path-type"),
    case(
        put(*_A, 0, "metadata", value={"QUEUE": ["a", "b"]}),
        f"{_WHERE}[0].metadata.QUEUE: expected a string or another scalar value, got a list",
        "metadata-value",
    ),
    case(
        put(*_A, 0, "metadata", value="Q1"),
        f"{_WHERE}[0].metadata: expected a mapping of names to values, got a string",
        "metadata-type",
    ),
    case(
        put(*_A, 0, "params", value={"my param": "x"}),
        f"{_WHERE}[0].params[\"my param\"]: invalid parameter name 'my param'",
        "param-name",
    ),
    case(put("contracts.yaml", "contracts", 0, "actions", value={"a": {}}), "actions: expected a list", "list"),
    case(
        put(*_A, 1, value="ingest"),
        f"{_WHERE}[1]: expected an action (a mapping with 'name', 'on', ...), got a string",
        "action-type",
    ),
    # retry
    case(
        put(*_A, 0, "retry", "max_attempts", value=0),
        f"{_WHERE}[0].retry.max_attempts: expected a whole number from 1 to 100, got 0",
        "retry-attempts-zero",
    ),
    case(
        put(*_A, 0, "retry", "max_attempts", value=101),
        f"{_WHERE}[0].retry.max_attempts: expected a whole number from 1 to 100, got 101",
        "retry-attempts-high",
    ),
    case(
        put(*_A, 0, "retry", "backoff_seconds", value=0),
        f"{_WHERE}[0].retry.backoff_seconds: expected a number of seconds greater than 0, got 0",
        "retry-backoff-zero",
    ),
    case(
        put(*_A, 0, "retry", value={"backoff_seconds": 10, "max_backoff_seconds": 5}),
        f"{_WHERE}[0].retry.max_backoff_seconds: the longest backoff (5s) is shorter than the first one "
        "(backoff_seconds: 10s)",
        "retry-backoff-order",
    ),
    case(
        put(*_A, 0, "retry", value={"backoff_seconds": 600}),
        f"{_WHERE}[0].retry.backoff_seconds: the first backoff (600s) is longer than max_backoff_seconds "
        "(300s, the default). Hint: raise max_backoff_seconds too",
        "retry-backoff-over-default",
    ),
    case(
        put(*_A, 0, "retry", value={"backoff_seconds": -1, "max_backoff_seconds": 1}),
        f"{_WHERE}[0].retry.backoff_seconds: expected a number of seconds greater than 0, got -1",
        "retry-no-cascade",  # the comparison is skipped once a value is wrong
    ),
    case(
        put(*_A, 0, "retry", value={"attempts": 3}),
        f"{_WHERE}[0].retry.attempts: unknown key. Did you mean 'max_attempts'?",
        "retry-key",
    ),
    case(put(*_A, 0, "retry", value=3), f"{_WHERE}[0].retry: expected a mapping, got an integer", "retry-type"),
    # webhook
    case(drop(*_W, "url"), f"{_WHERE}[0].webhook.url: missing required key", "url-missing"),
    case(
        put(*_W, "url", value="ftp://erp.example/in"),
        f"{_WHERE}[0].webhook.url: invalid webhook URL: the scheme must be http or https. Hint: e.g. https://",
        "url-scheme",
    ),
    case(put(*_W, "url", value="erp.example/hook"), "url: invalid webhook URL: the scheme must be", "url-no-scheme"),
    case(
        put(*_W, "url", value="https:///hook"), f"{_WHERE}[0].webhook.url: invalid webhook URL: it has no host", "host"
    ),
    case(put(*_W, "url", value="https://erp.example:99999/"), "url: invalid webhook URL: it cannot be parsed", "port"),
    case(put(*_W, "url", value="https://[::1/"), "url: invalid webhook URL: it cannot be parsed", "url-ipv6"),
    case(put(*_W, "url", value="https://erp.example/a b"), "url: invalid webhook URL: it contains spaces", "space"),
    case(
        put(*_W, "headers", "Authorization", value="Bearer x\r\nX-Evil: 1"),
        f"{_WHERE}[0].webhook.headers.Authorization: the header value contains a line break",
        "header-crlf",
    ),
    case(
        put(*_W, "headers", "Bad Header", value="x"),
        f"{_WHERE}[0].webhook.headers[\"Bad Header\"]: invalid header name 'Bad Header'",
        "header-name",
    ),
    case(
        put(*_W, "headers", "authorization", value="x"),
        f"{_WHERE}[0].webhook.headers.authorization: header 'authorization' is given twice (also as 'Authorization'",
        "header-twice",
    ),
    case(
        put(*_W, "timeout_seconds", value=601),
        f"{_WHERE}[0].webhook.timeout_seconds: expected a number of seconds greater than 0 and at most 600, got 601",
        "webhook-timeout",
    ),
    case(
        put(*_W, "secret", value=""),
        f"{_WHERE}[0].webhook.secret: must not be empty. Hint: leave 'secret' out",
        "secret-empty",
    ),
    case(put(*_W, "secret", value=1234), f"{_WHERE}[0].webhook.secret: expected a string, got an integer", "secret"),
    case(
        put(*_W, "timeout", value=3),
        f"{_WHERE}[0].webhook.timeout: unknown key. Did you mean 'timeout_seconds'?",
        "webhook-key",
    ),
    case(
        put(*_A, 0, "webhook", value="https://erp.example"),
        f"{_WHERE}[0].webhook: expected a mapping, got a string",
        "webhook-type",
    ),
    # command
    case(drop(*_C, "argv"), f"{_WHERE}[1].command.argv: missing required key", "argv-missing"),
    case(put(*_C, "argv", value=[]), f"{_WHERE}[1].command.argv: must not be empty", "argv-empty"),
    case(
        put(*_C, "argv", value="/usr/bin/ingest --all"),
        f"{_WHERE}[1].command.argv: expected a list, got a string",
        "argv-type",
    ),
    case(
        put(*_C, "argv", 0, value="ingest"),
        f"{_WHERE}[1].command.argv[0]: the program must be an absolute path, got 'ingest'",
        "argv-relative",
    ),
    case(
        put(*_C, "argv", 0, value="./ingest"),
        f"{_WHERE}[1].command.argv[0]: the program must be an absolute path, got './ingest'",
        "argv-dot",
    ),
    case(
        put(*_C, "argv", 1, value=3),
        f"{_WHERE}[1].command.argv[1]: expected a string, got an integer. Hint: quote it",
        "argv-item-type",
    ),
    case(
        put(*_C, "argv", 2, value="{paht}"),
        f"{_WHERE}[1].command.argv[2]: unknown placeholder '{{paht}}'. Hint: use one of {{path}}, {{name}},",
        "placeholder-unknown",
    ),
    case(
        put(*_C, "argv", 4, value="--p={param.}"),
        f"{_WHERE}[1].command.argv[4]: unknown placeholder '{{param.}}'",
        "placeholder-param-empty",
    ),
    case(
        put(*_C, "argv", 4, value="--p={param.queue-name}"),
        f"{_WHERE}[1].command.argv[4]: unknown placeholder '{{param.queue-name}}'",
        "placeholder-param-hyphen",  # the runtime would leave it unexpanded
    ),
    case(
        put(*_A, 0, "params", value={"queue-name": "Q1"}),
        f"{_WHERE}[0].params.queue-name: invalid parameter name 'queue-name'. Hint: use letters, digits, '_' and '.'",
        "param-name-hyphen",
    ),
    case(
        put(*_C, "argv", 2, value="{size:08d}"),
        f"{_WHERE}[1].command.argv[2]: unknown placeholder '{{size:08d}}'",
        "placeholder-format-spec",
    ),
    case(
        put(*_C, "argv", 2, value="{path"),
        f"{_WHERE}[1].command.argv[2]: a lone '{{' (not part of a {{placeholder}}). Hint:",
        "placeholder-lone-brace",
    ),
    case(
        put(*_C, "argv", 2, value="a}b"),
        f"{_WHERE}[1].command.argv[2]: a lone '}}' (not part of a {{placeholder}})",
        "placeholder-lone-closing",
    ),
    case(
        put(*_C, "cwd", value="tmp"),
        f"{_WHERE}[1].command.cwd: the working directory must be an absolute path, got 'tmp'",
        "cwd-relative",
    ),
    case(
        put(*_C, "env", "A=B", value="x"),
        f"{_WHERE}[1].command.env[\"A=B\"]: invalid environment variable name 'A=B'",
        "env-name",
    ),
    case(
        put(*_C, "env", value=["MODE=batch"]),
        f"{_WHERE}[1].command.env: expected a mapping of names to values, got a list",
        "env-type",
    ),
    case(
        put(*_C, "timeout_seconds", value=86401),
        f"{_WHERE}[1].command.timeout_seconds: expected a number of seconds greater than 0 and at most 86400",
        "command-timeout",
    ),
    case(
        put(*_C, "max_output_bytes", value="32MiB"),
        f"{_WHERE}[1].command.max_output_bytes: at most 16MiB (16777216 bytes) is kept, got 33554432 bytes",
        "output-too-big",
    ),
    case(
        put(*_C, "max_output_bytes", value="lots"),
        f"{_WHERE}[1].command.max_output_bytes: invalid size 'lots'. Hint:",
        "output-invalid",
    ),
    case(put(*_C, "args", value=[]), f"{_WHERE}[1].command.args: unknown key. Did you mean 'argv'?", "command-key"),
    # route
    case(
        put(*_R, "vfs", value="nowhere"),
        f"{_WHERE}[2].route.vfs: unknown VFS 'nowhere'. Hint: known VFSs are: partners, internal",
        "route-vfs",
    ),
    case(drop(*_R, "vfs"), f"{_WHERE}[2].route.vfs: missing required key", "route-vfs-missing"),
    case(
        put(*_R, value={"vfs": "partners", "path": "/in"}),
        f"{_WHERE}[2].route.path: '/in' is not a folder of VFS 'partners'. "
        "Hint: its folders are: /, /inbox, /inbox/archive, /outbox",
        "route-folder",
    ),
    case(drop(*_R, "path"), f"{_WHERE}[2].route.path: missing required key", "route-path-missing"),
    case(put(*_R, "path", value="/a/../b"), f"{_WHERE}[2].route.path: invalid path '/a/../b'", "route-path-invalid"),
    case(
        put(*_R, "mode", value="link"),
        f"{_WHERE}[2].route.mode: unknown mode 'link'. Hint: choose one of: copy, move",
        "route-mode",
    ),
    case(put(*_R, "mod", value="move"), f"{_WHERE}[2].route.mod: unknown key. Did you mean 'mode'?", "route-key"),
    case(
        both(put("vfs.yaml", "vfs", value=["partners"]), put(*_R, "vfs", value="nowhere")),
        "vfs.yaml: vfs: expected a mapping of VFS names, got a list",
        "route-vfs-file-broken",  # alone: references into an unusable vfs.yaml are not checked
    ),
]


@pytest.mark.parametrize(("mutator", "expected", "count"), BROKEN)
def test_load_config_broken_action_reports_file_and_key(
    tmp_path: Path, mutator: Mutator, expected: str, count: int
) -> None:
    config_dir = _configure(tmp_path, _with_actions, mutator)
    errors = collect_errors(config_dir, tmp_path)
    assert any(expected in error for error in errors), errors
    assert len(errors) == count, errors
    with pytest.raises(ConfigurationError) as info:
        load_config(config_dir, tmp_path)
    assert info.value.message.splitlines() == errors


def test_load_config_action_problems_never_show_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GW_TEST_UNSET", raising=False)
    errors = _errors(
        tmp_path,
        put(*_W, "url", value="https://user:SECRET-1@/hook?token=SECRET-1"),
        put(*_W, "headers", value={"Authorization": "Bearer SECRET-2\nX: y", "Bad Name": "SECRET-3"}),
        put(*_W, "secret", value="${GW_TEST_UNSET}"),
        put(*_W, "timeout_seconds", value=0),
        put(*_C, "env", value={"TOKEN": "SECRET-4\0", "=": "SECRET-5"}),
        put(*_C, "argv", 1, value="--token=SECRET-6{bad}"),
        put(*_A, 2, "webhook", value={"url": "https://erp.example", "secret": "SECRET-7"}),
    )
    assert len(errors) == 9, errors
    assert not [error for error in errors if "SECRET" in error]
