"""``mft-gateway``: serve | check-config | hash-password | migrate | api-key | agent."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from pathlib import Path

from gateway import __version__


def _serve(args: argparse.Namespace) -> int:
    from gateway import logsetup, serve
    from gateway.config.loader import load_config
    from gateway.errors import ConfigurationError
    from gateway.settings import Settings

    settings = Settings.from_env(
        config_dir=args.config,
        data_dir=args.data_dir,
        database_url=args.database_url,
        host=args.host,
        port=args.port,
        tls_certfile=args.tls_cert,
        tls_keyfile=args.tls_key,
        log_level=args.log_level,
    )
    logsetup.configure(settings.log_level)
    try:
        config = load_config(settings.config_dir, settings.data_dir)
    except ConfigurationError as exc:
        print(exc.message, file=sys.stderr)
        return 2
    if (settings.tls_certfile is None) != (settings.tls_keyfile is None):
        print("--tls-cert and --tls-key go together", file=sys.stderr)
        return 2
    http_server = args.http_server or config.server.http_server
    workers = args.workers or config.server.workers
    scheme = "https" if settings.tls_certfile else "http"

    def listening(port: object) -> str:
        how = f"{http_server}, {workers} workers" if workers > 1 else http_server
        return f"mft-gateway {__version__} listening on {scheme}://{settings.host}:{port} ({how})"

    def announce(port: int) -> None:
        if args.port_file:
            Path(args.port_file).write_text(f"{port}\n")
        print(listening(port), file=sys.stderr, flush=True)

    try:
        # With workers, this socket only reserves the port: each worker listens on its own.
        sock = serve.bind(settings.host, settings.port, reuse_port=workers > 1)
        if workers == 1:
            sock.listen(serve.BACKLOG)
    except OSError as exc:
        print(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    if workers > 1:
        from gateway.workers import SupervisorArgs, exec_supervisor

        line = listening("{port}")  # the supervisor fills in the port once every worker listens
        exec_supervisor(SupervisorArgs(settings, http_server, workers, sock.fileno(), args.port_file, line), sock)
    from gateway.app import create_app

    app = create_app(settings)
    announce(sock.getsockname()[1])
    run = serve.run_granian if http_server == "granian" else serve.run_uvicorn
    run(app, sock, settings, config.server)
    return 0


def _check_config(args: argparse.Namespace) -> int:
    from gateway.config.loader import collect_errors

    problems = collect_errors(Path(args.directory), Path(args.data_dir))
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s) found", file=sys.stderr)
        return 1
    print(f"{args.directory}: configuration is valid")
    return 0


def _hash_password(args: argparse.Namespace) -> int:
    from gateway.catalog.passwords import hash_password

    if args.stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Again: "):
            print("passwords differ", file=sys.stderr)
            return 1
    if not password:
        print("empty password", file=sys.stderr)
        return 1
    print(hash_password(password))
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from gateway.catalog.db import Database
    from gateway.settings import Settings

    settings = Settings.from_env(data_dir=args.data_dir, database_url=args.database_url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)

    async def run() -> None:
        db = Database(settings.catalog_url)
        try:
            await db.migrate()
        finally:
            await db.dispose()

    asyncio.run(run())
    print("catalog schema is up to date")
    return 0


def _worker_count(text: str) -> int:
    from gateway.config.schema import MAX_WORKERS, auto_workers

    if text == "auto":
        return auto_workers()
    if not text.isdigit() or not 1 <= int(text) <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a whole number from 1 to {MAX_WORKERS}, got {text!r}")
    return int(text)


def parser() -> argparse.ArgumentParser:
    from gateway.config.schema import HTTP_SERVERS, MAX_WORKERS

    p = argparse.ArgumentParser(prog="mft-gateway", description="HTTP managed-file-transfer gateway (/2.0 API)")
    p.add_argument("--version", action="version", version=__version__)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="run the gateway (uvicorn or granian, uvloop)")
    s.add_argument("--config", type=Path, help="configuration folder (GATEWAY_CONFIG_DIR, default vfs-config)")
    s.add_argument("--data-dir", type=Path, help="catalog and default storage (GATEWAY_DATA_DIR, default data)")
    s.add_argument("--database-url", help="catalog DSN, e.g. postgresql://... (GATEWAY_DATABASE_URL)")
    s.add_argument("--host", help="address to bind (GATEWAY_HOST, default 127.0.0.1)")
    s.add_argument("--port", type=int, help="port to bind, 0 = any free one (GATEWAY_PORT, default 8080)")
    s.add_argument("--port-file", help="write the bound port to this file once listening")
    s.add_argument("--tls-cert", type=Path, help="PEM certificate chain: serve https")
    s.add_argument("--tls-key", type=Path, help="PEM private key for --tls-cert")
    s.add_argument("--log-level", choices=["critical", "error", "warning", "info", "debug"])
    s.add_argument("--http-server", choices=HTTP_SERVERS, help="ASGI server (default: gateway.yaml server.http_server)")
    s.add_argument(
        "--workers",
        type=_worker_count,
        help=f"processes serving the port: 1-{MAX_WORKERS}, or auto (one per CPU); default: server.workers",
    )
    s.set_defaults(func=_serve)
    c = sub.add_parser("check-config", help="validate a configuration folder and print every problem")
    c.add_argument("directory")
    c.add_argument("--data-dir", default="data", help="resolves relative storage roots (default data)")
    c.set_defaults(func=_check_config)
    h = sub.add_parser("hash-password", help="print an argon2id hash to put in actors.yaml")
    h.add_argument("--stdin", action="store_true", help="read the password from standard input")
    h.set_defaults(func=_hash_password)
    m = sub.add_parser("migrate", help="bring the catalog schema up to date (serve does this too)")
    m.add_argument("--data-dir", type=Path)
    m.add_argument("--database-url")
    m.set_defaults(func=_migrate)
    from gateway import cli_keys

    cli_keys.add_parser(sub)
    # i13c: the transfer agent a partner runs next to its systems (gateway/agent/)
    from gateway.agent import options as agent_options

    agent_options.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.func(args))
