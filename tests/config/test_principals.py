"""actors.yaml roles, scopes, service accounts and valid_until; oauth-clients.yaml."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gateway.config.loader import collect_errors, load_config
from tests.config.test_loader import HASH, Mutator, _configure, put

A = "actors.yaml"
C = "oauth-clients.yaml"


def _public_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def _service(name: str = "svc", **body: object) -> Mutator:
    return put(A, "actors", "Acme", "service_accounts", value={name: {"roles": ["partner"], **body}})


def _clients(**clients: object) -> Mutator:
    def mutate(config: dict[str, object]) -> None:
        config[C] = {"clients": clients}

    return mutate


def _problems(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *mutators: Mutator) -> list[str]:
    folder = _configure(tmp_path, *mutators)
    monkeypatch.chdir(folder)  # problems then name the files as the operator sees them
    return collect_errors(folder, tmp_path)


def test_user_without_roles_is_a_partner_with_file_scopes(tmp_path: Path) -> None:
    user = load_config(_configure(tmp_path), tmp_path).users["jdoe"]
    assert user.roles == {"partner"} and user.scopes == {"files:read", "files:write"} and not user.service


def test_user_admin_true_has_the_admin_role_and_every_scope(tmp_path: Path) -> None:
    config = load_config(
        _configure(tmp_path, put(A, "actors", "Partner5", "users", "jdoe", "admin", value=True)), tmp_path
    )
    assert config.users["jdoe"].roles == {"partner", "admin"}
    assert "keys:manage" in config.users["jdoe"].scopes and config.users["jdoe"].admin


def test_operator_service_account_may_run_automation_but_not_manage_keys(tmp_path: Path) -> None:
    config = load_config(_configure(tmp_path, _service("bot", roles=["operator"])), tmp_path)
    bot = config.users["bot"]
    jobs = "api.rest.automation-services-job.execute"  # seed 004's scope (issue 12) is automation too
    assert bot.service and bot.password_hash == "" and bot.scopes == {"runs:read", "runs:write", jobs}


def test_scopes_narrow_the_roles(tmp_path: Path) -> None:
    config = load_config(_configure(tmp_path, _service(scopes=["files:read"])), tmp_path)
    assert config.users["svc"].scopes == {"files:read"}


@pytest.mark.parametrize(
    ("mutator", "problem"),
    [
        (
            _service(scopes=["keys:manage"]),
            "actors.yaml: actors.Acme.service_accounts.svc.scopes[0]: scope 'keys:manage' is not granted by the "
            "roles partner. Hint: those roles allow: files:read, files:write",
        ),
        (
            _service(roles=["root"]),
            "actors.yaml: actors.Acme.service_accounts.svc.roles[0]: unknown role 'root'. "
            "Hint: choose one of: admin, operator, partner",
        ),
        (
            put(A, "actors", "Acme", "service_accounts", value={"svc": {}}),
            "actors.yaml: actors.Acme.service_accounts.svc.roles: missing required key. "
            "Hint: a service account needs roles, from: admin, operator, partner",
        ),
        (
            _service(password_hash=HASH),
            "actors.yaml: actors.Acme.service_accounts.svc.password_hash: unknown key. "
            "Hint: allowed keys are: enabled, groups, roles, scopes",
        ),
        (
            put(A, "actors", "Acme", "valid_until", value="next year"),
            "actors.yaml: actors.Acme.valid_until: expected an ISO 8601 date or date-time "
            "(2027-06-30 or 2027-06-30T18:00:00Z), got a string",
        ),
    ],
)
def test_principal_mistakes_are_reported_with_file_and_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mutator: Mutator, problem: str
) -> None:
    assert _problems(tmp_path, monkeypatch, mutator) == [problem]


def test_valid_until_date_holds_through_that_whole_day_utc(tmp_path: Path) -> None:
    config = load_config(_configure(tmp_path, put(A, "actors", "Acme", "valid_until", value="2027-06-30")), tmp_path)
    end = datetime.datetime(2027, 7, 1, tzinfo=datetime.UTC)
    assert config.actors["Acme"].valid_until == int(end.timestamp() * 1_000_000)
    assert config.actors["Partner5"].valid_until is None


def test_oauth_clients_file_is_optional_and_parsed(tmp_path: Path) -> None:
    assert load_config(_configure(tmp_path), tmp_path).oauth_clients == {}
    pem = _public_pem(ec.generate_private_key(ec.SECP256R1()))
    clients = _clients(
        batch={"principal": "svc", "scopes": ["files:read"], "secret_hash": HASH},
        signer={
            "principal": "svc",
            "scopes": ["files:write"],
            "keys": [{"kid": "k1", "alg": "ES256", "public_key": pem}],
        },
    )
    config = load_config(_configure(tmp_path, _service(), clients), tmp_path)
    assert config.oauth_clients["batch"].scopes == {"files:read"} and config.oauth_clients["batch"].principal == "svc"
    assert [(k.kid, k.alg) for k in config.oauth_clients["signer"].keys] == [("k1", "ES256")]


@pytest.mark.parametrize(
    ("client", "problem"),
    [
        (
            {"principal": "nobody", "scopes": [], "secret_hash": HASH},
            "oauth-clients.yaml: clients.c.principal: unknown user or service account 'nobody'. Hint: known "
            "principals are: jdoe, part1, acme-app, svc",
        ),
        (
            {"principal": "svc", "scopes": ["runs:read"], "secret_hash": HASH},
            "oauth-clients.yaml: clients.c.scopes[0]: scope 'runs:read' is not held by 'svc'. "
            "Hint: it holds: files:read, files:write",
        ),
        (
            {"principal": "svc", "scopes": ["files:read"]},
            "oauth-clients.yaml: clients.c: the client has no way to authenticate. "
            "Hint: give it a secret_hash or keys (or both)",
        ),
        (
            {"principal": "svc", "scopes": ["files:read"], "secret_hash": "plain"},
            "oauth-clients.yaml: clients.c.secret_hash: not an argon2 hash (it must start with '$argon2'). "
            "Hint: run `mft-gateway hash-password`",
        ),
        (
            {"principal": "svc", "scopes": ["files:read"], "keys": [{"kid": "k", "alg": "ES256", "public_key": "x"}]},
            "oauth-clients.yaml: clients.c.keys[0].public_key: not a PEM public key (-----BEGIN PUBLIC KEY-----)",
        ),
    ],
)
def test_oauth_client_mistakes_are_reported_with_file_and_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, client: dict[str, object], problem: str
) -> None:
    assert _problems(tmp_path, monkeypatch, _service(), _clients(c=client)) == [problem]


def test_oauth_client_key_must_fit_its_algorithm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pem = _public_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    client = {"principal": "svc", "scopes": ["files:read"], "keys": [{"kid": "k", "alg": "ES256", "public_key": pem}]}
    assert _problems(tmp_path, monkeypatch, _service(), _clients(c=client)) == [
        "oauth-clients.yaml: clients.c.keys[0].public_key: ES256 needs an EC P-256 key"
    ]
